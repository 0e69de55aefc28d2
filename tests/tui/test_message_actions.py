"""Replies, reactions, edits, deletes, search and /paste in the TUI, end to end through a real
server on 127.0.0.1, with raw JSON peers on the other side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events

from conexion_tui.conversation import dm_key
from conexion_tui.screens.confirm_delete import ConfirmDelete
from conexion_tui.screens.react_picker import ReactPicker
from conexion_tui.screens.search import SearchScreen
from conexion_tui.widgets import ChatInput
from conexion_tui.widgets.action_log import ActionLog
from conexion_tui.widgets.compose_bar import ComposeBar
from tests.tui.conftest import (
    WAIT,
    chat,
    has_line,
    joined,
    log_lines,
    make_app,
    running,
    send_line,
    type_line,
    wait_for,
)


def box(app: Any) -> ChatInput:
    return chat(app).query_one("#input", ChatInput)


def selected_text(app: Any) -> str | None:
    log = chat(app).log_view
    assert isinstance(log, ActionLog)
    return None if log.selected is None else log.selected.text


def bar(app: Any) -> str:
    bars = chat(app).query(ComposeBar)
    if not bars or not bars.first().has_class("-visible"):
        return ""
    return str(bars.first().render())


async def expect_from(peer: Any, kind: str) -> dict[str, Any]:
    """The next `kind` frame, skipping the messages and acks a peer also gets."""
    while True:
        frame = await peer.expect_any(kind, "message", "ack", "edited", "reacted")
        if frame["type"] == kind:
            return frame


async def test_reply_react_edit_and_delete(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app, size=(100, 30)) as pilot:
        await joined(pilot)
        original = await bob.say("first line of the plan\nand a second one")
        await wait_for(pilot, lambda: has_line(app, "bob: first line of the plan"))

        # Select it (ctrl+up from the box), then r: the box answers it.
        await pilot.press("ctrl+up")
        assert selected_text(app) == "first line of the plan\nand a second one"
        assert isinstance(app.focused, ActionLog)
        await pilot.press("r")
        assert isinstance(app.focused, ChatInput)
        assert "replying to bob in #general: first line of the plan" in bar(app)
        await type_line(pilot, "I agree :tada:")
        got = await bob.expect("message")
        assert got["text"] == "I agree 🎉"
        assert got["reply_to"] == original["seq"]
        assert got["reply_from"] == "bob"
        await wait_for(pilot, lambda: has_line(app, "ana: I agree 🎉 ✓"))
        assert has_line(app, "↪ bob: first line of the plan")
        assert bar(app) == ""

        # React to bob's message from the picker: 1 is 👍, sent with on=true.
        await pilot.press("ctrl+up", "up")
        assert selected_text(app).startswith("first line")
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactPicker))
        await pilot.press("1")
        reacted = await bob.expect("reacted")
        assert (reacted["emoji"], reacted["on"], reacted["names"]) == ("👍", True, ["ana"])
        await wait_for(pilot, lambda: has_line(app, "👍 1"))
        assert has_line(app, "👍 1 (ana)")  # still selected: it says who

        # Up on the empty box edits our last message; Enter saves it.
        await pilot.press("escape")
        assert box(app).text == ""
        await pilot.press("up")
        assert box(app).text == "I agree 🎉"
        assert "editing your message" in bar(app)
        box(app).load_text("I agree, on page 3")
        await pilot.press("enter")
        edited = await expect_from(bob, "edited")
        assert edited["text"] == "I agree, on page 3"
        await wait_for(pilot, lambda: has_line(app, "ana: I agree, on page 3 (edited) ✓"))

        # bob edits his: the quote of it follows.
        await bob.send(type="edit", room="general", seq=original["seq"], text="the plan, v2")
        await wait_for(pilot, lambda: has_line(app, "↪ bob: the plan, v2"))
        assert has_line(app, "bob: the plan, v2 (edited)")

        # d on bob's message is refused here; on ours it asks, then deletes.
        await pilot.press("ctrl+up", "up", "d")
        await wait_for(pilot, lambda: has_line(app, "you can delete your own messages only"))
        await pilot.press("escape", "ctrl+up", "d")  # ctrl+up from the box: the latest
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("y")
        deleted = await expect_from(bob, "deleted")
        assert deleted["seq"] == got["seq"]
        await wait_for(pilot, lambda: has_line(app, "ana: message deleted"))
        assert not has_line(app, "on page 3")


async def test_a_reaction_line_and_taking_it_back(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        said = await bob.say("ship it?")
        await wait_for(pilot, lambda: has_line(app, "bob: ship it?"))
        await type_line(pilot, "+:rocket:")
        reacted = await bob.expect("reacted")
        assert (reacted["seq"], reacted["emoji"], reacted["on"]) == (said["seq"], "🚀", True)
        await wait_for(pilot, lambda: has_line(app, "🚀 1"))
        await bob.send(type="react", room="general", seq=said["seq"], emoji="🚀", on=True)
        await wait_for(pilot, lambda: has_line(app, "🚀 2"))
        # The same line again takes ours back (on=false): idempotent if resent.
        await type_line(pilot, "+🚀")
        while (frame := await bob.expect("reacted"))["by"] != "ana":
            pass
        assert frame["on"] is False
        await wait_for(pilot, lambda: has_line(app, "🚀 1"))
        assert not any("ana: +" in line for line in log_lines(app))  # never sent as text


async def test_going_to_an_original_that_must_be_fetched(server, peers) -> None:
    bob = await peers("bob")
    original = await bob.say("the original question")
    for n in range(70):
        await bob.say(f"filler {n}")
    await bob.say("the answer", reply_to=original["seq"])
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await wait_for(pilot, lambda: has_line(app, "bob: the answer"))
        assert not has_line(app, "the original question")
        assert has_line(app, "↪ bob: (not loaded")
        await pilot.press("ctrl+up")
        await wait_for(pilot, lambda: selected_text(app) == "the answer", what="the reply selected")
        await pilot.press("enter")
        # The jump asks for older pages of history until the original is in
        # the log: several round trips, slower on a loaded machine.
        await wait_for(
            pilot,
            lambda: selected_text(app) == "the original question",
            timeout=4 * WAIT,
            what="the original fetched and selected",
        )
        assert has_line(app, "bob: filler 0")  # loaded as a whole page, no gap
        assert has_line(app, "↪ bob: the original question")  # the quote, now it is loaded


async def test_search_jumps_to_a_hit_with_its_context(server, peers) -> None:
    bob = await peers("bob")
    await bob.say("the needle is here")
    for n in range(30):
        await bob.say(f"hay number {n} with a pin")
    for n in range(60):
        await bob.say(f"more hay {n}")
    app = make_app(server.port)
    async with running(app, size=(110, 32)) as pilot:
        await joined(pilot)
        assert not has_line(app, "needle")
        await type_line(pilot, "/search pin")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        await wait_for(pilot, lambda: len(search.hits) == 20)
        assert search.next is not None  # a "more" line, then the rest
        assert search.hits[0].text == "hay number 29 with a pin"  # newest first
        await pilot.press("down", "end", "enter")
        await wait_for(pilot, lambda: len(search.hits) == 30)
        assert search.next is None
        # Another search from the box; Enter on its hit goes there.
        search.query_one("#search-query").focus()
        search.query_one("#search-query").value = "needle"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(search.hits) == 1)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: selected_text(app) == "the needle is here")
        assert has_line(app, "bob: hay number 0 with a pin")


async def test_search_from_ctrl_f_and_what_it_cannot_find(server, peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press(*"nothing*", "enter")
        status = app.screen.query_one("#search-status")
        await wait_for(pilot, lambda: "nothing found" in str(status.render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SearchScreen))


async def test_paste_sends_a_file_as_a_code_block(server, peers, tmp_path: Path) -> None:
    bob = await peers("bob")
    source = tmp_path / "greet.py"
    source.write_text("def greet(name):\n    return f'hola {name}'\n")
    (tmp_path / "big.txt").write_text("x" * 5000)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\xff\xfe\x00")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await send_line(pilot, f"/paste {source}")
        got = await bob.expect("message")
        assert got["text"] == "```python\ndef greet(name):\n    return f'hola {name}'\n```"
        await wait_for(pilot, lambda: has_line(app, "python"))
        assert has_line(app, "│ def greet(name):")
        await send_line(pilot, f"/paste {tmp_path / 'big.txt'}")
        await wait_for(pilot, lambda: has_line(app, "too long to send"))
        await send_line(pilot, f"/paste {tmp_path / 'photo.png'}")
        await wait_for(pilot, lambda: has_line(app, "not UTF-8 text"))
        await send_line(pilot, f"/paste {tmp_path / 'missing.py'}")
        await wait_for(pilot, lambda: has_line(app, "cannot read"))
        assert await bob.silent(0.1)


async def test_a_click_selects_and_esc_leaves(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.say("click me")
        await wait_for(pilot, lambda: has_line(app, "bob: click me"))
        log = screen.log_view
        row = next(i for i, line in enumerate(log_lines(app)) if "click me" in line)
        offset = row - int(log.scroll_offset.y)
        await pilot.click(log, offset=(10, offset))
        assert selected_text(app) == "click me"
        await pilot.press("escape")
        assert selected_text(app) is None
        assert isinstance(app.focused, ChatInput)
        # A letter typed while a message is selected goes to the box.
        await pilot.press("ctrl+up", "h", "i")
        assert box(app).text == "hi"
        assert selected_text(app) is None


async def test_the_editor_needs_a_real_terminal(server) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "draft", enter=False)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: has_line(app, "the editor needs a real terminal"))
        assert box(app).text == "draft"


async def test_switching_conversations_ends_an_edit(server, peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await send_line(pilot, "/join lab")
        await wait_for(pilot, lambda: screen.current.title == "lab")
        await pilot.press("alt+1")
        await type_line(pilot, "mine")
        await wait_for(pilot, lambda: has_line(app, "ana: mine ✓"))
        await pilot.press("up")
        assert box(app).text == "mine"
        assert "editing your message" in bar(app)
        await pilot.press("alt+2")
        assert screen.current.title == "lab"
        assert bar(app) == ""
        await pilot.press("alt+1")
        assert box(app).text == ""  # not kept as a draft, where Enter would send it anew


async def test_a_reconnect_shows_what_changed_meanwhile(server, peers) -> None:
    from tests.tui.proxy import Proxy

    bob = await peers("bob")
    proxy = await Proxy(server.port).start()
    try:
        app = make_app(proxy.port)
        async with running(app) as pilot:
            await joined(pilot)
            said = await bob.say("before the gap")
            await wait_for(pilot, lambda: has_line(app, "bob: before the gap"))
            proxy.blackhole = True  # the link is silent but not closed
            await bob.send(type="edit", room="general", seq=said["seq"], text="changed in the gap")
            await bob.expect("edited")
            await bob.send(type="react", room="general", seq=said["seq"], emoji="👀", on=True)
            await bob.expect("reacted")
            proxy.blackhole = False
            proxy.cut()
            await wait_for(pilot, lambda: has_line(app, "reconnected at"))
            await wait_for(pilot, lambda: has_line(app, "bob: changed in the gap (edited)"))
            assert has_line(app, "👀 1")
            assert not has_line(app, "before the gap")
    finally:
        await proxy.close()


async def test_a_search_hit_in_a_dm_goes_there(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.send(type="dm", id="d1", to="ana", text="the secret needle")
        await wait_for(pilot, lambda: dm_key("bob") in screen.channels)
        await type_line(pilot, "/search needle")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        await wait_for(pilot, lambda: len(search.hits) == 1)
        assert "@bob bob: the secret needle" in str(
            search.query_one("#search-hits").get_option_at_index(0).prompt
        )
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.current.key == dm_key("bob"))
        assert has_line(app, "← bob: the secret needle")


async def test_a_selection_outlives_a_focus_event_on_its_way(server, peers) -> None:
    # The input's focus clears a selection. Under load the input's focus event
    # (from the welcome's focus, say) can reach the screen after Ctrl+Up has
    # selected a message and focused the log; it must not undo the selection.
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.say("pick me")
        await wait_for(pilot, lambda: has_line(app, "bob: pick me"))
        await pilot.press("ctrl+up")
        assert selected_text(app) == "pick me"
        screen.post_message(events.DescendantFocus(box(app)))  # the late event
        await pilot.pause()
        assert selected_text(app) == "pick me"
        assert isinstance(app.focused, ActionLog)
        # Focusing the input for real still ends the selection.
        await pilot.press("escape", "ctrl+up")
        assert selected_text(app) == "pick me"
        box(app).focus()
        await pilot.pause()
        assert selected_text(app) is None
