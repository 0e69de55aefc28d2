"""The connection class on its own, with no Textual: against a real server,
raw-socket peers, a relay that loses acks, and a hand-written server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from conexion_protocol import MAX_TEXT_LEN, Renamed
from conexion_tui.client import (
    UNREACHABLE,
    Acked,
    ChatClient,
    ClientEvent,
    ConnectionLost,
    Failed,
    JoinError,
    LoginNeeded,
    Received,
    RttMeasured,
    SendStatus,
    State,
    StateChanged,
    Welcomed,
)
from conexion_tui.session import SessionState
from tests.peers import JsonPeer
from tests.tui.conftest import ACCOUNT_PASSWORD, FAST, free_port, register_name
from tests.tui.proxy import Proxy

E = TypeVar("E")


class Harness:
    """A client whose events land in a queue, with `run()` in a task."""

    def __init__(self, port: int, **config: Any) -> None:
        self.events: asyncio.Queue[ClientEvent] = asyncio.Queue()
        self.seen: list[ClientEvent] = []
        self.client = ChatClient("127.0.0.1", port, self.events.put_nowait, replace(FAST, **config))
        self.task: asyncio.Task[None] | None = None

    async def join(self, name: str) -> None:
        await self.client.join(name)
        self.task = asyncio.create_task(self.client.run())

    async def next(self, kind: type[E], timeout: float = 5.0) -> E:
        """The next event of `kind`, skipping others (kept in `seen`)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                self.seen.append(event)
                if isinstance(event, kind):
                    return event

    async def close(self) -> None:
        await self.client.close()
        if self.task is not None:
            async with asyncio.timeout(5):
                await self.task


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    made: list[Harness] = []

    async def make(port: int, name: str | None = "ana", **config: Any) -> Harness:
        h = Harness(port, **config)
        made.append(h)
        if name is not None:
            await h.join(name)
        return h

    yield make
    for h in made:
        await h.close()


async def test_join_says_hello_and_gets_welcome(server, peers, harness) -> None:
    bob = await peers("bob")
    h = await harness(server.port, name=None)
    welcome = await h.client.join("ana")
    assert welcome.name == "ana"
    assert sorted(welcome.users) == ["ana", "bob"]
    assert h.client.state is State.ONLINE
    joined = await bob.expect("joined")
    assert joined["name"] == "ana"


async def test_ids_are_token_plus_counter_and_within_limits(server, harness) -> None:
    h = await harness(server.port)
    ids = [h.client.new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    prefixes = {i.rsplit("-", 1)[0] for i in ids}
    assert len(prefixes) == 1
    assert len(prefixes.pop()) >= 8
    assert all(1 <= len(i) <= 64 for i in ids)
    other = await harness(server.port, name="bea")
    assert other.client.new_id().rsplit("-", 1)[0] != ids[0].rsplit("-", 1)[0]


async def test_say_is_acked_by_id_and_relayed(server, peers, harness) -> None:
    bob = await peers("bob")
    h = await harness(server.port)
    first = h.client.say("hola")
    second = h.client.say("waves", action=True)
    assert first.id != second.id
    assert first.status is SendStatus.PENDING
    acks = [await h.next(Acked), await h.next(Acked)]
    assert [a.out for a in acks] == [first, second]
    assert first.status is SendStatus.SENT
    assert first.seq is not None
    assert first.ts
    assert second.seq == first.seq + 1
    assert h.client.pending == {}
    got = await bob.expect("message")
    assert (got["from"], got["text"], got["seq"]) == ("ana", "hola", first.seq)
    got = await bob.expect("message")
    assert got["action"] is True


async def test_dm_is_acked_and_delivered_to_one(server, peers, harness) -> None:
    bob = await peers("bob")
    h = await harness(server.port)
    out = h.client.dm("bob", "psst")
    assert (await h.next(Acked)).out is out
    got = await bob.expect("dm")
    assert (got["from"], got["to"], got["text"]) == ("ana", "bob", "psst")


async def test_error_with_our_id_fails_that_send(server, harness) -> None:
    # (Not rate_limited any more: the client paces its sends within the rate.)
    h = await harness(server.port)
    ok = h.client.say("one")
    refused = h.client.dm("nobody", "two")
    failed = await h.next(Failed)
    assert failed.out is refused
    assert refused.status is SendStatus.FAILED
    assert refused.error_code == "no_such_user"
    assert ok.status is SendStatus.SENT  # its ack came first, in the order sent


async def test_bad_text_fails_and_other_errors_are_received(server, harness) -> None:
    h = await harness(server.port)
    out = h.client.say("x" * (MAX_TEXT_LEN + 1))
    failed = await h.next(Failed)
    assert failed.out is out
    assert out.error_code == "bad_text"
    assert h.client.nick("not valid!")
    error = await h.next(Received)
    assert error.frame.code == "bad_name"  # type: ignore[union-attr]


async def test_oversized_frame_is_refused_without_sending(server, harness) -> None:
    h = await harness(server.port)
    out = h.client.say("é" * 40_000)  # over 64 KiB of JSON: the server would hang up
    assert out.status is SendStatus.FAILED
    assert out.error_code == "too_long"
    assert h.client.pending == {}
    ok = h.client.say("still connected")
    assert (await h.next(Acked)).out is ok


async def test_bad_and_taken_names_raise_join_error_and_retry_works(server, peers, harness) -> None:
    await peers("bob")
    h = await harness(server.port, name=None)
    with pytest.raises(JoinError) as taken:
        await h.client.join("BOB")
    assert taken.value.code == "name_taken"
    assert "taken" in taken.value.message
    with pytest.raises(JoinError) as bad:
        await h.client.join("ana smith")
    assert bad.value.code == "bad_name"
    assert "space" in bad.value.message
    assert h.client.state is State.CLOSED
    welcome = await h.client.join("ana")
    assert welcome.name == "ana"


async def test_unreachable_server_is_a_join_error_not_a_crash(harness) -> None:
    h = await harness(free_port(), name=None)
    with pytest.raises(JoinError) as exc:
        await h.client.join("ana")
    assert exc.value.code == UNREACHABLE
    assert "connection refused" in exc.value.message


async def test_ping_pong_measures_rtt(server, harness) -> None:
    h = await harness(server.port, first_ping=0.02, ping_interval=0.05)
    rtts = [await h.next(RttMeasured), await h.next(RttMeasured)]
    assert all(0 <= r.seconds < 1 for r in rtts)
    assert h.client.rtt == rtts[-1].seconds


async def test_client_answers_server_pings_and_stays_joined(make_server, peers, harness) -> None:
    server = await make_server(ping_after=0.1, idle_timeout=0.4)
    h = await harness(server.port)  # our own pings are off (FAST)
    await asyncio.sleep(1.0)  # more than twice the idle timeout
    assert h.client.state is State.ONLINE
    bob = await JsonPeer.connect(server.port)
    try:
        welcome = await bob.hello("bob")
        assert "ana" in welcome["users"]
    finally:
        await bob.close()
    assert not any(isinstance(e, ConnectionLost) for e in h.seen)


async def test_close_sends_bye(server, peers, harness) -> None:
    bob = await peers("bob")
    h = await harness(server.port)
    await bob.expect("joined")
    await h.close()
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "quit")
    assert h.client.state is State.CLOSED


async def test_lost_ack_is_resent_with_same_id_and_not_duplicated(server, peers, harness) -> None:
    """The server stores a message but its ack is lost with the link; after
    the reconnect the client resends the same id and the server, recognising
    it, acks with the original seq and relays nothing twice."""
    bob = await peers("bob")
    proxy = await Proxy(server.port).start()
    try:
        h = await harness(proxy.port)
        await bob.expect("joined")
        proxy.drop_downstream = True
        out = h.client.say("exactly once")
        relayed = await bob.expect("message")
        assert relayed["text"] == "exactly once"
        assert out.status is SendStatus.PENDING  # the ack never arrived
        proxy.drop_downstream = False
        proxy.cut()
        lost = await h.next(ConnectionLost)
        assert lost.reason
        welcomed = await h.next(Welcomed)
        assert welcomed.reconnect
        assert welcomed.resent == 1
        assert welcomed.queued == 0
        acked = await h.next(Acked)
        assert acked.out is out
        assert out.written == 2
        assert out.seq == relayed["seq"]
        await bob.send(type="history", room="general")
        frames = []
        while (frame := await bob.recv())["type"] != "history":
            frames.append(frame)
        assert [m["text"] for m in frame["messages"]].count("exactly once") == 1
        assert not [f for f in frames if f["type"] == "message"]
    finally:
        await proxy.close()


async def test_offline_sends_queue_and_go_out_after_reconnect(make_server, harness) -> None:
    first = await make_server()
    port = first.port
    h = await harness(port)
    before = h.client.say("before the restart")
    await h.next(Acked)
    await first.stop()
    await h.next(ConnectionLost)
    queued = [h.client.say(f"offline {n}") for n in range(3)]
    assert all(q.status is SendStatus.PENDING and q.written == 0 for q in queued)
    second = await make_server(port=port)
    welcomed = await h.next(Welcomed)
    assert (welcomed.resent, welcomed.queued) == (0, 3)
    for out in queued:
        assert (await h.next(Acked)).out is out
    assert before.written == 1  # acked before: never resent
    peer = await JsonPeer.connect(second.port)
    try:
        history = (await peer.hello("carol"))["history"]
    finally:
        await peer.close()
    assert [m["text"] for m in history] == ["offline 0", "offline 1", "offline 2"]


async def test_dead_link_is_noticed_and_replaced(server, harness) -> None:
    proxy = await Proxy(server.port).start()
    try:
        h = await harness(proxy.port, first_ping=0.05, ping_interval=0.05, dead_after=0.3)
        await h.next(RttMeasured)
        proxy.blackhole = True  # nothing gets through, but nothing closes either
        lost = await h.next(ConnectionLost)
        assert "no answer" in lost.reason
        proxy.blackhole = False
        proxy.cut()  # also free the name held by the half-dead server side
        welcomed = await h.next(Welcomed)
        assert welcomed.welcome.name == "ana"
    finally:
        await proxy.close()


async def test_reconnect_keeps_the_new_nick(make_server, harness) -> None:
    first = await make_server()
    port = first.port
    h = await harness(port)
    assert h.client.nick("anita")
    renamed = await h.next(Received)
    while not isinstance(renamed.frame, Renamed):  # general's settings, asked after welcome
        renamed = await h.next(Received)
    assert renamed.frame.new == "anita"
    assert h.client.name == "anita"
    await first.stop()
    await make_server(port=port)
    welcomed = await h.next(Welcomed)
    assert welcomed.welcome.name == "anita"


def test_backoff_grows_caps_and_jitters() -> None:
    client = ChatClient(
        "127.0.0.1",
        1,
        lambda e: None,
        replace(FAST, backoff_base=0.5, backoff_max=8.0),
        rng=random.Random(7),
    )
    delays = [client.backoff(n) for n in range(10)]
    for n, delay in enumerate(delays):
        ceiling = min(8.0, 0.5 * 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[5:]}) > 1  # capped, but not in step


async def test_big_frames_accepted_and_unknown_frames_ignored(harness) -> None:
    """A hand-written server (real sockets) sends a 1 MiB welcome, frames of
    unknown types, and known frames with unknown fields."""
    users = [f"user{n:06d}" for n in range(60_000)]  # ~1 MiB of JSON

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = json.loads(await reader.readline())
        assert hello["type"] == "hello"
        assert hello["proto"] == 1
        welcome = {
            "type": "welcome",
            "proto": 1,
            "name": hello["name"],
            "server": "hand-written",
            "users": users,
            "rooms": ["general"],
            "history": [],
            "flavour": "unknown field",
        }
        writer.write(json.dumps(welcome).encode() + b"\n")
        writer.write(b'{"type":"fireworks","colour":"red"}\n')
        writer.write(b"this is not json\n")
        message = {
            "type": "message",
            "seq": 1,
            "ts": "2026-11-24T12:00:00.000Z",
            "room": "general",
            "from": "bob",
            "text": "hi",
            "mood": "cheerful",
        }
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
        with contextlib.suppress(OSError):
            await reader.read()  # until the client hangs up
        writer.close()

    hand = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        port = hand.sockets[0].getsockname()[1]
        # This server never hangs up after bye; do not wait long for it.
        h = await harness(port, name=None, close_timeout=0.1)
        welcome = await h.client.join("ana")
        assert len(welcome.users) == 60_000
        h.task = asyncio.create_task(h.client.run())
        received = await h.next(Received)
        assert received.frame.text == "hi"  # type: ignore[union-attr]
        assert h.client.state is State.ONLINE
    finally:
        hand.close()


async def test_a_frame_over_the_limit_is_refused(harness) -> None:
    """The limit is an option: with max_frame=1024, a 2 KiB welcome from a
    hand-written server is a clear join error, not a hang or a crash."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b'{"type":"welcome","motd":"' + b"x" * 2048 + b'"}\n')
        await writer.drain()
        with contextlib.suppress(OSError):
            await reader.read()
        writer.close()

    hand = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        port = hand.sockets[0].getsockname()[1]
        h = await harness(port, name=None, max_frame=1024)
        with pytest.raises(JoinError) as exc:
            await h.client.join("ana")
        assert "too long" in exc.value.message
    finally:
        hand.close()


async def test_close_while_a_reconnect_waits_for_its_welcome(harness) -> None:
    """A hand-written server welcomes the first connection and hangs up on
    it, then answers the next hello only after close() has begun: run() ends
    without taking that connection, without a bye and without another try."""
    connections = 0
    second_hello = asyncio.Event()
    answer = asyncio.Event()
    after_welcome: list[bytes] = []
    hung_up = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        hello = json.loads(await reader.readline())
        welcome = {
            "type": "welcome",
            "proto": 1,
            "name": hello["name"],
            "server": "hand-written",
            "users": [hello["name"]],
            "rooms": ["general"],
            "history": [],
        }
        if connections > 1:
            second_hello.set()
            await answer.wait()
        writer.write(json.dumps(welcome).encode() + b"\n")
        await writer.drain()
        if connections > 1:
            with contextlib.suppress(OSError):
                after_welcome.append(await reader.read())  # until the client hangs up
            hung_up.set()
        writer.close()

    hand = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        port = hand.sockets[0].getsockname()[1]
        h = await harness(port, hello_timeout=30.0, close_timeout=3.0)
        await h.next(ConnectionLost)
        async with asyncio.timeout(5):
            await second_hello.wait()
        assert h.client.state is State.CONNECTING
        while not h.events.empty():  # what happened before the close
            h.seen.append(h.events.get_nowait())
        closing = asyncio.create_task(h.client.close())
        await asyncio.sleep(0.05)  # close() has closed the session and waits for run()
        assert h.client.session.state is SessionState.CLOSED
        answer.set()
        async with asyncio.timeout(5):
            await closing
            assert h.task is not None
            await h.task  # run() ended at the welcome, not at the hello timeout
        assert h.client.state is State.CLOSED
        assert h.client.online is False
        later: list[ClientEvent] = []
        while not h.events.empty():
            later.append(h.events.get_nowait())
        assert not [e for e in later if isinstance(e, Welcomed | ConnectionLost)]
        assert State.OFFLINE not in [e.state for e in later if isinstance(e, StateChanged)]
        async with asyncio.timeout(5):
            await hung_up.wait()
        assert after_welcome == [b""]  # no bye, nothing at all after the welcome
        assert connections == 2  # no third attempt
    finally:
        hand.close()


# -- accounts -------------------------------------------------------------------------


async def test_a_held_back_wrong_login_is_waited_for_not_timed_out(make_server, harness) -> None:
    # Every wrong password is answered 0.5 s late, longer than the hello timeout.
    server = await make_server(login_delays=(0.5,), password_delays=(0.5,))
    await register_name(server, "ana")
    h = await harness(server.port, name=None, hello_timeout=0.2, login_timeout=5.0)
    with pytest.raises(JoinError) as wrong:
        await h.client.join("ana", account_password="a wrong guess")
    assert wrong.value.code == "bad_login"
    assert wrong.value.ask_user
    with pytest.raises(JoinError) as missing:
        await h.client.join("ana")
    assert (missing.value.code, missing.value.ask_user) == ("login_required", True)
    welcome = await h.client.join("ana", account_password=ACCOUNT_PASSWORD)
    assert welcome.registered


async def test_a_reconnect_refused_for_its_password_waits_for_log_in(
    make_server, harness, tmp_path
) -> None:
    """The operator resets the password while we are online: the reconnect
    is refused, and the client waits for a password instead of guessing."""
    from conexion_server import account_admin

    db = str(tmp_path / "chat.db")
    server = await make_server(db=db, login_delays=(0.0,), password_delays=(0.0,))
    await register_name(server, "ana")
    h = await harness(server.port, name=None)
    await h.client.join("ana", account_password=ACCOUNT_PASSWORD)
    h.task = asyncio.create_task(h.client.run())
    out = io.StringIO()
    assert account_admin.main(["--db", db, "reset", "ana"], ":unused:", out=out) == 0
    one_time = out.getvalue().rsplit("one-time password: ", 1)[1].strip()
    member = server.hub.find("ana")
    member.peer.abort(member.peer.reason)
    needed = await h.next(LoginNeeded)
    assert needed.code == "bad_login"
    assert h.client.waiting_for_login
    assert h.client.state is State.OFFLINE
    h.client.log_in(account_password=one_time)
    welcomed = await h.next(Welcomed)
    assert welcomed.welcome.temporary_password
    assert not h.client.waiting_for_login
    assert h.client.session.account_password == one_time


# -- several servers ---------------------------------------------------------------


async def test_a_dead_server_is_passed_over_for_the_next(make_server) -> None:

    live = await make_server()
    dead = free_port()
    events: list[object] = []
    client = ChatClient("127.0.0.1", dead, events.append, FAST, more=[("127.0.0.1", live.port)])
    welcome = await client.join("ana")
    assert welcome.name == "ana"
    assert client.address == f"127.0.0.1:{live.port}"
    assert client.servers[0] == ("127.0.0.1", live.port)  # tried first next time
    await client.close()


async def test_none_answering_says_which_were_tried() -> None:

    ports = [free_port(), free_port()]
    client = ChatClient("127.0.0.1", ports[0], lambda e: None, more=[("127.0.0.1", ports[1])])
    with pytest.raises(JoinError) as failed:
        await client.join("ana")
    assert failed.value.code == UNREACHABLE
    assert f"127.0.0.1:{ports[0]}, 127.0.0.1:{ports[1]}" in failed.value.message


async def test_every_address_of_a_name_is_tried(make_server) -> None:
    """A name that stands for several addresses (here by an injected
    resolver; both loopback): the first refuses, the second answers."""

    live = await make_server()
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    dead = free_port()
    client = ChatClient(
        "chat.test", dead, lambda e: None, more=[("chat.test", live.port)], resolve=resolve
    )
    await client.join("ana")
    assert asked == [("chat.test", dead), ("chat.test", live.port)]
    await client.close()


async def test_a_reconnect_moves_on_to_the_next_server(make_server) -> None:
    first = await make_server()
    second = await make_server()
    events: list[object] = []
    got = asyncio.Event()

    def on_event(event: object) -> None:
        events.append(event)
        got.set()

    client = ChatClient("127.0.0.1", first.port, on_event, FAST, more=[("127.0.0.1", second.port)])
    await client.join("ana")
    task = asyncio.create_task(client.run())
    await first.stop()
    async with asyncio.timeout(5):
        while not any(isinstance(e, Welcomed) for e in events):
            got.clear()
            await got.wait()
    assert client.address == f"127.0.0.1:{second.port}"
    assert second.hub.find("ana") is not None
    await client.close()
    await task
