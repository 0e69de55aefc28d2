"""What the chat screen gives its columns and its header: the user list as
wide as its names within bounds, and a header that drops the address before
the connection state on a narrow terminal."""

from __future__ import annotations

from conexion_tui.client import State
from conexion_tui.widgets import ChatHeader
from tests.tui.conftest import joined, make_app, running, wait_for


async def test_the_user_list_is_as_wide_as_its_names_within_bounds(server, peers) -> None:
    app = make_app(server.port)
    async with running(app, size=(140, 30)) as pilot:
        screen = await joined(pilot)
        pane = screen.query_one("#side-pane")
        await wait_for(pilot, lambda: pane.size.width == 16, what="title and frame")
        await peers("Bartholomew_the_Third")  # 21 characters
        await wait_for(pilot, lambda: pane.size.width == 26, what="the widest it gets")
        log = screen.log_view
        assert log.size.width > 140 - 26 - 24  # the log keeps the rest


async def test_a_narrow_header_drops_the_address_before_the_state(server) -> None:
    app = make_app(server.port)
    async with running(app, size=(40, 20)) as pilot:
        screen = await joined(pilot)
        header = screen.query_one("#header", ChatHeader)
        # The app's own "online" comes as a message after the welcome's lines:
        # wait for it, or it lands after the state set here.
        await wait_for(pilot, lambda: header.state is State.ONLINE, what="online")
        header.state, header.detail = State.OFFLINE, "connection refused"
        await pilot.pause()
        text = str(header.render())
        assert "offline" in text
        assert "127.0.0.1" not in text
        header.state, header.detail = State.ONLINE, ""
        await pilot.pause()
        text = str(header.render())
        assert "online" in text
        assert "127.0.0.1" not in text
    wide = make_app(server.port, name="bea")
    async with running(wide, size=(120, 20)) as pilot:
        screen = await joined(pilot)
        assert f"127.0.0.1:{server.port}" in str(screen.query_one("#header", ChatHeader).render())
