"""A cluster: several conexion-server instances serving one chat through a
real redis-server. The whole protocol suite also runs against two instances
(tests/server/conftest.py); these tests are about what only a cluster has:
three instances, a killed instance, and Redis going away and coming back."""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from conexion_server.config import ServerConfig
from conexion_server.hub import HubConfig
from conexion_server.server import ChatServer
from tests.peers import JsonPeer, TextPeer
from tests.redis_server import RedisServer
from tests.server.test_process import Running, run, server_command, wait_listening

pytestmark = pytest.mark.timeout(90)

FAST = HubConfig(rate=1000.0, burst=1000, quiet_arrival=0.0)
_chats = itertools.count(1)

Instances = Callable[..., Awaitable[list[ChatServer]]]


@pytest.fixture
async def instances(redis_server: RedisServer) -> AsyncIterator[Instances]:
    """`await instances(3)`: that many instances of one new chat (its own key
    prefix on the session's Redis), all stopped at the end of the test."""
    started: list[ChatServer] = []

    async def start(count: int, url: str | None = None, **options: Any) -> list[ChatServer]:
        config = ServerConfig(
            host="127.0.0.1",
            port=0,
            hub=FAST,
            cluster=url or redis_server.url,
            cluster_prefix=f"c{next(_chats)}:",
            **options,
        )
        servers = [ChatServer(config) for _ in range(count)]
        for server in servers:
            await server.start()
            started.append(server)
        return servers

    yield start
    for server in started:
        await server.stop()


async def messages(peer: JsonPeer, count: int) -> list[dict[str, Any]]:
    """The next `count` room messages this peer receives."""
    got = []
    while len(got) < count:
        frame = await peer.expect_any("message")
        if frame["type"] == "message":
            got.append(frame)
    return got


async def test_three_instances_are_one_chat(instances: Instances, connect) -> None:
    a, b, c = await instances(3)
    ana = await connect(a, "ana")
    bob = await connect(b, "bob")
    cho = await connect(c, "cho")
    # Everyone hears of the later joins, wherever they happened.
    assert (await ana.expect("joined"))["name"] == "bob"
    assert (await ana.expect("joined"))["name"] == "cho"
    assert (await bob.expect("joined"))["name"] == "cho"
    # One user list, asked of any instance.
    for peer in (ana, bob, cho):
        await peer.send(type="who")
        assert (await peer.expect("users"))["users"] == ["ana", "bob", "cho"]

    ack = await ana.say("hola desde a")
    assert ack["type"] == "ack"
    for peer in (bob, cho):
        [message] = await messages(peer, 1)
        assert (message["seq"], message["from"], message["text"]) == (
            ack["seq"],
            "ana",
            "hola desde a",
        )
    # The sender hears only its ack: nothing else is waiting for it.
    assert [f for f in await ana.sync() if f["type"] == "message"] == []


async def test_concurrent_senders_on_three_instances_get_one_seq_order(
    instances: Instances, connect
) -> None:
    servers = await instances(3)
    names = ["ana", "bob", "cho"]
    peers = [await connect(server, name) for server, name in zip(servers, names, strict=True)]
    listener = await connect(servers[0], "dan")
    each = 30

    async def talk(peer: JsonPeer) -> tuple[list[int], list[int]]:
        """Send `each` messages; the seqs of the acks, and of the others'
        messages, as they came."""
        for i in range(each):
            await peer.send(type="say", id=f"{peer.name}-{i}", text=f"{peer.name} {i}")
        acks: list[int] = []
        heard: list[int] = []
        while len(acks) < each or len(heard) < 2 * each:
            frame = await peer.expect_any("ack", "message")
            (acks if frame["type"] == "ack" else heard).append(frame["seq"])
        return acks, heard

    results = await asyncio.gather(*(talk(peer) for peer in peers))
    all_acked = sorted(itertools.chain.from_iterable(acks for acks, _ in results))
    assert len(set(all_acked)) == 3 * each  # no seq given twice
    for acks, heard in results:
        assert acks == sorted(acks)  # a sender's own messages keep their order
        # Each sender hears everyone else's messages once, in seq order.
        assert heard == sorted(set(all_acked) - set(acks))
    # And so does a listener on one of the instances.
    heard = await messages(listener, 3 * each)
    assert [m["seq"] for m in heard] == all_acked


async def test_a_resend_through_another_instance_is_not_doubled(
    instances: Instances, connect
) -> None:
    a, b = await instances(2)
    bob = await connect(b, "bob")
    ana = await connect(a, "ana")
    first = await ana.say("only once", id="k3f9-1")
    [relayed] = await messages(bob, 1)
    await ana.close()
    assert (await bob.expect("left"))["name"] == "ana"

    # The client reconnects through the other instance and resends.
    again = await connect(b, "ana")
    repeat = await again.say("only once", id="k3f9-1")
    assert (repeat["type"], repeat["seq"], repeat["ts"]) == ("ack", first["seq"], first["ts"])
    assert relayed["seq"] == first["seq"]
    after = await bob.sync()
    assert [f for f in after if f["type"] == "message"] == []
    # History holds it once.
    await bob.send(type="history", room="general", limit=50)
    history = await bob.expect("history")
    assert [m["text"] for m in history["messages"]].count("only once") == 1


async def test_names_are_unique_across_the_cluster(instances: Instances, connect) -> None:
    a, b = await instances(2)
    await connect(a, "José")
    rival = await JsonPeer.connect(b.port)
    try:
        await rival.send(type="hello", name="JOSÉ", proto=1)
        error = await rival.expect("error")
        assert error["code"] == "name_taken"
        # The connection stays open for another try.
        welcome = (await rival.send(type="hello", name="pepe", proto=1), await rival.recv())[1]
        assert welcome["type"] == "welcome"
        assert welcome["users"] == ["José", "pepe"]
    finally:
        await rival.close()


async def test_dm_and_rename_cross_instances(instances: Instances, connect) -> None:
    a, b = await instances(2)
    ana = await connect(a, "ana")
    bob = await connect(b, "bob")
    await ana.send(type="dm", id="d1", to="BOB", text="psst")
    ack = await ana.expect("ack")
    dm = await bob.expect("dm")
    assert (dm["seq"], dm["from"], dm["to"], dm["text"]) == (ack["seq"], "ana", "bob", "psst")

    await bob.send(type="nick", name="roberto")
    renamed = await ana.expect("renamed")
    assert (renamed["old"], renamed["new"]) == ("bob", "roberto")
    await ana.send(type="dm", id="d2", to="bob", text="still there?")
    assert (await ana.expect("error"))["code"] == "no_such_user"
    await ana.send(type="who")
    assert (await ana.expect("users"))["users"] == ["ana", "roberto"]


async def test_text_users_on_different_instances_chat(instances: Instances) -> None:
    a, b = await instances(2)
    ana = await TextPeer.connect(a.port)
    bob = await TextPeer.connect(b.port)
    try:
        await ana.type("ana")
        await ana.until(" online: ")
        await bob.type("bob")
        await bob.until(" online: ana, bob")
        await ana.until("* bob joined")
        await ana.type("hello from a")
        assert await ana.until("* sent") == "* sent"
        assert (await bob.until("ana: hello from a")).endswith("] ana: hello from a")
    finally:
        await ana.close()
        await bob.close()


async def test_a_new_instance_loads_users_and_history(instances: Instances, connect) -> None:
    [a] = await instances(1)
    ana = await connect(a, "ana")
    for i in range(5):
        assert (await ana.say(f"before {i}"))["type"] == "ack"
    # Another instance of the same chat, started later.
    b = ChatServer(a.config)
    await b.start()
    try:
        bob = await JsonPeer.connect(b.port)
        welcome = await bob.hello("bob")
        assert welcome["users"] == ["ana", "bob"]
        assert [m["text"] for m in welcome["history"]] == [f"before {i}" for i in range(5)]
        await bob.send(type="who")
        assert (await bob.expect("users"))["users"] == ["ana", "bob"]
        await bob.send(type="history", room="general", limit=10)
        history = await bob.expect("history")
        assert [m["text"] for m in history["messages"]] == [f"before {i}" for i in range(5)]
        await bob.close()
    finally:
        await b.stop()


# -- failures: a killed instance, Redis going away ---------------------------------


async def start_instance(url: str, prefix: str) -> Running:
    proc = await run(
        *server_command(),
        "--port",
        "0",
        "--cluster",
        url,
        "--cluster-prefix",
        prefix,
        "--log-level",
        "warning",
    )
    return Running(proc, await wait_listening(proc))


async def test_a_killed_instance_s_users_are_announced_lost(
    redis_server: RedisServer, connect
) -> None:
    prefix = f"k{next(_chats)}:"
    doomed = await start_instance(redis_server.url, prefix)
    alive = await start_instance(redis_server.url, prefix)
    try:
        bob = await connect(alive, "bob")
        await connect(doomed, "ana")
        assert (await bob.expect("joined"))["name"] == "ana"

        doomed.proc.send_signal(signal.SIGKILL)
        await doomed.proc.wait()
        # The presence deadline is 5 s by default; "in time" is within 10 s.
        left = await bob.expect("left", timeout=10.0)
        assert (left["name"], left["reason"]) == ("ana", "lost")

        # The survivors keep serving: a new user joins, chats, takes the name back.
        cho = await connect(alive, "cho")
        assert (await bob.expect("joined"))["name"] == "cho"
        assert (await cho.say("still here"))["type"] == "ack"
        assert (await messages(bob, 1))[0]["text"] == "still here"
        again = await connect(alive, "ana")
        assert again.name == "ana"
    finally:
        for running in (doomed, alive):
            if running.proc.returncode is None:
                running.proc.send_signal(signal.SIGTERM)
                await running.finish()


async def test_redis_restart_loses_nothing_acked(
    tmp_path: Path, instances: Instances, connect
) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        a, b = await instances(2, url=redis.url)
        ana = await connect(a, "ana")
        bob = await connect(b, "bob")
        acked = [await ana.say(f"before {i}") for i in range(5)]
        assert {ack["type"] for ack in acked} == {"ack"}
        await messages(bob, 5)

        redis.kill()  # SIGKILL: only the append-only file is left
        refused = await ana.say("while down", id="down-1")
        assert (refused["type"], refused["id"]) == ("error", "down-1")
        assert "unreachable" in refused["message"]
        # The connections stay open: a ping is still answered.
        assert await bob.sync() == []

        redis.start()  # the same port and folder
        # The instances find it again by themselves; the resend goes through.
        reply = await ana.say("while down", id="down-1")
        assert reply["type"] == "ack"
        assert (await messages(bob, 1))[0]["text"] == "while down"

        await bob.send(type="history", room="general", limit=50)
        history = (await bob.expect("history"))["messages"]
        assert [m["seq"] for m in history[:5]] == [ack["seq"] for ack in acked]
        assert [m["text"] for m in history] == [f"before {i}" for i in range(5)] + ["while down"]
        # Presence came through too: nobody was announced as gone.
        await bob.send(type="who")
        assert (await bob.expect("users"))["users"] == ["ana", "bob"]
    finally:
        redis.stop()


async def test_an_unreachable_redis_at_start_is_one_clear_line(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)  # a free port with nothing on it
    proc = await run(*server_command(), "--port", "0", "--cluster", redis.url)
    async with asyncio.timeout(15):
        out, err = await proc.communicate()
    assert proc.returncode == 3
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("conexion-server: ")
    assert f"127.0.0.1:{redis.port}" in lines[0]
    assert b"Traceback" not in err + out


async def test_a_bad_cluster_url_is_a_usage_error() -> None:
    proc = await run(*server_command(), "--cluster", "http://example.invalid/")
    async with asyncio.timeout(15):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"redis://" in err


async def test_many_requests_in_flight_share_one_redis_connection(
    tmp_path: Path, instances: Instances
) -> None:
    """150 users join at once, then each sends at once: every one is welcomed
    and acked (more requests in flight than redis-py's pool has connections),
    and the instance holds a handful of connections to Redis, not one per
    request."""
    redis = RedisServer(tmp_path)
    redis.start()
    count = 150
    try:
        [server] = await instances(1, url=redis.url, max_per_address=1000)
        peers = [await JsonPeer.connect(server.port) for _ in range(count)]
        try:
            for i, peer in enumerate(peers):
                await peer.send(type="hello", name=f"p{i}", proto=1)
            for peer in peers:
                assert (await peer.expect("welcome"))["type"] == "welcome"
            for i, peer in enumerate(peers):
                await peer.send(type="say", id=f"s{i}", text=f"hi from {i}")
            replies = [await peer.expect_any("ack", "error") for peer in peers]
            assert {reply["type"] for reply in replies} == {"ack"}
            assert len({reply["seq"] for reply in replies}) == count
            info = redis_info(redis.port, "clients")
            assert int(info["connected_clients"]) <= 3  # pipeline, follower, this query
        finally:
            for peer in peers:
                await peer.close()
    finally:
        redis.stop()


def redis_info(port: int, section: str) -> dict[str, str]:
    """INFO over a plain socket (one RESP bulk string), so the test needs no
    client library of its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"INFO {section}\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            data += sock.recv(65536)
        header, _, body = data.partition(b"\r\n")
        size = int(header[1:])  # b"$<length>"
        while len(body) < size:
            body += sock.recv(65536)
    lines = body[:size].decode().split("\r\n")
    return dict(line.split(":", 1) for line in lines if ":" in line)


async def test_a_user_redis_forgot_is_told_and_disconnected(
    redis_server: RedisServer, instances: Instances, connect
) -> None:
    """Redis came back without its data (no append-only file): the next
    message of a user it no longer knows is refused, and the connection is
    closed so that the client reconnects and joins again."""
    [server] = await instances(1)
    ana = await connect(server, "ana")
    assert (await ana.say("before"))["type"] == "ack"
    prefix = server.config.cluster_prefix
    # Everything of this chat is gone, as after a restart without its data.
    keys = redis_keys(redis_server.port, prefix)
    assert keys
    redis_command(redis_server.port, "DEL", *keys)
    refused = await ana.say("after", id="lost-1")
    assert (refused["type"], refused["code"], refused["id"]) == ("error", "not_joined", "lost-1")
    assert await ana.closed()
    again = await connect(server, "ana")  # the name is free again in Redis
    assert (await again.say("after", id="lost-1"))["type"] == "ack"


def redis_keys(port: int, prefix: str) -> list[str]:
    """Every key under `prefix` (a KEYS reply parsed just enough)."""
    reply = redis_command(port, "KEYS", f"{prefix}*").decode().split("\r\n")
    return [line for line in reply[2::2] if line]


def redis_command(port: int, *args: str) -> bytes:
    """One command over a plain socket (RESP); the raw reply."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        return sock.recv(65536)
