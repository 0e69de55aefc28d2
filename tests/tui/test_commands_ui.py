"""Every slash command, typed into the running app against a real server,
with a raw-socket peer checking what reached the wire."""

from __future__ import annotations

import pytest

from conexion_tui.conversation import dm_key, room_key
from conexion_tui.screens.help import HelpScreen
from conexion_tui.widgets import ChatHeader
from tests.tui.conftest import (
    chat,
    current_log,
    has_line,
    joined,
    log_lines,
    log_text,
    make_app,
    running,
    send_line,
    type_line,
    wait_for,
)


async def test_help_is_an_overlay_with_every_command_and_nothing_in_the_log(server) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        before = log_text(app)
        await type_line(pilot, "/help")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        text = help_screen.text
        for usage in (
            "/help",
            "/msg NAME TEXT",
            "/msg NAME ",
            "/me TEXT",
            "/join ROOM",
            "/part [ROOM]",
            "/rooms",
            "/topic [TEXT]",
            "/nick NAME",
            "/who",
            "/clear",
            "/kick NAME [REASON]",
            "/exit",
            "/quit",
        ):
            assert usage in text
        for key in ("alt+↑", "alt+1", "ctrl+k", "ctrl+n", "ctrl+p", "F3", "F4"):
            assert key in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="the chat again")
        await pilot.press("f1")  # the same from a key, and F1 closes it too
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen is screen)
        assert log_text(app) == before  # not a line was added


async def test_me_sends_an_action(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/me waves")
        got = await bob.expect("message")
        assert (got["text"], got["action"]) == ("waves", True)
        await wait_for(pilot, lambda: has_line(app, "* ana waves ✓"))


async def test_msg_sends_a_direct_message(server, peers) -> None:
    bob = await peers("bob")
    carol = await peers("carol")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/msg bob psst, only you")
        got = await bob.expect("dm")
        assert (got["from"], got["to"], got["text"]) == ("ana", "bob", "psst, only you")
        await wait_for(pilot, lambda: has_line(app, "→ bob: psst, only you ✓"))
        # carol got nothing but ana's arrival: her next frame is her own ack.
        ack = await carol.say("check")
        assert ack["type"] == "ack"


async def test_msg_to_nobody_fails_and_usage_errors_send_nothing(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/msg nobody hi")
        # /msg goes to the conversation with them, where the refusal shows.
        await wait_for(pilot, lambda: has_line(app, "→ nobody: hi ✗"))
        assert "no_such_user" in log_text(app)
        assert chat(app).current.key == dm_key("nobody")
        await pilot.press("alt+1")  # back to #general
        assert chat(app).current.key == room_key("general")
        await type_line(pilot, "/msg")
        await type_line(pilot, "/me")
        await type_line(pilot, "/nick")
        await type_line(pilot, "/join l@b")
        await wait_for(pilot, lambda: has_line(app, "usage: /nick NAME"))
        assert has_line(app, "usage: /msg NAME TEXT")
        assert has_line(app, "usage: /me TEXT")
        assert has_line(app, "a room name is 1 to 32")
        await type_line(pilot, "after the errors")
        got = await bob.expect("message")
        assert got["text"] == "after the errors"  # nothing was sent before it


async def test_nick_renames_and_a_taken_name_is_refused(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.expect("joined")
        await type_line(pilot, "/nick anita")
        renamed = await bob.expect("renamed")
        assert (renamed["old"], renamed["new"]) == ("ana", "anita")
        await wait_for(pilot, lambda: has_line(app, "you are now anita"))
        assert screen.me == "anita"
        assert "anita" in str(app.screen.query_one("#header", ChatHeader).render())
        await type_line(pilot, "/nick BOB")
        await wait_for(pilot, lambda: has_line(app, "(name_taken)"))
        assert "taken" in log_text(app)
        assert screen.me == "anita"


async def test_who_lists_the_users(server, peers) -> None:
    await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/who")
        await wait_for(pilot, lambda: has_line(app, "in #general (2): ana, bob"))


async def test_clear_empties_the_log(server, peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "something")
        await wait_for(pilot, lambda: has_line(app, "something ✓"))
        await type_line(pilot, "/clear")
        await pilot.pause()
        log = current_log(app)
        assert log_lines(app) == []
        assert log.line_count == 0
        bob = await peers("bob")
        await bob.say("after clear")
        await wait_for(pilot, lambda: has_line(app, "bob: after clear"))


async def test_unknown_command_explains_and_sends_nothing(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/dance now")
        await wait_for(pilot, lambda: has_line(app, "unknown command /dance"))
        assert "/help" in log_text(app)
        await send_line(pilot, "//dance is text")
        got = await bob.expect("message")
        assert got["text"] == "/dance is text"


@pytest.mark.parametrize("command", ["/exit", "/quit"])
async def test_exit_and_quit_say_bye(server, peers, command: str) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await bob.expect("joined")
        await type_line(pilot, command)
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "quit")
    assert app.return_code == 0


async def test_ctrl_q_says_bye(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await bob.expect("joined")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "quit")


async def test_ctrl_q_on_the_start_screen_just_exits(server) -> None:
    app = make_app(server.port, name=None)
    async with running(app) as pilot:
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.client is None


async def test_the_palette_screenshot_goes_to_a_folder_that_exists(
    server, tmp_path, monkeypatch
) -> None:
    """Without a Downloads folder (Textual's choice, which then fails), the
    screenshot goes into the client's data folder, and a toast says where."""
    import conexion_tui.app as app_module

    monkeypatch.setattr(app_module, "user_downloads_path", lambda: tmp_path / "no-such-folder")
    app = make_app(server.port, data_dir=tmp_path / "data")
    async with running(app) as pilot:
        screen = await joined(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Join room…" in titles  # the chat's own commands are in the palette
        assert "Raise hand…" in titles
        app.action_screenshot()
        folder = tmp_path / "data"
        await wait_for(pilot, lambda: list(folder.glob("*.svg")), what="the file")
        shot = next(folder.glob("*.svg"))
        await wait_for(pilot, lambda: any(str(shot) in n.message for n in app._notifications))
        assert "<svg" in shot.read_text()
