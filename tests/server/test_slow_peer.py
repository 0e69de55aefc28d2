"""A peer that never reads: it is dropped as `slow`, the others keep their
latency, and what the server holds for it never passes `max_output`."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from conexion_server.connection import Connection
from conexion_server.server import ChatServer
from tests.peers import WAIT, JsonPeer

MAX_OUTPUT = 64 * 1024
TEXT = "x" * 2000  # about 2 KB on the wire per message
BATCH = 8


@pytest.fixture
async def stalled() -> AsyncIterator[list[socket.socket]]:
    """Raw sockets that are closed at the end of the test."""
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


async def connect_and_never_read(server: ChatServer, name: str, socks: list) -> Connection:
    """A peer that joins and then never reads a byte, with a tiny receive window."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    socks.append(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    await loop.sock_sendall(sock, b'{"type":"hello","name":"%s","proto":1}\n' % name.encode())
    local = sock.getsockname()
    async with asyncio.timeout(WAIT):
        while True:  # the server has accepted it once it is in the hub
            member = server.hub.find(name)
            if member is not None:
                conn = member.peer.io
                assert conn.transport.get_extra_info("peername") == local
                return conn
            await asyncio.sleep(0.001)


async def round_trip(peer: JsonPeer) -> float:
    started = time.monotonic()
    await peer.sync()
    return time.monotonic() - started


async def test_a_peer_that_never_reads_is_dropped_as_slow(make_server, connect, stalled) -> None:
    server = await make_server(max_output=MAX_OUTPUT, rate=1e6, burst=10**6)
    ana, bob = await connect(server, "ana"), await connect(server, "bob")
    slow_conn = await connect_and_never_read(server, "slow", stalled)

    async def bob_reads() -> tuple[int, dict]:
        count = 0
        while True:
            frame = await bob.recv()
            if frame["type"] == "message":
                count += 1
            elif frame["type"] == "left":
                return count, frame

    reading = asyncio.create_task(bob_reads())
    peak_queued = 0
    rtts: list[float] = []
    sent = 0
    async with asyncio.timeout(20):
        while not reading.done():
            for _ in range(BATCH):
                await ana.send(type="say", id=f"s{sent}", text=TEXT)
                sent += 1
            acks = 0
            while acks < BATCH:
                frame = await ana.recv()
                acks += frame["type"] == "ack"
                if not slow_conn.session.closing:
                    peak_queued = max(peak_queued, slow_conn.queued)
            rtts.append(await round_trip(ana))
            if not slow_conn.session.closing:
                peak_queued = max(peak_queued, slow_conn.queued)
    received, left = await reading
    assert (left["name"], left["reason"]) == ("slow", "slow")
    # The healthy reader got everything (in a cluster, messages sent before
    # the drop can come after the `left`: the log orders them), the slow one
    # did not stall anyone, and what the server held for it stayed under the bound.
    while received < sent:
        received += (await bob.recv())["type"] == "message"
    assert [f for f in await bob.sync() if f["type"] == "message"] == []
    assert max(rtts) < 0.5, rtts
    assert peak_queued <= MAX_OUTPUT
    assert slow_conn.session.closing
    assert slow_conn.queued == 0
    assert slow_conn not in server.connections
    assert server.hub.find("slow") is None
    # Plenty was sent past the bound: the drop was not premature.
    assert sent * len(TEXT) > MAX_OUTPUT


async def test_many_slow_peers_cost_bounded_memory(make_server, connect, stalled) -> None:
    server = await make_server(max_output=MAX_OUTPUT, rate=1e6, burst=10**6)
    ana = await connect(server, "ana")
    slow = [await connect_and_never_read(server, f"slow{i}", stalled) for i in range(4)]
    sent = 0
    peak_total = 0
    tracemalloc.start()
    try:
        async with asyncio.timeout(20):
            while server.hub.names() != ["ana"]:
                for _ in range(BATCH):
                    await ana.send(type="say", id=f"m{sent}", text=TEXT)
                    sent += 1
                for _ in range(BATCH):
                    await ana.expect_any("ack")
                peak_total = max(peak_total, sum(c.queued for c in slow if not c.session.closing))
                assert await round_trip(ana) < 0.5
        _, peak_memory = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_total <= len(slow) * MAX_OUTPUT
    # Each slow peer was sent megabytes; the process (server, with its history
    # and remembered ids, and the test client together) held a small part of it.
    owed = sent * len(TEXT) * len(slow)
    assert owed > 8 * 1024 * 1024
    assert peak_memory < len(slow) * MAX_OUTPUT + 2 * 1024 * 1024 < owed / 2, peak_memory
    left = [f for f in await ana.sync() if f["type"] == "left"]
    assert all(f["reason"] == "slow" for f in left)


async def test_a_reader_that_keeps_up_is_never_dropped(make_server, connect) -> None:
    """The bound is about unread output, not about volume."""
    server = await make_server(max_output=MAX_OUTPUT, rate=1e6, burst=10**6)
    ana, bob = await connect(server, "ana"), await connect(server, "bob")
    total = 0
    for batch in range(20):
        for i in range(BATCH):
            await ana.send(type="say", id=f"b{batch}-{i}", text=TEXT)
        for _ in range(BATCH):
            assert (await ana.expect_any("ack"))["type"] == "ack"
        for _ in range(BATCH):
            assert (await bob.expect("message"))["text"] == TEXT
        total += BATCH * len(TEXT)
    assert total > 4 * MAX_OUTPUT
    assert server.hub.names() == ["ana", "bob"]


@pytest.mark.single_server("about the SQLite store's commits")
async def test_a_burst_on_a_durable_server_cuts_no_reader(make_server, connect, tmp_path) -> None:
    # Everything sent while a commit is written is released at once when it
    # is done. That burst is no reader's fault: a peer that reads all it is
    # sent is never cut as slow, and nothing is lost. Reading stops instead
    # when too much waits for a commit (max_uncommitted).
    server = await make_server(
        db=str(tmp_path / "burst.db"),
        max_output=32 * 1024,
        max_uncommitted=400,
        rate=1e6,
        burst=10**6,
    )
    senders = [await connect(server, f"s{i}") for i in range(4)]
    reader = await connect(server, "reader")
    each = 500
    text = "x" * 100
    for n in range(each):
        for i, peer in enumerate(senders):
            peer.writer.write(
                json.dumps({"type": "say", "id": f"{i}-{n}", "text": text}).encode() + b"\n"
            )
    for peer in senders:
        await peer.writer.drain()
    got = 0
    async with asyncio.timeout(30):
        while got < each * len(senders):
            frame = await reader.recv()
            assert frame["type"] != "left", frame
            got += frame["type"] == "message"
    assert server.hub.find("reader") is not None


@pytest.mark.single_server("about the SQLite store's commits")
async def test_lines_already_read_wait_for_the_commit_too(
    make_server, connect, tmp_path, monkeypatch
) -> None:
    # One read can bring thousands of lines. While too much waits for a
    # commit, the ones already read must wait as well, not only the socket:
    # served a share per turn, they would make the next batch (and the burst
    # its commit releases) as big as everything the peer sent.
    bound, share = 200, 50
    server = await make_server(
        db=str(tmp_path / "bound.db"),
        max_uncommitted=bound,
        max_lines_per_turn=share,
        rate=1e6,
        burst=10**6,
    )
    store, gate = server.hub.store, server.gate
    ana = await connect(server, "ana")
    bob = await connect(server, "bob")
    opened = threading.Event()
    sizes: list[int] = []
    real_write = store.write

    def write(batch) -> None:  # the writer thread: held until the test opens it
        opened.wait(10)
        real_write(batch)

    taken = [store.writes()]  # the writes of the batches taken so far

    def take_batch():
        batch = real_take_batch()
        sizes.append(batch.upto - taken[0])
        taken[0] = batch.upto
        return batch

    real_take_batch = store.take_batch
    monkeypatch.setattr(store, "write", write)
    monkeypatch.setattr(store, "take_batch", take_batch)
    count = 2_000
    ana.writer.write(
        b"".join(
            json.dumps({"type": "say", "id": f"k{n}", "text": f"m{n}"}).encode() + b"\n"
            for n in range(count)
        )
    )
    await ana.writer.drain()
    # Loop turns enough for the server to read the whole write and serve all
    # of it a share per turn (the bug), while the first commit is held; then
    # a few more, in which nothing more may be served.
    for _ in range(100 + count // share * 10):
        if gate.backlog >= count - share:
            break
        await asyncio.sleep(0)
    for _ in range(100):
        await asyncio.sleep(0)
    opened.set()
    got = 0
    async with asyncio.timeout(30):
        while got < count:
            frame = await bob.expect("message")
            assert frame["text"] == f"m{got}"
            got += 1
    # Each message is one write (its row, which holds its send id).
    assert sizes
    assert max(sizes) <= bound + 2 * share, sizes
