"""SVG snapshots of the screens (pytest-textual-snapshot). Times come from a
fixed clock and pings are off, so the pictures are the same on every run.

`snap_compare` runs the app in its own event loop, so the chat snapshots use
a real server in a background thread and raw peers on that server's loop.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update`, then look
at the SVGs before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from conexion_tui.messages import JoinFailed
from conexion_tui.widgets import ChatHeader, ChatInput
from tests.peers import JsonPeer
from tests.tui.conftest import ThreadedServer, has_line, joined, make_app, send_line, wait_for

SHOWN_ADDRESS = "127.0.0.1:8000"  # the real port is ephemeral; the header shows this


def test_start_screen(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="ana")
    assert snap_compare(app, terminal_size=(80, 24))


def test_start_screen_with_a_name_error(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="bob")

    async def run_before(pilot: Pilot[Any]) -> None:
        # The message the worker posts when the server answers name_taken.
        pilot.app.post_message(JoinFailed("name_taken", "the name bob is taken"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_start_screen_asking_for_a_password(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        # What the worker posts when the server answers bad_password; then a
        # password is typed: the field shows only bullets.
        pilot.app.post_message(JoinFailed("bad_password", "this server asks for a password"))
        await pilot.pause()
        await pilot.press(*"secret")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(100, 28), (60, 20)], ids=["wide", "narrow"])
def test_chat_screen(snap_compare, threaded_server: ThreadedServer, size) -> None:
    port = threaded_server.port
    run = threaded_server.call

    async def seed() -> JsonPeer:
        carol = await JsonPeer.connect(port)
        await carol.hello("carol")
        await carol.say("good morning, everyone")
        await carol.say("standup is at 10")
        await carol.close()
        bob = await JsonPeer.connect(port)
        await bob.hello("bob")
        return bob

    bob = run(seed())
    app = make_app(port, "ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        await threaded_server.run(bob.say("hi ana! [red]this is not red[/red]"))
        await threaded_server.run(bob.say("waves", action=True))
        await wait_for(pilot, lambda: has_line(pilot.app, "* bob waves"))
        await send_line(pilot, "hello bob 🎉 李雷")
        await wait_for(pilot, lambda: has_line(pilot.app, "李雷 ✓"))
        await threaded_server.run(bob.send(type="dm", id="d1", to="ana", text="psst, a secret"))
        await wait_for(pilot, lambda: has_line(pilot.app, "← bob: psst"))
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        run(bob.close())
