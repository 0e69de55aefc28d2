"""Accounts in the app, against a real server: the start screen's account
password (asked on login_required, wrong ones, the wait while the server
holds a wrong one back, accounts required), reconnects that log in by
themselves, /register and /password in their masked dialog, a password the
operator made, a reconnect refused for its password, the badge, the palette,
and no password in the log, the input history, the screen or the logs."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Static

from conexion_server import account_admin
from conexion_tui.screens import ChatScreen, StartScreen
from conexion_tui.screens.chat_account import AccountNotice
from conexion_tui.screens.password import PasswordDialog
from conexion_tui.widgets import ChatHeader, ChatInput
from tests.tui.conftest import (
    ACCOUNT_PASSWORD,
    burst,
    chat,
    has_line,
    joined,
    log_in_on_start,
    log_text,
    make_app,
    register_name,
    running,
    start,
    type_line,
    wait_for,
)

NEW_PASSWORD = "the second one, longer"


def message_text(app: Any) -> str:
    return str(app.screen.query_one("#start-message", Static).render())


def dialog_text(app: Any) -> str:
    return str(app.screen.query_one("#password-message", Static).render())


def badge(app: Any) -> str:
    return chat(app).query_one("#header", ChatHeader).badge


def everything_shown(app: Any) -> str:
    """Every conversation's log, the input history and the screen as drawn."""
    screen = app.screen if isinstance(app.screen, ChatScreen) else None
    parts = [app.export_screenshot()]
    if screen is not None:
        parts += [log_text(app, key) for key in screen.channels]
        parts += screen.query_one("#input", ChatInput).sent_history
    return "\n".join(parts)


async def dialog(pilot: Pilot[Any]) -> PasswordDialog:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PasswordDialog), what="dialog")
    return pilot.app.screen  # type: ignore[return-value]


async def fill(pilot: Pilot[Any], *passwords: str) -> None:
    """Type each password into the next field of the dialog, Enter after each."""
    for password in passwords:
        await pilot.press(*password, "enter")


# -- the start screen ----------------------------------------------------------------


async def test_a_registered_name_asks_for_its_password_and_logs_in(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    await register_name(server, "ana")
    app = make_app(server.port, name=None, suggested="ana")
    async with running(app) as pilot:
        screen = start(app)
        row = screen.query_one("#start-account-row")
        assert not row.has_class("-shown")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is registered" in message_text(app), what="the prompt")
        assert message_text(app) == "ana is registered.\nType its password, or choose another name."
        field = screen.query_one("#start-account", Input)
        assert row.has_class("-shown")
        assert field.password
        assert field.has_focus
        assert not screen.query_one("#start-password-row").has_class("-shown")
        await pilot.press(*ACCOUNT_PASSWORD, "enter")
        await joined(pilot)
        assert badge(app) == "registered"
        assert server.hub.find("ana").account is not None
        assert ACCOUNT_PASSWORD not in everything_shown(app)
    assert ACCOUNT_PASSWORD not in caplog.text


async def test_a_wrong_password_says_so_and_waits_without_freezing(make_server) -> None:
    # The first wrong one is answered at once, the next ones 0.5 s late.
    server = await make_server(login_delays=(0.0, 0.5), password_delays=(0.0, 0.5))
    await register_name(server, "ana")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "is registered" in message_text(app), what="the prompt")
        field = start(app).query_one("#start-account", Input)
        await pilot.press(*"not it at all", "enter")
        await wait_for(pilot, lambda: "Wrong password" in message_text(app), what="wrong")
        assert message_text(app) == "Wrong password.\nType it again, or choose another name."
        assert field.has_focus
        assert field.selection.end != field.selection.start  # typing replaces the guess
        await pilot.press(*"still wrong", "enter")
        # Held back by the server: the screen says it is checking, and stays alive.
        await wait_for(pilot, lambda: "Checking the password of ana" in message_text(app))
        assert field.disabled
        await pilot.press("x")  # keys are still handled (into nothing: the field waits)
        await wait_for(pilot, lambda: "tried 2 times" in message_text(app), what="2nd wrong")
        assert not field.disabled
        await pilot.press(*ACCOUNT_PASSWORD, "enter")
        await joined(pilot)


async def test_another_name_hides_the_account_field(server) -> None:
    await register_name(server, "ana")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "is registered" in message_text(app), what="the prompt")
        screen = start(app)
        await pilot.press(*"a secret typed for ana")
        name = screen.query_one("#start-name", Input)
        name.focus()
        name.value = "bea"
        await pilot.pause()
        assert not screen.query_one("#start-account-row").has_class("-shown")
        assert screen.query_one("#start-account", Input).value == ""
        await pilot.press("enter")
        await joined(pilot)
        assert chat(app).me == "bea"
        assert badge(app) == "guest"


async def test_a_server_for_accounts_only_says_to_ask_its_operator(make_server) -> None:
    server = await make_server(accounts="required")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "registered names only" in message_text(app))
        assert "ask its operator for an account" in message_text(app)
        assert isinstance(app.screen, StartScreen)
        assert not start(app).query_one("#start-account-row").has_class("-shown")


# -- reconnecting --------------------------------------------------------------------


async def test_a_reconnect_logs_in_again_by_itself(server) -> None:
    await register_name(server, "ana")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "is registered" in message_text(app), what="the prompt")
        await pilot.press(*ACCOUNT_PASSWORD, "enter")
        await joined(pilot)
        first = server.hub.find("ana")
        first.peer.abort(first.peer.reason)
        await wait_for(pilot, lambda: has_line(app, "reconnected at"), what="reconnected")
        again = server.hub.find("ana")
        assert again is not first
        assert again.account is not None  # logged in, not refused
        assert badge(app) == "registered"
        assert not isinstance(app.screen, PasswordDialog)
        assert ACCOUNT_PASSWORD not in everything_shown(app)


async def test_a_reconnect_refused_for_its_password_asks_for_one(make_server, tmp_path) -> None:
    """The operator resets the password while we are online: the reconnect is
    refused, a dialog asks for the new one, and a wrong one is said there."""
    db = str(tmp_path / "chat.db")
    server = await make_server(db=db, login_delays=(0.0,), password_delays=(0.0,))
    await register_name(server, "ana")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await log_in_on_start(pilot, ACCOUNT_PASSWORD)
        screen = await joined(pilot)
        out = io.StringIO()
        assert account_admin.main(["--db", db, "reset", "ana"], ":unused:", out=out) == 0
        one_time = out.getvalue().rsplit("one-time password: ", 1)[1].strip()
        member = server.hub.find("ana")
        member.peer.abort(member.peer.reason)
        box = await dialog(pilot)
        assert box.form.title == "Log in again"
        await fill(pilot, "my old guess")
        await wait_for(pilot, lambda: "Wrong password" in dialog_text(app), what="wrong again")
        await pilot.press(*one_time, "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="dialog closed")
        await wait_for(pilot, lambda: has_line(app, "reconnected at"))
        assert has_line(app, "cannot log in again: wrong password for ana (bad_login)")
        # A password the operator made: the notice asks for one of our own.
        notice = screen.query_one("#account-notice", AccountNotice)
        assert notice.has_class("-visible")
        assert one_time not in everything_shown(app)


# -- /register and /password ---------------------------------------------------------


async def test_register_in_its_dialog_then_the_name_asks_for_it(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await joined(pilot)
        assert badge(app) == "guest"
        await type_line(pilot, "/register")
        box = await dialog(pilot)
        assert all(field.password for field in box.fields)
        # Two different passwords: caught here, nothing sent.
        await fill(pilot, ACCOUNT_PASSWORD, "something else")
        assert "differ" in dialog_text(app)
        assert box.fields[0].has_focus
        # Too short: the server's reason, in the dialog.
        await fill(pilot, "short", "short")
        await wait_for(pilot, lambda: "at least 8" in dialog_text(app), what="weak_password")
        assert dialog_text(app).startswith("A password has at least 8 characters")
        assert server.hub.find("ana").account is None
        await fill(pilot, ACCOUNT_PASSWORD, ACCOUNT_PASSWORD)
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="dialog closed")
        await wait_for(pilot, lambda: has_line(app, "registered: the name ana is yours now"))
        assert badge(app) == "registered"
        assert server.hub.find("ana").account is not None
        assert ACCOUNT_PASSWORD not in everything_shown(app)
        assert "short" not in log_text(app)
    assert ACCOUNT_PASSWORD not in caplog.text
    # Another client under the same name now gets the prompt.
    other = make_app(server.port, name="ana")
    async with running(other) as pilot:
        await wait_for(pilot, lambda: "is registered" in message_text(other), what="the prompt")
        await pilot.press(*ACCOUNT_PASSWORD, "enter")
        await joined(pilot)


async def test_passwords_typed_faster_than_the_screen_land_in_their_fields(server) -> None:
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/register")
        await dialog(pilot)
        burst(app, *ACCOUNT_PASSWORD, "enter", *ACCOUNT_PASSWORD, "enter")
        await wait_for(pilot, lambda: has_line(app, "registered: the name ana is yours now"))
        assert server.hub.find("ana").account is not None


async def test_a_password_auto_typed_behind_the_command_is_never_sent(server, peers) -> None:
    """A password manager types `/register`, Enter, the password, Enter, all
    at once: the password must not land in the message box (where its Enter
    would send it to the room) while the dialog is still opening."""
    bob = await peers("bob")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.expect("joined")
        burst(app, *"/register", "enter", *ACCOUNT_PASSWORD, "enter")
        await dialog(pilot)
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="dialog closed")
        assert ACCOUNT_PASSWORD not in everything_shown(app)
        # The box takes keys again, and what was dropped was never sent.
        await type_line(pilot, "after the dialog")
        got = await bob.expect("message")
        assert got["text"] == "after the dialog"


async def test_a_password_typed_on_the_command_line_is_never_kept(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await joined(pilot)
        await bob.expect("joined")
        await type_line(pilot, "/register hunter2 and more")
        box = await dialog(pilot)
        assert box.fields[0].value == ""  # not even carried into the dialog
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert has_line(app, "/register takes no password on the line")
        await type_line(pilot, "/PASSWORD old new")
        assert has_line(app, "you are a guest")
        shown = everything_shown(app)
        assert "hunter2" not in shown
        assert "old new" not in shown
        # Up brings back nothing of it.
        await pilot.press("up")
        assert chat(app).query_one("#input", ChatInput).text == ""
        # Nothing reached the server or bob: ana is still a guest.
        await bob.send(type="who", room="general", id="w1")
        assert (await bob.expect("users"))["users"] == ["ana", "bob"]
        assert server.hub.find("ana").account is None


async def test_password_change_with_a_wrong_current_one_then_right(make_server) -> None:
    server = await make_server(login_delays=(0.0,), password_delays=(0.0,))
    await register_name(server, "ana")
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await log_in_on_start(pilot, ACCOUNT_PASSWORD)
        await joined(pilot)
        await type_line(pilot, "/password")
        box = await dialog(pilot)
        assert [f.password for f in box.fields] == [True, True, True]
        await fill(pilot, "not the current one", NEW_PASSWORD, NEW_PASSWORD)
        await wait_for(pilot, lambda: "Wrong password" in dialog_text(app), what="bad_login")
        assert box.fields[0].has_focus  # the current password, selected
        await pilot.press(*ACCOUNT_PASSWORD, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="dialog closed")
        assert has_line(app, "your password was changed")
        # The next reconnect logs in with the new one.
        member = server.hub.find("ana")
        member.peer.abort(member.peer.reason)
        await wait_for(pilot, lambda: has_line(app, "reconnected at"), what="reconnected")
        assert server.hub.find("ana").account is not None
        shown = everything_shown(app)
        assert NEW_PASSWORD not in shown
        assert ACCOUNT_PASSWORD not in shown


async def test_a_one_time_password_from_the_operator(make_server, tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    server = await make_server(db=db)
    out = io.StringIO()
    code = account_admin.main(["--db", db, "add", "Teacher", "--one-time"], ":unused:", out=out)
    assert code == 0
    one_time = out.getvalue().rsplit("one-time password: ", 1)[1].strip()
    app = make_app(server.port, name="teacher")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "is registered" in message_text(app), what="the prompt")
        await pilot.press(*one_time, "enter")
        screen = await joined(pilot)
        notice = screen.query_one("#account-notice", AccountNotice)
        assert notice.has_class("-visible")
        assert "Press F2 to choose your own" in str(notice.render())
        assert has_line(app, "your password is a one-time one the operator made")
        assert screen.active_bindings["f2"].binding.description == "New password"  # in the footer
        await pilot.press("f2")
        box = await dialog(pilot)
        assert box.form.title == "Change password"
        await fill(pilot, one_time, NEW_PASSWORD, NEW_PASSWORD)
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="dialog closed")
        assert not notice.has_class("-visible")
        assert not screen.active_bindings["f2"].binding.show  # F2 is quiet again
        assert has_line(app, "your password was changed")
        assert one_time not in everything_shown(app)
    # Logging in again is with the new password, and no notice.
    again = make_app(server.port, name="Teacher")
    async with running(again) as pilot:
        await log_in_on_start(pilot, NEW_PASSWORD)
        screen = await joined(pilot)
        assert not screen.query_one("#account-notice", AccountNotice).has_class("-visible")


async def test_the_badge_says_admin_and_the_palette_offers_the_right_entry(
    make_server, tmp_path: Path
) -> None:
    db = str(tmp_path / "chat.db")
    server = await make_server(db=db)
    guest = make_app(server.port, name="bea")
    async with running(guest) as pilot:
        screen = await joined(pilot)
        titles = [c.title for c in guest.get_system_commands(screen)]
        assert "Register this name…" in titles
        assert "Change password…" not in titles
    out = io.StringIO()
    answers = iter([ACCOUNT_PASSWORD, ACCOUNT_PASSWORD])
    args = ["--db", db, "add", "Teacher", "--admin"]
    assert account_admin.main(args, ":unused:", out=out, ask=lambda _: next(answers)) == 0
    admin = make_app(server.port, name="Teacher")
    async with running(admin) as pilot:
        await log_in_on_start(pilot, ACCOUNT_PASSWORD)
        screen = await joined(pilot)
        assert badge(admin) == "admin"
        assert "Teacher · admin" in str(screen.query_one("#header", ChatHeader).render())
        titles = [c.title for c in admin.get_system_commands(screen)]
        assert "Change password…" in titles
        assert "Register this name…" not in titles
