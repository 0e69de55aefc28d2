"""Scrolling to the top of the log loads older messages from a real server
with durable history: prepended without moving the view, each message once,
and "beginning of history" when none are left."""

from __future__ import annotations

import re

from conexion_tui.config import UiConfig
from conexion_tui.conversation import dm_key, room_key
from tests.peers import JsonPeer
from tests.tui.conftest import has_line, joined, log_lines, make_app, running, wait_for

TOTAL = 230  # more than the welcome's 50 and more than two pages of 80


def shown_numbers(app) -> list[int]:
    """The n of every "m<n>" message line, top to bottom."""
    found = []
    for line in log_lines(app):
        match = re.search(r"bob: m(\d+)$", line)
        if match:
            found.append(int(match.group(1)))
    return found


async def test_scrolling_to_the_top_loads_older_pages_until_the_beginning(
    make_server, connect, tmp_path
) -> None:
    server = await make_server(db=str(tmp_path / "h.db"), rate=1000.0, burst=1000)
    bob: JsonPeer = await connect(server, "bob")
    for i in range(TOTAL):
        await bob.send(type="say", id=f"k{i}", text=f"m{i}")
    for _ in range(TOTAL):
        await bob.expect("ack")

    app = make_app(server.port, ui=UiConfig(history_page=80))
    async with running(app, size=(80, 24)) as pilot:
        screen = await joined(pilot)
        log = screen.log_view
        assert shown_numbers(app) == list(range(TOTAL - 50, TOTAL))

        presses = 0
        while not has_line(app, "beginning of history"):
            at_top = log.scroll_y == 0
            top = log.entries[log._entry_at(int(log.scroll_y))]
            count = len(log.entries)
            await pilot.press("pageup")
            if at_top:
                # At the top PageUp asks for the page before; it is added
                # above without moving the view: the same entry stays on top.
                await wait_for(pilot, lambda n=count: len(log.entries) > n, what="older page")
                assert log.entries[log._entry_at(int(log.scroll_y))] is top
            presses += 1
            assert presses <= 100, "paging did not end"

        assert shown_numbers(app) == list(range(TOTAL))
        assert "beginning of history" in log_lines(app)[0]
        # Nothing more is asked for once the beginning is known.
        count = len(log.entries)
        await pilot.press("pageup")
        await pilot.pause(0.1)
        assert len(log.entries) == count


async def test_prepending_keeps_the_same_line_at_the_top_of_the_view(make_server) -> None:
    server = await make_server()
    app = make_app(server.port)
    async with running(app, size=(80, 24)) as pilot:
        screen = await joined(pilot)
        log = screen.log_view
        log.extend([screen._system(f"line {i}") for i in range(60)])
        await pilot.pause()
        log.scroll_to(y=10, animate=False, force=True)
        await pilot.pause()
        top_before = log_lines(app)[int(log.scroll_y)]
        log.prepend([screen._system(f"older {i}") for i in range(7)])
        await pilot.pause()
        assert log.scroll_y == 17
        assert log_lines(app)[int(log.scroll_y)] == top_before


async def test_stored_dms_show_in_the_welcome_history_both_ways(make_server, connect, tmp_path):
    server = await make_server(db=str(tmp_path / "h.db"), rate=1000.0, burst=1000)
    bob: JsonPeer = await connect(server, "bob")
    ana: JsonPeer = await connect(server, "ana")
    await bob.send(type="dm", id="d1", to="ana", text="psst")
    await bob.expect("ack")
    await ana.expect("dm")
    await ana.send(type="dm", id="d2", to="bob", text="got it")
    await ana.expect("ack")
    await bob.expect("dm")
    await bob.send(type="dm", id="d3", to="bob", text="note to self")  # not ana's
    await bob.expect("ack")
    await bob.expect("dm")
    await ana.close()
    await bob.expect("left")  # the name is free again before the app takes it

    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        # In the conversation with bob, not in #general; bob's note to himself nowhere.
        bob = dm_key("bob")
        assert list(screen.channels) == [room_key("general"), bob]
        assert has_line(app, "← bob: psst", bob)
        assert has_line(app, "→ bob: got it", bob)
        assert not has_line(app, "psst")
        assert not has_line(app, "note to self", bob)
