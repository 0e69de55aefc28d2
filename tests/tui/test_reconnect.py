"""Losing the server and getting it back: the header and log say so, typing
goes on offline, and every unacknowledged message is resent exactly once."""

from __future__ import annotations

from conexion_tui.client import State
from conexion_tui.widgets import ChatHeader, UserList
from tests.peers import JsonPeer
from tests.tui.conftest import (
    FIXED_TIME,
    free_port,
    has_line,
    joined,
    log_lines,
    log_text,
    make_app,
    running,
    send_line,
    wait_for,
)
from tests.tui.proxy import Proxy


async def test_server_restart_on_the_same_port(make_server) -> None:
    first = await make_server()
    port = first.port
    app = make_app(port)
    async with running(app) as pilot:
        await joined(pilot)
        header = app.screen.query_one("#header", ChatHeader)
        await send_line(pilot, "before the restart")
        await wait_for(pilot, lambda: has_line(app, "before the restart ✓"))
        await first.stop()
        await wait_for(pilot, lambda: has_line(app, "connection lost at"), what="lost line")
        assert has_line(app, f"connection lost at {FIXED_TIME}")
        assert has_line(app, "server notice: the server is shutting down")
        await wait_for(pilot, lambda: header.state is not State.ONLINE)
        assert "offline" in str(header.render()) or "connecting" in str(header.render())
        assert app.screen.query_one("#users", UserList).has_class("-offline")
        # Typing goes on while offline: each line waits, marked pending.
        await send_line(pilot, "typed offline 1")
        await send_line(pilot, "typed offline 2")
        await wait_for(pilot, lambda: has_line(app, "typed offline 2 …"))
        assert has_line(app, "typed offline 1 …")
        second = await make_server(port=port)
        await wait_for(pilot, lambda: has_line(app, "typed offline 2 ✓"), what="resent")
        assert has_line(app, "typed offline 1 ✓")
        assert has_line(app, f"reconnected at {FIXED_TIME}; 2 queued messages sent")
        assert header.state is State.ONLINE
        assert not app.screen.query_one("#users", UserList).has_class("-offline")
        peer = await JsonPeer.connect(second.port)
        try:
            history = [m["text"] for m in (await peer.hello("watcher"))["history"]]
        finally:
            await peer.close()
        assert history == ["typed offline 1", "typed offline 2"]  # each once, nothing old


async def test_lost_ack_is_resent_once_and_shown_sent(server, peers) -> None:
    bob = await peers("bob")
    proxy = await Proxy(server.port).start()
    try:
        app = make_app(proxy.port)
        async with running(app) as pilot:
            await joined(pilot)
            await bob.expect("joined")
            proxy.drop_downstream = True  # the ack dies with the link
            await send_line(pilot, "only once please")
            first = await bob.expect("message")
            assert first["text"] == "only once please"
            assert has_line(app, "only once please …")
            proxy.drop_downstream = False
            proxy.cut()
            await wait_for(pilot, lambda: has_line(app, "1 unacknowledged message resent"))
            await wait_for(pilot, lambda: has_line(app, "only once please ✓"))
            await bob.send(type="history", room="general")
            frames = []
            while (frame := await bob.recv())["type"] != "history":
                frames.append(frame)
            texts = [m["text"] for m in frame["messages"]]
            assert texts.count("only once please") == 1
            assert [f for f in frames if f["type"] == "message"] == []
    finally:
        await proxy.close()


async def test_messages_missed_while_offline_are_shown_after_reconnect(server, peers) -> None:
    bob = await peers("bob")
    proxy = await Proxy(server.port).start()
    try:
        app = make_app(proxy.port)
        async with running(app) as pilot:
            await joined(pilot)
            await bob.say("seen live")
            await wait_for(pilot, lambda: has_line(app, "bob: seen live"))
            proxy.blackhole = True  # the link is silent but not closed
            await bob.say("said during the gap")
            proxy.blackhole = False
            proxy.cut()
            await wait_for(pilot, lambda: has_line(app, "reconnected at"))
            lines = log_lines(app)
            gap = next(i for i, line in enumerate(lines) if "missed while offline" in line)
            missed = next(i for i, line in enumerate(lines) if "said during the gap" in line)
            assert gap < missed
            assert log_text(app).count("bob: seen live") == 1  # not repeated
    finally:
        await proxy.close()


async def test_a_restarted_server_whose_seq_went_backwards(server, peers) -> None:
    """A server that numbers from scratch after a restart (allowed for servers
    other than ours): the log says it restarted and still shows what was said
    there while we were away."""
    from conexion_server.config import ServerConfig
    from conexion_server.hub import Hub, HubConfig
    from conexion_server.server import ChatServer

    class CountingFromOne(Hub):
        def seq_floor(self) -> int:
            return 0

    bob = await peers("bob")
    proxy = await Proxy(server.port).start()
    fresh = ChatServer(ServerConfig(host="127.0.0.1", port=0), hub=CountingFromOne(HubConfig()))
    await fresh.start()
    carol = await JsonPeer.connect(fresh.port)
    try:
        app = make_app(proxy.port)
        async with running(app) as pilot:
            await joined(pilot)
            await bob.say("on the old server")
            await wait_for(pilot, lambda: has_line(app, "bob: on the old server"))
            proxy.target_port = free_port()  # the server is gone...
            proxy.cut()
            await wait_for(pilot, lambda: has_line(app, "connection lost at"))
            await carol.hello("carol")  # ...and back, numbering from 1
            await carol.say("said after the restart")
            proxy.target_port = fresh.port
            await wait_for(pilot, lambda: has_line(app, "reconnected at"), what="reconnect")
            assert has_line(app, "the server was restarted; its history starts again")
            lines = log_lines(app)
            gap = next(i for i, line in enumerate(lines) if "missed while offline" in line)
            said = next(i for i, line in enumerate(lines) if "said after the restart" in line)
            assert gap < said
    finally:
        await carol.close()
        await proxy.close()
        await fresh.stop()
