"""The selectable log on its own: moving over messages only, the ends, a click, the highlight."""

from __future__ import annotations

from textual.app import App, ComposeResult

from conexion_tui.entries import Entry, Kind
from conexion_tui.widgets.action_log import ActionLog


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ActionLog(scrollback=1000, cache_size=100)


def entries() -> list[Entry]:
    made = []
    for n in range(30):
        if n % 3 == 0:
            made.append(Entry(Kind.SYSTEM, "12:34", f"notice {n}"))
        else:
            made.append(Entry(Kind.CHAT, "12:34", f"message {n}", name="bob", seq=100 + n))
    return made


async def test_moving_skips_what_is_not_a_message_and_stops_at_the_ends() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(ActionLog)
        log.extend(entries())
        await pilot.pause()
        assert log.move(-1).text == "message 29"
        assert log.move(-1).text == "message 28"
        assert log.move(-1).text == "message 26"  # over "notice 27"
        assert log.move(-3).text == "message 22"
        assert log.move(1).text == "message 23"
        log.select(None)
        assert log.move(1).text == "message 1"  # from the top when going down
        assert log.move(-5).text == "message 1"  # the first stays
        top = log.scroll_y
        assert log.move(1000).text == "message 29"
        assert log.scroll_y > top  # brought into view
        # The selected row is drawn highlighted across the whole width.
        y = log._starts[log._index_of(log.selected)] - int(log.scroll_y)
        strip = log.render_line(y)
        assert strip.cell_length == log.size.width
        assert {seg.style.bgcolor for seg in strip if seg.style} != {None}


async def test_a_click_on_a_notice_selects_nothing() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(ActionLog)
        log.extend(entries()[:3])
        await pilot.pause()
        await pilot.click(ActionLog, offset=(5, 0))
        assert log.selected is None
        await pilot.click(ActionLog, offset=(5, 1))
        assert log.selected is not None
        assert log.selected.text == "message 1"
        assert app.focused is log
