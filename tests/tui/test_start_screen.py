"""The start screen: the suggested name, name errors from the server with a
retry, and an unreachable server with a retry."""

from __future__ import annotations

from textual.widgets import Button, Input, Static

from conexion_tui.screens import ChatScreen, StartScreen
from tests.tui.conftest import free_port, joined, make_app, running, start, wait_for


def message_text(app) -> str:
    return str(app.screen.query_one("#start-message", Static).render())


async def test_start_screen_suggests_the_login_name_and_joins(server, peers) -> None:
    bob = await peers("bob")
    app = make_app(server.port, name=None, suggested="ana")
    async with running(app) as pilot:
        screen = start(app)
        name = screen.query_one("#start-name", Input)
        assert name.value == "ana"
        assert name.has_focus
        assert "127.0.0.1" in str(screen.query_one("#start-server", Static).render())
        await pilot.press("enter")
        await joined(pilot)
        assert (await bob.expect("joined"))["name"] == "ana"


async def test_taken_name_shows_reason_and_retry_works(server, peers) -> None:
    await peers("bob")
    app = make_app(server.port, name=None, suggested="Bob")
    async with running(app) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: "taken" in message_text(app), what="name_taken reason")
        screen = start(app)
        assert "The name Bob is taken" in message_text(app)
        assert screen.query_one("#start-message").has_class("-error")
        name = screen.query_one("#start-name", Input)
        assert not name.disabled
        assert name.has_focus
        # The whole name is selected: typing replaces it.
        await pilot.press(*"carol", "enter")
        await joined(pilot)
        assert app.client is not None
        assert app.client.name == "carol"


async def test_invalid_name_shows_server_reason(server) -> None:
    app = make_app(server.port, name=None, suggested="ana")
    async with running(app) as pilot:
        name = start(app).query_one("#start-name", Input)
        name.value = "ana smith"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "space" in message_text(app), what="bad_name reason")
        assert "cannot hold spaces" in message_text(app)
        assert isinstance(app.screen, StartScreen)
        name.value = "#room"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "start with a letter" in message_text(app))
        assert isinstance(app.screen, StartScreen)


async def test_empty_name_is_caught_before_connecting(server) -> None:
    app = make_app(server.port, name=None, suggested="")
    async with running(app) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert "Type a name first" in message_text(app)
        assert app.client is None


async def test_name_from_the_command_line_joins_at_once(server) -> None:
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        screen = await joined(pilot)
        assert isinstance(screen, ChatScreen)
        assert screen.me == "ana"


async def test_unreachable_server_shows_message_then_retry_connects(make_server) -> None:
    port = free_port()
    app = make_app(port, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "Cannot reach" in message_text(app), what="unreachable")
        text = message_text(app)
        assert f"127.0.0.1:{port}" in text
        assert "connection refused" in text
        assert "Retry" in text
        screen = start(app)
        assert str(screen.query_one("#start-join", Button).label) == "Retry"
        # Retrying while it is still down fails the same way, without a crash.
        await pilot.pause()  # the message above moved the button: let layout settle
        await pilot.click("#start-join")
        await wait_for(pilot, lambda: "tried 2 times" in message_text(app), what="2nd try")
        assert "Cannot reach" in message_text(app)
        await make_server(port=port)
        await pilot.press("enter")  # Enter retries as well
        await joined(pilot)


async def test_an_unexpected_network_error_is_shown_not_a_crash() -> None:
    # A port no socket accepts: the connect raises OverflowError, which is not
    # one of the network errors the client expects.
    app = make_app(70_000, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "failed unexpectedly" in message_text(app))
        assert "OverflowError" in message_text(app)
        assert app.is_running
        assert isinstance(app.screen, StartScreen)
