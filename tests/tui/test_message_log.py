"""The log widget on its own: bounded scrollback, rendering only what is
visible, re-wrapping on resize, following the bottom, and redrawing an entry
whose mark changed."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.widgets import Static

from conexion_tui.client import SendStatus
from conexion_tui.entries import Entry, Kind
from conexion_tui.widgets import MessageLog
from tests.tui.conftest import FixedClock


class LogApp(App[None]):
    CSS = "MessageLog { height: 1fr; scrollbar-gutter: stable; overflow-x: hidden; }"

    def __init__(self, scrollback: int = 100_000, cache_size: int = 512) -> None:
        super().__init__()
        self.scrollback = scrollback
        self.cache_size = cache_size

    def compose(self) -> ComposeResult:
        yield MessageLog(id="log", scrollback=self.scrollback, cache_size=self.cache_size)

    @property
    def log_view(self) -> MessageLog:
        return self.query_one(MessageLog)


def chat(n: int, text: str = "message") -> Entry:
    return Entry(Kind.CHAT, "12:00", f"{text} {n}", name=f"user{n % 7}")


def consistent(log: MessageLog) -> bool:
    """Heights and line starts agree with what each entry renders to."""
    total = 0
    for index, entry in enumerate(log.entries):
        assert log._starts[index] == total
        total += len(log._strips(entry))
        assert log._heights[index] == len(log._strips(entry))
    return total == log.line_count


async def test_scrollback_is_bounded_and_keeps_the_newest() -> None:
    app = LogApp(scrollback=1000)
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.log_view
        log.extend(chat(n) for n in range(1500))
        await pilot.pause()
        assert len(log.entries) <= 1000 + log._prune_slack
        assert log.entries[-1].text == "message 1499"
        assert log.entries[0].text != "message 0"
        assert consistent(log)
        assert log.is_vertical_scroll_end


async def test_a_hundred_thousand_entries_render_only_the_visible_rows() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.log_view
        started = time.perf_counter()
        for chunk in range(100):
            log.extend(chat(chunk * 1000 + n) for n in range(1000))
        added = time.perf_counter() - started
        await pilot.pause()
        assert len(log.entries) == 100_000
        assert log.line_count == 100_000
        # Only the rows on screen were ever rendered.
        assert len(log._cache) <= 30
        assert "message 99999" in log.render_line(log.size.height - 1).text
        log.scroll_to(y=50_000, animate=False)
        await pilot.pause()
        assert "message 50000" in log.render_line(0).text
        assert added < 20  # a generous bound; bench/tui_bench.py measures it


async def test_resize_rewraps_and_keeps_heights_consistent() -> None:
    app = LogApp()
    async with app.run_test(size=(100, 20)) as pilot:
        log = app.log_view
        log.extend(chat(n, "word " * 30) for n in range(50))
        await pilot.pause()
        wide = log.line_count
        assert consistent(log)
        await pilot.resize_terminal(50, 20)
        await pilot.pause()
        assert log.line_count > wide
        assert consistent(log)
        assert log.is_vertical_scroll_end  # still following the newest


async def test_following_the_bottom_and_staying_put_when_scrolled_up() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        log = app.log_view
        log.extend(chat(n) for n in range(100))
        await pilot.pause()
        assert log.is_vertical_scroll_end
        log.scroll_to(y=10, animate=False)
        await pilot.pause()
        log.extend(chat(n) for n in range(100, 105))
        await pilot.pause()
        assert log.scroll_y == 10  # reading history is not interrupted
        assert log.unread == 5
        log.scroll_to_live()
        await pilot.pause()
        assert log.unread == 0


async def test_page_keys_work_before_the_layout_catches_up() -> None:
    # A log that has just grown past the view is not scrollable for Textual
    # until its next layout; Page Up pressed in that moment must still scroll.
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        log = app.log_view
        await pilot.pause()
        log.extend(chat(n) for n in range(40))
        log.page_up()  # no pause: no layout in between
        assert log.scroll_y == log.max_scroll_y - log.scrollable_content_region.height
        log.page_down()
        assert log.scroll_y == log.max_scroll_y
        await pilot.pause()
        assert log.is_vertical_scroll_end


async def test_touch_redraws_an_entry_and_its_new_height() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.log_view
        mine = Entry(Kind.CHAT, "12:00", "hola", name="ana", own=True, status=SendStatus.PENDING)
        log.extend([chat(1), mine, chat(2)])
        await pilot.pause()
        assert "ana: hola …" in "\n".join(log.rendered_lines())
        mine.status = SendStatus.FAILED
        mine.reason = "rate_limited: too many messages; the limit is 1 a second"
        log.touch(mine)
        await pilot.pause()
        lines = log.rendered_lines()
        assert any("hola ✗ not sent" in line for line in lines)
        assert log.line_count > 3
        assert consistent(log)


async def test_clear_empties_everything() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.log_view
        log.extend(chat(n) for n in range(20))
        await pilot.pause()
        log.clear()
        await pilot.pause()
        assert log.entries == []
        assert log.line_count == 0
        assert log.render_line(0).text.strip() == ""


# -- days -------------------------------------------------------------------------


def local(day: int, hour: int, month: int = 11, year: int = 2026) -> float:
    return time.mktime((year, month, day, hour, 0, 0, 0, 0, -1))


class DayLogApp(LogApp):
    def __init__(self, clock: FixedClock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield MessageLog(id="log", scrollback=1000, cache_size=64, clock=self.clock)


def said(text: str, at: float) -> Entry:
    return Entry(Kind.CHAT, "12:00", text, name="bob", at=at)


def separators(log: MessageLog) -> list[str]:
    return [line.strip("─ ") for line in log.rendered_lines() if line.startswith("──")]


async def test_day_separators_name_each_day_and_today_needs_none_alone() -> None:
    clock = FixedClock()
    clock.stop_at(local(26, 12))  # Thursday 26 November 2026
    app = DayLogApp(clock)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_view
        log.extend([said("today, alone", local(26, 9))])
        await pilot.pause()
        assert separators(log) == []  # a log of today only: nothing to tell apart
        log.clear()
        log.extend(
            [
                said("last week", local(19, 10)),
                said("on tuesday", local(24, 10)),
                said("also tuesday", local(24, 18)),
                said("yesterday", local(25, 9)),
                said("today", local(26, 11)),
            ]
        )
        await pilot.pause()
        assert separators(log) == [
            "Thursday 19 November",
            "Tuesday 24 November",
            "Yesterday",
            "Today",
        ]
        first = log.rendered_lines()[0]
        assert first.startswith("───")
        assert first.endswith("───")
        assert " Thursday 19 November " in first
        log.add(said("later today", local(26, 11)))
        assert len(separators(log)) == 4
        # Midnight: the names move on.
        clock.advance(24 * 3600)
        log.relabel_days()
        assert separators(log)[-2:] == ["Wednesday 25 November", "Yesterday"]
        clock.advance(400 * 24 * 3600)
        log.relabel_days()
        assert separators(log)[0] == "Thursday 19 November 2026"


async def test_an_older_page_gets_its_days_and_today_gets_its_name() -> None:
    clock = FixedClock()
    clock.stop_at(local(26, 12))
    app = DayLogApp(clock)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_view
        log.extend([said("today", local(26, 11))])
        log.prepend([said("monday", local(23, 10)), said("tuesday", local(24, 10))])
        await pilot.pause()
        assert separators(log) == ["Monday 23 November", "Tuesday 24 November", "Today"]
        log.prepend([said("earlier on monday", local(23, 8))])
        assert separators(log) == ["Monday 23 November", "Tuesday 24 November", "Today"]
        texts = [e.text for e in log.entries if e.kind is Kind.CHAT]
        assert texts == ["earlier on monday", "monday", "tuesday", "today"]


async def test_the_tooltip_of_a_line_is_its_full_date_and_time() -> None:
    clock = FixedClock()
    clock.stop_at(local(26, 12))
    app = DayLogApp(clock)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_view
        log.extend([said("yesterday", local(25, 9)), said("today", local(26, 11))])
        await pilot.pause()
        lines = log.rendered_lines()
        row = lines.index(next(line for line in lines if "today" in line and "bob" in line))
        pad = log._pad()  # the short log sits at the bottom
        await pilot.hover("#log", offset=(5, pad + row))
        assert log.tooltip == "Thursday 26 November 2026, 11:00:00"
        await pilot.hover("#log", offset=(5, pad + 1))
        assert log.tooltip == "Wednesday 25 November 2026, 09:00:00"


async def test_a_short_log_sits_at_the_bottom_above_the_input() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_view
        log.extend([chat(1), chat(2)])
        await pilot.pause()
        height = log.scrollable_content_region.height
        rows = [log.render_line(y).text.rstrip() for y in range(height)]
        assert rows[-2:] == ["12:00 user1: message 1", "12:00 user2: message 2"]
        assert all(not row for row in rows[:-2])
        log.extend(chat(n) for n in range(3, 40))  # longer than the view: as before
        await pilot.pause()
        rows = [log.render_line(y).text.rstrip() for y in range(height)]
        assert rows[-1] == "12:00 user4: message 39"
        assert all(rows)


class ShrinkingLogApp(LogApp):
    CSS = LogApp.CSS + " #below { height: 8; display: none; } #below.-shown { display: block; }"

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("a notice", id="below")


async def test_a_log_that_gets_shorter_keeps_its_newest_lines_in_view() -> None:
    app = ShrinkingLogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_view
        log.extend(chat(n) for n in range(40))
        await pilot.pause()
        assert log.is_vertical_scroll_end
        app.query_one("#below").set_class(True, "-shown")  # the log loses 8 rows
        await pilot.pause()
        await pilot.pause()
        assert log.is_vertical_scroll_end
        height = log.scrollable_content_region.height
        assert log.render_line(height - 1).text.rstrip().endswith("message 39")
