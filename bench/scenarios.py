"""Benchmark scenarios. Each takes a started target and returns figures; the
load comes from this process, the server runs in its own."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier

from .targets import Target, cpu_of, rss_of
from .wire import Wire

Figures = dict[str, float]
JOIN_CONCURRENCY = 200  # handshakes in flight at once while connecting many clients
TIMEOUT = 180.0  # seconds a scenario may wait for deliveries before counting loss
CONNECT_ATTEMPTS = 5
RETRIES = [0]  # connections that had to be retried, reported with the join figures
HONEST = 10  # users who keep talking at the default rate while another attacks


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def discard(reader: asyncio.StreamReader) -> None:
    """Keep reading and drop everything, so the server never sees us as slow."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(1 << 16):
            pass


async def join_many(
    target: Target,
    wire: Wire,
    count: int,
    prefix: str,
    *,
    drain: bool = False,
    only: list[int] | None = None,
) -> tuple[
    list[tuple[asyncio.StreamReader, asyncio.StreamWriter]], list[asyncio.Task[None]], float
]:
    """Join `count` clients (at most JOIN_CONCURRENCY handshakes at once).

    With `drain`, each client keeps reading (and dropping) from the moment it
    has joined, as a real client would: a server may cut a client whose queue
    of join notices overflows (ngircd does), and that would measure the
    generator, not the server. Returns the clients, their drain tasks and the
    seconds the joins took. `only`: just these of the `count` clients (the
    share of one generator process).
    """
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)
    drains: list[asyncio.Task[None]] = []

    async def one(i: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with gate:
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    conn = await wire.join(target.port_for(i), f"{prefix}{i}")
                    break
                except ConnectionError:  # a full listen backlog resets; a client retries
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    RETRIES[0] += 1
                    # A server that refused the join (busy) gets a moment, as
                    # from a client that backs off: 0.1, 0.2, 0.4, 0.8 s.
                    await asyncio.sleep(0.1 * 2**attempt)
        if drain:
            drains.append(asyncio.create_task(discard(conn[0])))
        return conn

    start = time.perf_counter()
    RETRIES[0] = 0
    numbers = range(count) if only is None else only
    conns = await asyncio.gather(*(one(i) for i in numbers))
    return list(conns), drains, time.perf_counter() - start


async def close_all(conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in conns:
        writer.close()
    for _, writer in conns:
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@dataclass
class Part:
    """What the clients of one generator process saw in a fan-out."""

    received: int = 0
    refused: int = 0
    latencies: list[float] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)
    end: float = 0.0  # perf_counter (CLOCK_MONOTONIC: one clock for every process)
    cpu: float = 0.0


async def fanout(
    target: Target,
    wire: Wire,
    clients: int,
    each: int,
    pace: float | None,
    count: bool = False,
    procs: int = 1,
) -> Figures:
    """Every client sends `each` messages to the room; all others must get them.

    `pace` is messages per second per client, all senders in step (None: as
    fast as the sockets take them). Latency: send time written in the message
    to the moment the receiving chunk was read. Ack latency (JSON targets):
    the send to the moment its `ack` was read by the sender, which for a
    durable server includes the commit.

    `count`: the readers count each chunk's lines with byte searches instead
    of looking at every line, and take one latency sample a chunk (its last
    relayed line, its last ack). Reading then costs the generator a few
    nanoseconds a delivery instead of about half a microsecond, so that at
    full speed the server, not the generator, sets the pace.

    `procs`: the clients are spread over that many generator processes (this
    one and forked helpers), which start sending at the same moment; the
    generator's CPU is theirs together.
    """
    context = multiprocessing.get_context("fork")
    slices = [range(clients)[k::procs] for k in range(procs)]
    helpers = []
    joined, go = context.Barrier(procs), context.Barrier(procs)  # this process and its helpers
    for numbers in slices[1:]:
        here, there = context.Pipe(duplex=False)
        proc = context.Process(
            target=_helper,
            args=(target, wire, list(numbers), clients, each, pace, count, joined, go, there),
        )
        proc.start()
        helpers.append((proc, here))
    conns, _, _ = await join_many(target, wire, clients, "u", only=list(slices[0]))
    if helpers:
        joined.wait()  # every helper's clients are in
    await asyncio.sleep(0.3)  # let join notices settle before the clock starts
    sides = target.side_pids()
    side0 = {name: cpu_of(pid) for name, pid in sides.items()}
    cpu0 = target.cpu_seconds()
    if helpers:
        go.wait()
    start = time.perf_counter()
    parts = [await _run_part(wire, conns, clients, each, pace, count, start)]
    for proc, here in helpers:
        parts.append(here.recv())
        proc.join()
    elapsed = max(part.end for part in parts) - start
    server_cpu = target.cpu_seconds() - cpu0
    side_cpu = {name: cpu_of(pid) - side0[name] for name, pid in sides.items()}
    await close_all(conns)
    total = sum(part.received for part in parts)
    latencies = [x for part in parts for x in part.latencies]
    ack_latencies = [x for part in parts for x in part.ack_latencies]
    figures = {
        "deliveries_per_s": total / elapsed,
        "lost": clients * each * (clients - 1) - total,
        "refused_sends": sum(part.refused for part in parts),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "messages_per_s": clients * each / elapsed,
        "ack_p50_ms": percentile(ack_latencies, 50) * 1000,
        "ack_p99_ms": percentile(ack_latencies, 99) * 1000,
        # The server's own efficiency, whatever the generator could read: on
        # 2 shared cores the generator saturates first at full speed.
        "deliveries_per_cpu_s": total / server_cpu if server_cpu > 0 else float("nan"),
        "server_cpu_s": server_cpu,
        "generator_cpu_s": sum(part.cpu for part in parts),
        "elapsed_s": elapsed,
        "connect_retries": RETRIES[0],
    }
    for name, cpu in side_cpu.items():  # e.g. a cluster's Redis, also in server_cpu_s
        figures[f"{name}_cpu_s"] = cpu
        figures[f"{name}_us_per_msg"] = cpu / (clients * each) * 1e6
    return figures


def _helper(
    target: Target,
    wire: Wire,
    numbers: list[int],
    clients: int,
    each: int,
    pace: float | None,
    count: bool,
    joined: Barrier,
    go: Barrier,
    out: Connection,
) -> None:
    """A forked generator process: its share of the clients, in a loop of its own."""

    async def main() -> Part:
        conns, _, _ = await join_many(target, wire, clients, "u", only=numbers)
        joined.wait()
        go.wait()
        part = await _run_part(wire, conns, clients, each, pace, count, time.perf_counter())
        await close_all(conns)
        return part

    out.send(asyncio.run(main()))


async def _run_part(
    wire: Wire,
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    clients: int,
    each: int,
    pace: float | None,
    count: bool,
    start: float,
) -> Part:
    """Send and read with this process's clients until each has everything."""
    cpu0 = own_cpu_seconds()
    part = Part()
    expected_each = each * (clients - 1)
    latencies, ack_latencies = part.latencies, part.ack_latencies
    received = [0] * len(conns)
    stamp, ack_of = wire.stamp, wire.ack
    acks_each = each if wire.acks else 0
    sent_at: list[list[float]] = [[0.0] * each for _ in conns]

    async def read_counting(i: int, reader: asyncio.StreamReader) -> None:
        pending = b""
        got = acked = 0
        mine = sent_at[i]
        delivery_mark, ack_mark = wire.delivery_mark, wire.ack_mark
        while got < expected_each or acked < acks_each:
            try:
                chunk = await reader.read(1 << 18)
            except ConnectionError:
                chunk = b""
            if not chunk:
                break
            now = time.perf_counter()
            data = pending + chunk if pending else chunk
            cut = data.rfind(b"\n") + 1
            lines, pending = data[:cut], data[cut:]
            if not lines:
                continue
            delivered, acks, refusals = wire.count(lines)
            got += delivered
            acked += acks + refusals
            part.refused += refusals
            if delivered:
                line = wire.last_line(lines, delivery_mark)
                sent = stamp(line) if line is not None else None
                if sent is not None:
                    latencies.append(now - sent)
            if acks:
                line = wire.last_line(lines, ack_mark)
                n = ack_of(line) if line is not None else None
                if n is not None:
                    ack_latencies.append(now - mine[n])
            received[i] = got
        part.end = max(part.end, time.perf_counter())

    async def read(i: int, reader: asyncio.StreamReader) -> None:
        pending = b""
        got = acked = 0
        mine = sent_at[i]
        while got < expected_each or acked < acks_each:
            try:
                chunk = await reader.read(1 << 18)
            except ConnectionError:
                chunk = b""  # dropped by the server (ngircd's full write buffer): counted lost
            if not chunk:
                break
            now = time.perf_counter()
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                sent = stamp(line)
                if sent is not None:
                    latencies.append(now - sent)
                    got += 1
                    continue
                n = ack_of(line)
                if n is not None:
                    ack_latencies.append(now - mine[n])
                    acked += 1
                elif wire.refusal(line):
                    part.refused += 1
                    acked += 1  # answered; the others now wait for it in vain
            received[i] = got
        part.end = max(part.end, time.perf_counter())

    async def send_full(i: int, writer: asyncio.StreamWriter) -> None:
        mine = sent_at[i]
        for n in range(each):
            mine[n] = now = time.perf_counter()
            writer.write(wire.say(n, repr(now).encode()))
            if n % 50 == 49:
                await writer.drain()
        await writer.drain()

    async def send_paced() -> None:
        assert pace is not None
        for n in range(each):
            await asyncio.sleep(max(0.0, start + n / pace - time.perf_counter()))
            for i, (_, writer) in enumerate(conns):
                sent_at[i][n] = now = time.perf_counter()
                writer.write(wire.say(n, repr(now).encode()))

    reading = read_counting if count else read
    readers = [asyncio.create_task(reading(i, r)) for i, (r, _) in enumerate(conns)]
    if pace is None:
        await asyncio.gather(*(send_full(i, w) for i, (_, w) in enumerate(conns)))
    else:
        await send_paced()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*readers)
    for task in readers:
        if not task.done():
            task.cancel()
            part.end = time.perf_counter()  # gave up: the time counts
    part.received = sum(received)
    part.cpu = own_cpu_seconds() - cpu0
    return part


async def ack_rtt(target: Target, wire: Wire, messages: int) -> Figures:
    """One client, one message in flight: the say -> ack round trip alone.
    On a durable server every message is its own commit (nothing to group
    with), so this is the price of one fsync."""
    if not wire.acks:
        return {"ack_p50_ms": float("nan"), "ack_p99_ms": float("nan")}
    reader, writer = await wire.join(target.port, "pinger")
    rtts: list[float] = []
    for n in range(messages):
        t0 = time.perf_counter()
        writer.write(wire.say(n, b"x"))
        while wire.ack(await reader.readline()) is None:
            pass
        rtts.append(time.perf_counter() - t0)
    writer.close()
    return {
        "ack_p50_ms": percentile(rtts, 50) * 1000,
        "ack_p99_ms": percentile(rtts, 99) * 1000,
        "acks_per_s": messages / sum(rtts),
    }


async def idle(target: Target, wire: Wire, clients: int) -> Figures:
    """Join `clients` silent users; report join time and server RSS per client."""
    sides = target.side_pids()
    base = target.rss_bytes()
    side0 = {name: rss_of(pid) for name, pid in sides.items()}
    cpu0 = target.cpu_seconds()
    conns, drains, took = await join_many(target, wire, clients, "idle", drain=True)
    await asyncio.sleep(1.0)  # let every join notice reach its reader
    rss = target.rss_bytes()
    side = {name: rss_of(pid) - side0[name] for name, pid in sides.items()}
    cpu = target.cpu_seconds() - cpu0
    await close_all(conns)
    for task in drains:
        task.cancel()
    figures = {
        "join_s": took,
        "server_rss_mb": rss / 2**20,
        "rss_per_client_kib": (rss - base) / clients / 1024,
        "server_cpu_s": cpu,
        "connect_retries": RETRIES[0],
    }
    for name, grown in side.items():  # also in rss_per_client_kib
        figures[f"{name}_rss_per_client_kib"] = grown / clients / 1024
    return figures


async def join_storm(target: Target, wire: Wire, clients: int) -> Figures:
    """Join `clients` at once, every join announced to all already in the room."""
    cpu0, own0 = target.cpu_seconds(), own_cpu_seconds()
    conns, drains, took = await join_many(target, wire, clients, "s", drain=True)
    cpu, own = target.cpu_seconds() - cpu0, own_cpu_seconds() - own0
    await close_all(conns)
    for task in drains:
        task.cancel()
    return {
        "storm_s": took,
        "server_cpu_s": cpu,
        "generator_cpu_s": own,
        "connect_retries": RETRIES[0],
    }


async def slow_peer(target: Target, wire: Wire, messages: int) -> Figures:
    """One peer never reads while another talks: the server must drop it as
    slow, its memory must stay bounded and the talker's round trips unaffected."""
    # The receive buffer is set before connecting: afterwards Linux keeps
    # autotuning it (up to tcp_rmem's maximum, 32 MiB here), and the kernel,
    # not the server, would absorb the backlog.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", target.port))
    stalled_reader, stalled = await asyncio.open_connection(sock=sock)
    await wire.handshake(stalled_reader, stalled, "stalled")
    (talk_r, talk_w), (listen_r, _listen_w) = (
        await wire.join(target.port, "talker"),
        await wire.join(target.port, "listener"),
    )
    base = peak = target.rss_bytes()
    text = b"x" * 3900
    rtts: list[float] = []
    dropped_after = float("nan")
    listener = asyncio.create_task(discard(listen_r))
    for n in range(messages):
        t0 = time.perf_counter()
        talk_w.write(wire.say(n, text))
        while not (line := await talk_r.readline()).startswith(b'{"type":"ack"'):
            if b'"type":"left"' in line and b'"reason":"slow"' in line:
                dropped_after = n
        rtts.append(time.perf_counter() - t0)
        if n % 100 == 0:
            peak = max(peak, target.rss_bytes())
    listener.cancel()
    stalled.close()
    talk_w.close()
    return {
        "stalled_dropped_after_msgs": dropped_after,
        "talker_rtt_p50_ms": percentile(rtts, 50) * 1000,
        "talker_rtt_p99_ms": percentile(rtts, 99) * 1000,
        "server_rss_growth_mb": (peak - base) / 2**20,
    }


Scenario = Callable[..., Awaitable[Figures]]


async def rooms(
    target: Target,
    wire: Wire,
    clients: int,
    room_size: int,
    ticks: int,
    senders: int,
    pace: float,
    extra_rooms: int = 0,
) -> Figures:
    """`clients` spread over rooms of `room_size`; every tick (`pace` a
    second) `senders` of them, spread evenly over the rooms, each say one
    message in their room. `extra_rooms` empty rooms exist besides: a
    message's cost must not depend on them. JSON targets only."""
    conns, _, _ = await join_many(target, wire, clients, "r")
    room_of = [f"room{i // room_size}" for i in range(clients)]
    creator = await wire.join(target.port, "creator") if extra_rooms else None
    if creator is not None:
        reader, writer = creator
        for n in range(extra_rooms):
            writer.write(wire.enter(f"empty{n}") + wire.leave(f"empty{n}"))
            if n % 100 == 99:
                await writer.drain()
        # Every join and part answered: the rooms exist.
        answered = 0
        while answered < 2 * extra_rooms:
            line = await reader.readline()
            answered += line.startswith((b'{"type":"room"', b'{"type":"left"'))
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def enter(i: int) -> None:
        reader, writer = conns[i]
        async with gate:
            writer.write(wire.enter(room_of[i]))
            while not (await reader.readline()).startswith(b'{"type":"room"'):
                pass

    await asyncio.gather(*(enter(i) for i in range(clients)))
    members: dict[str, list[int]] = {}
    for i, room in enumerate(room_of):
        members.setdefault(room, []).append(i)
    groups = list(members.values())
    # Who speaks at each tick: round-robin over the rooms, and within each
    # room over its members, `senders` in all.
    plan = [
        [groups[(t * senders + s) % len(groups)][(t + s) % room_size] for s in range(senders)]
        for t in range(ticks)
    ]
    said = [0] * clients
    for tick in plan:
        for i in tick:
            said[i] += 1
    expected = [0] * clients
    for group in groups:
        spoken = sum(said[i] for i in group)
        for i in group:
            expected[i] = spoken - said[i]
    latencies: list[float] = []
    received = [0] * clients

    async def read(i: int) -> None:
        reader = conns[i][0]
        pending = b""
        while received[i] < expected[i]:
            chunk = await reader.read(1 << 18)
            if not chunk:
                return
            now = time.perf_counter()
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                sent = wire.stamp(line)
                if sent is not None:
                    latencies.append(now - sent)
                    received[i] += 1

    await asyncio.sleep(0.3)
    cpu0, own0 = target.cpu_seconds(), own_cpu_seconds()
    start = time.perf_counter()
    readers = [asyncio.create_task(read(i)) for i in range(clients)]
    for t, tick in enumerate(plan):
        await asyncio.sleep(max(0.0, start + t / pace - time.perf_counter()))
        for n, i in enumerate(tick):
            conns[i][1].write(wire.say_in(room_of[i], t * senders + n, time.perf_counter()))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*readers)
    elapsed = time.perf_counter() - start
    server_cpu, own_cpu = target.cpu_seconds() - cpu0, own_cpu_seconds() - own0
    await close_all(conns)
    if creator is not None:
        creator[1].close()
    total = sum(received)
    messages = ticks * senders
    return {
        "messages": messages,
        "deliveries": total,
        "lost": sum(expected) - total,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "deliveries_per_cpu_s": total / server_cpu if server_cpu > 0 else float("nan"),
        "server_us_per_message": server_cpu / messages * 1e6,
        "server_cpu_s": server_cpu,
        "generator_cpu_s": own_cpu,
        "elapsed_s": elapsed,
    }


async def under_attack(target: Target, wire: Wire, kind: str, size: int, seconds: float) -> Figures:
    """An honest user's say -> ack round trips while another peer attacks:
    `pings`, `says` or `text` is one single write of `size` lines; `connects`
    is `size` connections from one address that never read nor hang up;
    `slowloris` is `size` connections that each trickle a byte now and then.
    JSON targets only. Also the server's RSS before, at the peak and after."""
    honest = [await wire.join(target.port, f"honest{i}") for i in range(HONEST)]
    base_rss = peak_rss = target.rss_bytes()
    rtts: list[float] = []
    attacker: list[socket.socket] = []
    loop = asyncio.get_running_loop()

    async def attack() -> None:
        if kind in ("pings", "says"):
            reader, writer = await wire.join(target.port, "attacker")
            line = (
                b'{"type":"ping","t":1}\n'
                if kind == "pings"
                else b'{"type":"say","id":"x","text":"x"}\n'
            )
            writer.write(line * size)
            await writer.drain()
            drain = asyncio.create_task(discard(reader))
            await asyncio.sleep(seconds)
            drain.cancel()
            writer.close()
        elif kind == "text":
            reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
            writer.write(b"texter\n" + b"x\n" * size)
            await writer.drain()
            drain = asyncio.create_task(discard(reader))
            await asyncio.sleep(seconds)
            drain.cancel()
            writer.close()
        else:
            for _ in range(size):
                sock = socket.socket()
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    await loop.sock_connect(sock, ("127.0.0.1", target.port))
                    if kind == "slowloris":
                        await loop.sock_sendall(sock, b"{")
                attacker.append(sock)
            await asyncio.sleep(seconds)

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        while not attack_task.done():
            t0 = time.perf_counter()
            writer.write(wire.say(n, b"honest"))
            while wire.ack(await reader.readline()) is None:
                pass
            rtts.append(time.perf_counter() - t0)
            n += 1
            await asyncio.sleep(0.1)  # 10 a second: within the default rate

    async def watch_memory() -> None:
        nonlocal peak_rss
        while not attack_task.done():
            peak_rss = max(peak_rss, target.rss_bytes())
            await asyncio.sleep(0.05)

    start = time.perf_counter()
    attack_task = asyncio.create_task(attack())
    await asyncio.gather(attack_task, watch_memory(), *(talk(r, w) for r, w in honest))
    for sock in attacker:
        sock.close()
    await asyncio.sleep(1.0)  # let the server notice the attackers are gone
    after_rss = target.rss_bytes()
    for _, writer in honest:
        writer.close()
    return {
        "honest_acks": len(rtts),
        "ack_p50_ms": percentile(rtts, 50) * 1000,
        "ack_p99_ms": percentile(rtts, 99) * 1000,
        "ack_max_ms": max(rtts, default=float("nan")) * 1000,
        "rss_peak_growth_mib": (peak_rss - base_rss) / 2**20,
        "rss_after_growth_mib": (after_rss - base_rss) / 2**20,
        "elapsed_s": time.perf_counter() - start,
    }
