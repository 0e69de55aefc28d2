"""The message box: Tab completion of names and commands, Up/Down history,
multi-line messages, and keeping up while a peer floods."""

from __future__ import annotations

import time

from conexion_tui.config import UiConfig
from conexion_tui.widgets import ChatInput
from tests.peers import JsonPeer
from tests.tui.conftest import (
    has_line,
    joined,
    log_text,
    make_app,
    running,
    send_line,
    type_line,
    wait_for,
)


def box(app) -> ChatInput:
    return app.screen.query_one("#input", ChatInput)


async def test_tab_completes_names_and_cycles(server, peers) -> None:
    await peers("bob")
    await peers("Bernardo")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await wait_for(pilot, lambda: len(app.screen.query_one("#users").names) == 3)
        await type_line(pilot, "be", enter=False)
        await pilot.press("tab")
        assert box(app).text == "Bernardo: "
        await pilot.press("ctrl+u")  # clear the line
        box(app).load_text("")
        await type_line(pilot, "hi B", enter=False)
        await pilot.press("tab")
        assert box(app).text == "hi Bernardo "
        await pilot.press("tab")
        assert box(app).text == "hi bob "
        await pilot.press("tab")
        assert box(app).text == "hi Bernardo "
        box(app).load_text("")
        await type_line(pilot, "/msg b", enter=False)
        await pilot.press("tab")
        assert box(app).text == "/msg Bernardo "
        box(app).load_text("")
        await type_line(pilot, "zz", enter=False)
        await pilot.press("tab")
        assert box(app).text == "zz"  # nothing fits: nothing changes
        assert app.bells == 1
        assert box(app).has_focus  # Tab did not move the focus away


async def test_tab_completes_commands(server) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/ni", enter=False)
        await pilot.press("tab")
        assert box(app).text == "/nick "
        box(app).load_text("")
        await type_line(pilot, "/m", enter=False)
        await pilot.press("tab")
        first = box(app).text
        await pilot.press("tab")
        assert {first, box(app).text} == {"/msg ", "/me "}
        box(app).load_text("")
        await type_line(pilot, "/WH", enter=False)
        await pilot.press("tab")
        assert box(app).text == "/who "


async def test_up_and_down_walk_the_history(server) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "one")
        await type_line(pilot, "two")
        await wait_for(pilot, lambda: has_line(app, "ana: two ✓"))
        assert box(app).text == ""
        await type_line(pilot, "draft", enter=False)
        await pilot.press("up")
        assert box(app).text == "two"
        await pilot.press("up")
        assert box(app).text == "one"
        await pilot.press("up")
        assert box(app).text == "one"  # the oldest stays
        await pilot.press("down")
        assert box(app).text == "two"
        await pilot.press("down")
        assert box(app).text == "draft"  # back to what was being typed
        await pilot.press("up", "enter")  # send "two" again
        await wait_for(pilot, lambda: log_text(app).count("ana: two ✓") == 2)
        assert box(app).sent_history == ["one", "two"]  # no repeated entry


async def test_multiline_message_with_ctrl_j(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "first line\nsecond line")
        got = await bob.expect("message")
        assert got["text"] == "first line\nsecond line"
        await wait_for(pilot, lambda: has_line(app, "second line ✓"))
        assert has_line(app, "ana: first line")
        # Up inside a multi-line text moves the cursor, then walks history.
        await pilot.press("up")
        assert box(app).text == "first line\nsecond line"
        assert box(app).cursor_location[0] == 1
        await pilot.press("up")
        assert box(app).cursor_location[0] == 0
        assert box(app).text == "first line\nsecond line"


async def test_typing_stays_responsive_during_a_flood(make_server) -> None:
    server = await make_server(rate=100_000, burst=100_000)
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        flooder = await JsonPeer.connect(server.port)
        await flooder.hello("flood")
        payload = b"".join(
            b'{"type":"say","id":"f%d","text":"flood message number %d"}\n' % (n, n)
            for n in range(5000)
        )
        flooder.writer.write(payload)
        started = time.monotonic()
        await type_line(pilot, "typed during the flood", enter=False)
        typed = time.monotonic() - started
        assert box(app).text == "typed during the flood"
        await wait_for(pilot, lambda: has_line(app, "flood message number 4999"), timeout=20)
        assert typed < 10  # generous: the point is that keys are not starved
        await flooder.close()


async def test_input_history_is_bounded(server) -> None:
    app = make_app(server.port, ui=UiConfig(input_history=3))
    async with running(app) as pilot:
        await joined(pilot)
        for n in range(5):
            await send_line(pilot, f"line {n}")
        await wait_for(pilot, lambda: has_line(app, "line 4 ✓"))
        assert box(app).sent_history == ["line 2", "line 3", "line 4"]
        await pilot.press("up", "up", "up", "up")
        assert box(app).text == "line 2"  # the oldest kept
