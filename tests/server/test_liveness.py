"""Liveness: abrupt disconnects, the heartbeat, and idle connections, with short
ping_after/idle_timeout options so each test takes a second or less."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.peers import WAIT, JsonPeer, TextPeer

FAST = {"ping_after": 0.2, "idle_timeout": 0.6}


async def expect_alive(peer: JsonPeer, type: str, timeout: float = WAIT) -> dict:
    """The next frame of `type`, answering the server's pings meanwhile."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await peer.recv()
            if frame["type"] == "ping":
                await peer.send(type="pong", t=frame.get("t"))
            elif frame["type"] == type:
                return frame


# -- abrupt disconnects -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_abrupt_disconnect_is_lost(peers, text_peers, how: str) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    cleo = await text_peers("cleo")
    await ana.expect("joined")
    if how == "rst":
        ana.reset()
    else:
        await ana.close()
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "lost")
    assert await cleo.until("ana left") == "* ana left (lost)"
    await bob.send(type="who")
    assert (await bob.expect("users"))["users"] == ["bob", "cleo"]


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_a_text_user_who_drops_is_lost(peers, text_peers, how: str) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    if how == "rst":
        bob.reset()
    else:
        await bob.close()
    left = await ana.expect("left")
    assert (left["name"], left["reason"]) == ("bob", "lost")


async def test_a_drop_in_the_middle_of_a_line(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send_raw(b'{"type":"say","id":"half","text":"never fin')
    await ana.close()
    left = await bob.expect("left")
    assert left["reason"] == "lost"
    assert [f for f in await bob.sync() if f["type"] == "message"] == []


# -- heartbeat ---------------------------------------------------------------------------


async def test_a_silent_json_user_is_pinged_then_dropped_as_timeout(make_server, connect) -> None:
    server = await make_server(**FAST)
    watcher = await connect(server, "watcher")
    await watcher.sync()
    started = time.monotonic()
    ana = await connect(server, "ana")
    # The watcher answers its own pings all along, so only ana goes.
    watching = asyncio.create_task(expect_alive(watcher, "left"))
    ping = await ana.expect("ping")
    pinged = time.monotonic() - started
    assert isinstance(ping["t"], int)
    assert pinged >= 0.15
    assert await ana.closed()
    assert time.monotonic() - started >= 0.5
    left = await watching
    assert (left["name"], left["reason"]) == ("ana", "timeout")


async def test_a_text_user_sees_the_timeout_too(make_server, connect) -> None:
    server = await make_server(**FAST)
    cleo = await connect(server, "cleo", text=True)
    await connect(server, "ana")
    assert await cleo.until("ana left") == "* ana left (timeout)"


async def test_answering_pings_keeps_a_silent_user(make_server, connect) -> None:
    server = await make_server(ping_after=0.1, idle_timeout=0.3)
    ana = await connect(server, "ana")
    pings = 0
    deadline = time.monotonic() + 1.0  # more than three idle timeouts
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await ana.recv(timeout=left)
        except TimeoutError:
            break
        assert frame["type"] == "ping", frame
        pings += 1
        await ana.send(type="pong", t=frame["t"])
    assert pings >= 3
    assert await ana.sync() == []  # still connected and served
    await ana.send(type="who")
    assert (await ana.expect("users"))["users"] == ["ana"]


async def test_a_ping_follows_every_ping_after_of_silence(make_server, connect) -> None:
    """Not only the first: after a pong, the next ping is due `ping_after`
    later, not when the idle deadline would have been."""
    server = await make_server(ping_after=0.2, idle_timeout=2.0)
    ana = await connect(server, "ana")
    gaps = []
    for _ in range(3):
        quiet_since = time.monotonic()
        ping = await ana.recv()
        gaps.append(time.monotonic() - quiet_since)
        assert ping["type"] == "ping"
        await ana.send(type="pong", t=ping["t"])
    assert all(0.15 <= gap < 1.0 for gap in gaps), gaps


async def test_any_traffic_counts_as_life(make_server, connect) -> None:
    server = await make_server(ping_after=0.1, idle_timeout=0.3)
    ana = await connect(server, "ana")
    started = time.monotonic()
    while time.monotonic() - started < 0.9:
        frames = await ana.sync()  # a client ping every round trip
        assert all(f["type"] == "ping" for f in frames)
        await asyncio.sleep(0.05)  # a chatty client, not a busy loop
    # Three idle timeouts later, still served although it never sent a pong.
    await ana.send(type="who")
    assert (await ana.expect("users"))["users"] == ["ana"]


async def test_a_joined_text_user_is_never_dropped_for_silence(make_server, connect) -> None:
    server = await make_server(ping_after=0.1, idle_timeout=0.3)
    bob: TextPeer = await connect(server, "bob", text=True)
    assert await bob.silent(1.0)  # over three idle timeouts: no ping, no goodbye
    await bob.type("still here")
    assert (await bob.text()) == "* sent"


# -- connections that never join -------------------------------------------------------


async def test_a_connection_that_sends_nothing_is_closed(make_server, connect) -> None:
    server = await make_server(idle_timeout=0.3)
    started = time.monotonic()
    anon = await connect(server)
    assert await anon.closed()
    assert time.monotonic() - started >= 0.25


async def test_a_text_connection_that_never_names_itself_is_told_and_closed(
    make_server, connect
) -> None:
    server = await make_server(idle_timeout=0.3)
    anon: TextPeer = await connect(server, text=True)
    await anon.type("bad name!")
    assert (await anon.text()).startswith("! ")
    assert await anon.until("no name given") == "! no name given in time; bye"
    assert await anon.closed()


async def test_a_json_connection_that_never_says_hello_is_closed(make_server, connect) -> None:
    server = await make_server(**FAST)
    anon = await connect(server)
    await anon.send(type="ping", t="hi")
    assert (await anon.recv())["type"] == "pong"
    assert (await anon.recv())["type"] == "ping"
    assert await anon.closed()


async def test_stopping_right_after_peers_hung_up_is_clean(make_server) -> None:
    # Regression: the server half-closed a socket whose peer had just gone, and
    # the OSError from shutdown() escaped ChatServer.stop().
    from tests.peers import JsonPeer

    server = await make_server()
    ana = await JsonPeer.connect(server.port)
    await ana.hello("ana")
    bob = await JsonPeer.connect(server.port)
    await bob.hello("bob")
    await ana.close()
    bob.reset()
    await server.stop()
    assert not server.connections
