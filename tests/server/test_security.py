"""Access control on real sockets: the shared password (JSON and plain text),
the backoff after wrong passwords, the hello deadline (slowloris) and the
per-address connection cap."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests.peers import JsonPeer, TextPeer, until

SECRET = b"s3cret pass"
NO_DELAY = {"password": SECRET, "password_delays": (0.0,)}


# -- the password, JSON clients ----------------------------------------------------------


async def test_right_password_joins(make_server, connect) -> None:
    server = await make_server(**NO_DELAY)
    peer = await connect(server)
    await peer.send(type="hello", name="ana", proto=1, password=SECRET.decode())
    assert (await peer.recv())["type"] == "welcome"


async def test_missing_password_is_refused_and_the_connection_stays_open(
    make_server, connect
) -> None:
    server = await make_server(**NO_DELAY)
    peer = await connect(server)
    await peer.send(type="hello", name="ana", proto=1)
    error = await peer.recv()
    assert error["type"] == "error"
    assert error["code"] == "bad_password"
    assert "password" in error["message"]
    assert server.hub.names() == []
    await peer.send(type="hello", name="ana", proto=1, password=SECRET.decode())
    assert (await peer.recv())["type"] == "welcome"


async def test_wrong_password_is_refused_then_a_retry_works(make_server, connect) -> None:
    server = await make_server(**NO_DELAY)
    peer = await connect(server)
    for guess in ("s3cret", "s3cret pass ", "", "S3CRET PASS"):
        await peer.send(type="hello", name="ana", proto=1, password=guess)
        error = await peer.recv()
        assert (error["type"], error["code"]) == ("error", "bad_password")
    await peer.send(type="hello", name="ana", proto=1, password=SECRET.decode())
    assert (await peer.recv())["type"] == "welcome"


async def test_a_password_sent_to_a_server_without_one_is_ignored(server, connect) -> None:
    peer = await connect(server)
    await peer.send(type="hello", name="ana", proto=1, password="anything")
    assert (await peer.recv())["type"] == "welcome"


async def test_the_password_is_never_logged(make_server, connect, caplog) -> None:
    server = await make_server(**NO_DELAY)
    caplog.set_level(logging.DEBUG)
    peer = await connect(server)
    await peer.send(type="hello", name="ana", proto=1, password="my-wrong-guess")
    await peer.recv()
    await peer.send(type="hello", name="ana", proto=1, password=SECRET.decode())
    await peer.recv()
    assert "wrong password" in caplog.text
    assert "my-wrong-guess" not in caplog.text
    assert SECRET.decode() not in caplog.text
    assert SECRET.decode() not in repr(server.config)


async def test_only_the_hello_is_served_before_the_password(make_server, connect) -> None:
    server = await make_server(**NO_DELAY)
    peer = await connect(server)
    await peer.send(type="say", id="x1", text="hi")
    assert (await peer.recv())["code"] == "not_joined"


# -- the password, plain-text clients -----------------------------------------------------


async def test_text_user_is_asked_for_the_password_after_the_name(make_server, connect) -> None:
    server = await make_server(**NO_DELAY)
    watcher = await connect(server)
    await watcher.send(type="hello", name="watcher", proto=1, password=SECRET.decode())
    await watcher.recv()
    nc = await connect(server, text=True)
    await nc.type("bob")
    assert await nc.text() == "* password:"
    await nc.type("wrong")
    assert await nc.text() == "! wrong password; password:"
    await nc.type("")  # a blank line is not an attempt
    await nc.type(SECRET.decode())
    welcome = await nc.until(" online: ")
    assert "bob" in welcome
    joined = await watcher.expect("joined")
    assert joined["name"] == "bob"


async def test_text_user_with_a_bad_name_is_not_asked_for_the_password(
    make_server, connect
) -> None:
    server = await make_server(**NO_DELAY)
    nc = await connect(server, text=True)
    await nc.type("ana smith")
    line = await nc.text()
    assert line.startswith("! ")
    assert line.endswith("type another name:")
    await nc.type("ana")
    assert await nc.text() == "* password:"


async def test_text_user_whose_name_is_taken_is_not_asked_twice(make_server, connect) -> None:
    server = await make_server(**NO_DELAY)
    holder = await connect(server)
    await holder.send(type="hello", name="ana", proto=1, password=SECRET.decode())
    await holder.recv()
    nc = await connect(server, text=True)
    await nc.type("ana")
    assert await nc.text() == "* password:"
    await nc.type(SECRET.decode())
    assert "taken" in await nc.text()
    await nc.type("anita")
    assert "anita" in await nc.until(" online: ")


async def test_the_text_password_is_never_echoed(make_server, connect) -> None:
    server = await make_server(**NO_DELAY)
    nc = await connect(server, text=True)
    await nc.type("bob")
    await nc.text()
    await nc.type("not-it")
    await nc.type(SECRET.decode())
    lines = [await nc.text(), *(await nc.sync())]
    assert not any("not-it" in line or SECRET.decode() in line for line in lines)


# -- backoff after repeated failures --------------------------------------------------------


async def test_repeated_failures_are_answered_ever_more_slowly(make_server, connect) -> None:
    # Injected schedule: the 1st failure is answered at once, the 2nd after
    # 0.3 s, the 3rd and later after 0.6 s. Bounds are generous on the high side.
    server = await make_server(password=SECRET, password_delays=(0.0, 0.3, 0.6))
    peer = await connect(server)
    took = []
    for _ in range(3):
        start = time.monotonic()
        await peer.send(type="hello", name="ana", proto=1, password="guess")
        assert (await peer.recv())["code"] == "bad_password"
        took.append(time.monotonic() - start)
    assert took[0] < 0.25
    assert 0.3 <= took[1] < 3.0
    assert 0.6 <= took[2] < 3.0


@pytest.mark.single_server("each instance counts wrong passwords by address")
async def test_backoff_follows_the_address_across_connections(make_server, connect) -> None:
    server = await make_server(password=SECRET, password_delays=(0.0, 0.5))
    first = await connect(server)
    await first.send(type="hello", name="ana", proto=1, password="guess")
    assert (await first.recv())["code"] == "bad_password"
    await first.close()
    second = await connect(server)
    start = time.monotonic()
    await second.send(type="hello", name="ana", proto=1, password="guess")
    assert (await second.recv())["code"] == "bad_password"
    assert time.monotonic() - start >= 0.5


async def test_a_held_back_answer_does_not_stall_other_peers(make_server, connect) -> None:
    server = await make_server(password=SECRET, password_delays=(3.0,))
    guesser = await connect(server)
    await guesser.send(type="hello", name="mallory", proto=1, password="guess")
    # Pipelined behind the wrong password: held back with it, then served in order.
    await guesser.send(type="ping", t="after")
    other = await connect(server)
    start = time.monotonic()
    await other.send(type="ping", t=1)
    assert (await other.recv())["type"] == "pong"
    assert time.monotonic() - start < 1.0
    assert (await guesser.recv(timeout=6))["code"] == "bad_password"
    assert (await guesser.recv())["t"] == "after"


@pytest.mark.single_server("each instance counts wrong passwords by address")
async def test_a_right_password_resets_the_count(make_server, connect) -> None:
    server = await make_server(password=SECRET, password_delays=(0.0, 5.0))
    peer = await connect(server)
    await peer.send(type="hello", name="ana", proto=1, password="guess")
    await peer.recv()
    await peer.send(type="hello", name="ana", proto=1, password=SECRET.decode())
    assert (await peer.recv())["type"] == "welcome"
    assert server.backoff.failures("127.0.0.1") == 0
    other = await connect(server)
    await other.send(type="hello", name="bob", proto=1, password="guess")
    assert (await other.recv(timeout=2))["code"] == "bad_password"


async def test_text_users_are_slowed_down_too(make_server, connect) -> None:
    server = await make_server(password=SECRET, password_delays=(0.0, 0.4))
    nc = await connect(server, text=True)
    await nc.type("bob")
    await nc.text()
    await nc.type("guess")
    await nc.text()
    start = time.monotonic()
    await nc.type("guess again")
    assert await nc.text() == "! wrong password; password:"
    assert time.monotonic() - start >= 0.4


# -- the hello deadline (slowloris) ---------------------------------------------------------


async def test_a_silent_peer_is_dropped_at_the_hello_deadline(make_server, connect) -> None:
    server = await make_server(hello_timeout=0.5)
    peer = await connect(server)
    start = time.monotonic()
    assert await peer.closed()
    assert 0.4 <= time.monotonic() - start < 4.0
    await peer.close()
    await until(lambda: not server.connections)


async def test_a_trickling_peer_is_dropped_at_the_hello_deadline(make_server, connect) -> None:
    # One byte every 0.1 s never completes a hello; the idle timeout alone
    # (long here) would never drop it, the hello deadline does.
    server = await make_server(hello_timeout=0.6, idle_timeout=60.0, ping_after=30.0)
    peer = await connect(server)
    start = time.monotonic()
    closed = False
    for byte in b'{"type":"hello","name":"' + b"a" * 200:
        try:
            await peer.send_raw(bytes([byte]))
        except ConnectionError:
            closed = True
            break
        if peer.reader.at_eof() or time.monotonic() - start > 4.0:
            break
        await asyncio.sleep(0.1)
    assert closed or await peer.closed()
    assert 0.5 <= time.monotonic() - start < 5.0


async def test_a_text_user_who_never_gives_a_name_is_told_why(make_server, connect) -> None:
    server = await make_server(hello_timeout=0.5)
    nc = await connect(server, text=True)
    await nc.send_raw(b"al")  # half a name, no newline
    assert await nc.text() == "! no name given in time; bye"
    assert await nc.closed()


async def test_joining_in_time_cancels_the_hello_deadline(make_server, connect) -> None:
    server = await make_server(hello_timeout=0.4, ping_after=30.0, idle_timeout=60.0)
    peer = await connect(server, "ana")
    nc = await connect(server, "bob", text=True)
    await asyncio.sleep(0.8)
    assert (await peer.sync()) is not None
    assert await nc.sync() is not None
    assert sorted(server.hub.names()) == ["ana", "bob"]


# -- connections per address ----------------------------------------------------------------


@pytest.mark.single_server("--max-per-address counts one instance's connections")
async def test_one_connection_over_the_cap_is_refused_and_closed(make_server, connect) -> None:
    server = await make_server(max_per_address=3)
    held = [await connect(server) for _ in range(3)]
    extra = await connect(server)
    refusal = await extra.recv()
    assert refusal["type"] == "error"
    assert refusal["code"] == "server_full"
    assert "too many connections from your address" in refusal["message"]
    assert await extra.closed()
    # The ones inside the cap still work.
    for i, peer in enumerate(held):
        await peer.hello(f"user{i}")


@pytest.mark.single_server("--max-per-address counts one instance's connections")
async def test_the_cap_frees_a_slot_when_a_connection_closes(make_server, connect) -> None:
    server = await make_server(max_per_address=2)
    first = await connect(server, "ana")
    await connect(server, "bob")
    await first.close()
    await until(lambda: server.per_address.get("127.0.0.1", 0) == 1)
    third = await connect(server)
    await third.hello("cleo")
    assert sorted(server.hub.names()) == ["bob", "cleo"]


@pytest.mark.single_server("--max-per-address counts one instance's connections")
async def test_the_refusal_is_readable_for_a_text_user(make_server) -> None:
    server = await make_server(max_per_address=1)
    first = await TextPeer.connect(server.port)
    second = await TextPeer.connect(server.port)
    try:
        line = await second.text()
        assert "too many connections from your address (the limit is 1)" in line
        assert await second.closed()
    finally:
        await first.close()
        await second.close()


@pytest.mark.single_server("--max-per-address counts one instance's connections")
async def test_the_cap_leaves_no_count_behind(make_server) -> None:
    server = await make_server(max_per_address=2)
    peers = [await JsonPeer.connect(server.port) for _ in range(4)]
    for peer in peers:
        await peer.close()
    await until(lambda: not server.connections)
    assert server.per_address == {}
