"""Server benchmarks, run by hand: `python -m bench [fanout|idle|slow|all]`.

The server runs as its own process (`conexion-server`), and the load comes from
this process over loopback. Server CPU and memory are read from /proc, so a
saturated generator is not mistaken for a slow server. Results are printed as a
table and written to bench/results/server.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgspec

RESULTS = Path(__file__).parent / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the server under test ---------------------------------------------------------


class ServerProcess:
    def __init__(self, *extra: str) -> None:
        self.args = [
            sys.executable, "-m", "conexion_server", "--port", "0", "--log-level", "warning",
            "--rate", "1000000", "--burst", "1000000", "--max-clients", "100000", *extra,
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_bytes(self) -> int:
        assert self.proc is not None
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# -- a bare-bones JSON peer ----------------------------------------------------------

_decode = msgspec.json.Decoder().decode


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def join(cls, port: int, name: str) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        writer.write(b'{"type":"hello","proto":1,"name":"%s"}\n' % name.encode())
        peer = cls(reader, writer)
        while True:  # skip `joined` of earlier peers until our welcome
            frame = _decode(await reader.readline())
            if frame["type"] == "welcome":
                return peer

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Result:
    scenario: str
    params: dict[str, object]
    figures: dict[str, float] = field(default_factory=dict)


# -- scenarios ---------------------------------------------------------------------------


async def fanout(clients: int, per_client: int, pace: float | None) -> Result:
    """Every client sends `per_client` messages; everyone else must get each one.

    `pace` is messages per second per client (None: as fast as possible).
    Latency is measured from the send time written inside each message.
    """
    expected = clients * per_client * (clients - 1)
    with ServerProcess() as server:
        peers = [await Peer.join(server.port, f"u{i}") for i in range(clients)]
        await asyncio.sleep(0.2)
        latencies: list[float] = []
        received = 0
        done = asyncio.Event()

        async def read(peer: Peer) -> None:
            nonlocal received
            reader = peer.reader
            while received < expected:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b'{"type":"message"'):
                    sent_at = float(_decode(line)["text"])
                    latencies.append(time.perf_counter() - sent_at)
                    received += 1
            done.set()

        async def write(peer: Peer) -> None:
            for i in range(per_client):
                stamp = repr(time.perf_counter())
                peer.writer.write(b'{"type":"say","id":"%d","text":"%s"}\n' % (i, stamp.encode()))
                if pace:
                    await asyncio.sleep(1 / pace)
                elif i % 50 == 49:
                    await peer.writer.drain()
            await peer.writer.drain()

        cpu0, own0 = server.cpu_seconds(), own_cpu_seconds()
        start = time.perf_counter()
        readers = [asyncio.create_task(read(p)) for p in peers]
        await asyncio.gather(*(write(p) for p in peers))
        try:
            async with asyncio.timeout(120):
                await done.wait()
        except TimeoutError:
            pass
        elapsed = time.perf_counter() - start
        for task in readers:
            task.cancel()
        cpu = server.cpu_seconds() - cpu0
        own = own_cpu_seconds() - own0
        for p in peers:
            await p.close()
    return Result(
        "fanout",
        {"clients": clients, "messages_each": per_client, "pace": pace or "full"},
        {
            "deliveries": received,
            "lost": expected - received,
            "deliveries_per_s": received / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies, default=float("nan")) * 1000,
            "server_cpu_s": cpu,
            "generator_cpu_s": own,
            "elapsed_s": elapsed,
        },
    )


async def idle(clients: int) -> Result:
    """Join `clients` silent users; report join time and server memory per client."""
    with ServerProcess() as server:
        base = server.rss_bytes()
        start = time.perf_counter()
        peers: list[Peer] = []
        for batch in range(0, clients, 200):
            peers += await asyncio.gather(
                *(
                    Peer.join(server.port, f"idle{i}")
                    for i in range(batch, min(batch + 200, clients))
                )
            )
        joined = time.perf_counter() - start
        await asyncio.sleep(0.5)
        rss = server.rss_bytes()
        for p in peers:
            await p.close()
    return Result(
        "idle",
        {"clients": clients},
        {
            "join_s": joined,
            "server_rss_mb": rss / 2**20,
            "rss_per_client_kib": (rss - base) / clients / 1024,
        },
    )


async def slow(messages: int) -> Result:
    """A peer that never reads while two others chat: the server's memory must
    stay bounded and the healthy peers' round trips unaffected."""
    with ServerProcess("--max-output", str(1 << 20)) as server:
        _stalled_reader, stalled = await asyncio.open_connection("127.0.0.1", server.port)
        sock = stalled.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.write(b'{"type":"hello","proto":1,"name":"stalled"}\n')
        await stalled.drain()
        talker = await Peer.join(server.port, "talker")
        listener = await Peer.join(server.port, "listener")
        base = server.rss_bytes()
        peak = base
        rtts: list[float] = []
        text = "x" * 3900  # kernel buffers hold megabytes; fill them fast
        dropped_at = None
        for i in range(messages):
            t0 = time.perf_counter()
            talker.writer.write(b'{"type":"say","id":"%d","text":"%s"}\n' % (i, text.encode()))
            while True:
                frame = _decode(await talker.reader.readline())
                if frame["type"] == "ack":
                    break
                if frame["type"] == "left" and dropped_at is None:
                    dropped_at = i
            rtts.append(time.perf_counter() - t0)
            while True:
                frame = _decode(await listener.reader.readline())
                if frame["type"] == "message":
                    break
                if frame["type"] == "left" and dropped_at is None:
                    dropped_at = i
            if i % 100 == 0:
                peak = max(peak, server.rss_bytes())
        stalled.close()
        await talker.close()
        await listener.close()
    return Result(
        "slow",
        {"messages": messages, "bytes_each": len(text), "max_output": 1 << 20},
        {
            "stalled_dropped_after": dropped_at if dropped_at is not None else -1,
            "talker_rtt_p50_ms": percentile(rtts, 50) * 1000,
            "talker_rtt_p99_ms": percentile(rtts, 99) * 1000,
            "server_rss_growth_mb": (peak - base) / 2**20,
        },
    )


# -- entry point -----------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    for r in results:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        print(f"\n{r.scenario} ({params})")
        for key, value in r.figures.items():
            shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
            print(f"  {key:<26} {shown:>14}")


async def run(which: str, quick: bool) -> list[Result]:
    results: list[Result] = []
    if which in ("fanout", "all"):
        for n in (10, 100) if quick else (10, 100, 300):
            results.append(await fanout(n, 20 if n > 10 else 200, None))
        results.append(await fanout(100, 10 if quick else 25, 5.0))
    if which in ("idle", "all"):
        for n in (1000,) if quick else (1000, 5000):
            results.append(await idle(n))
    if which in ("slow", "all"):
        results.append(await slow(1500 if quick else 5000))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenario", nargs="?", default="all", choices=["all", "fanout", "idle", "slow"]
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    # Thousands of sockets on each side; the server process inherits this.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = asyncio.run(run(args.scenario, args.quick))
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "server.json"
    out.write_text(json.dumps([asdict(r) for r in results], indent=2))
    print(f"\nwritten to {out}")
    if any(r.figures.get("lost", 0) for r in results):
        print("LOSS DETECTED", file=sys.stderr)
        sys.exit(1)
