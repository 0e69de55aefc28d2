"""TUI benchmark, run by hand: `python -m bench.tui_bench` (or
`python bench/tui_bench.py`).

1. Appending 100,000 messages to the log widget: time, and memory after
   (tracemalloc for Python objects, RSS for the process).
2. The same 100,000 messages through the chat screen's event path (entry
   building, sanitising, mention checks, batching).
3. Keystroke-to-screen latency, p50/p99, while a raw peer floods a real
   server (a separate process) with 1,000 messages a second, and at rest.

"To screen" means: from the key event entering the app to the first
compositor update that contains the new character, with that update turned
into terminal bytes (the headless driver then drops them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `src` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.app import App, ComposeResult

from conexion_protocol import Message, format_ts
from conexion_tui.app import ConexionApp
from conexion_tui.client import Received
from conexion_tui.config import ClientConfig, UiConfig
from conexion_tui.entries import Entry, Kind
from conexion_tui.screens import ChatScreen
from conexion_tui.widgets import ChatInput, MessageLog

WORDS = [
    *("hola", "ana", "bob", "meeting", "at", "ten", "the", "build", "is", "green"),
    *("again", "🎉", "李雷", "déjà", "vu", "ok"),
]
SIZE = (120, 40)


def rss_mib() -> float:
    """Resident set size of this process, from /proc (Linux)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_text(rng: random.Random, markdown: float = 0.0) -> str:
    """Plain words; with `markdown` (a share, 0 to 1), some inline Markdown,
    quotes, lists and code blocks instead, varied so the render cache does
    not serve them all."""
    if markdown and rng.random() < markdown:
        return rich_text(rng)
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 40)))


def rich_text(rng: random.Random) -> str:
    n = rng.randint(0, 10**6)
    return rng.choice(
        [
            f"see `config_{n}.py` and **restart** the _worker_ :rocket:",
            f"> the build {n} is green\nthen ship it @ana",
            f"- step {n}\n- check https://example.org/{n}\n- done",
            f"```python\ndef f(x):\n    return x * {n}\n```",
            "```\n" + "\n".join(f"line {i} of {n}" for i in range(14)) + "\n```",
        ]
    )


# -- 1. the log widget alone --------------------------------------------------


class LogApp(App[None]):
    CSS = "MessageLog { height: 1fr; scrollbar-gutter: stable; overflow-x: hidden; }"

    def compose(self) -> ComposeResult:
        ui = UiConfig()
        yield MessageLog(scrollback=ui.scrollback, cache_size=ui.strip_cache)


async def fill_log(count: int, *, trace: bool) -> dict[str, float]:
    """Append `count` messages in batches of 100 to a fresh log widget."""
    rng = random.Random(1)
    texts = [sample_text(rng) for _ in range(count)]
    app = LogApp()
    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(MessageLog)
        await pilot.pause()
        gc.collect()
        rss_before = rss_mib()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        batch = 100  # what a busy batch window delivers
        for start in range(0, count, batch):
            log.extend(
                Entry(Kind.CHAT, "12:34", texts[n], name=f"user{n % 50}")
                for n in range(start, min(count, start + batch))
            )
        figures["appended"] = time.perf_counter() - started
        await pilot.pause()
        figures["painted"] = time.perf_counter() - started
        if trace:
            figures["traced"], figures["peak"] = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        gc.collect()
        figures["rss_growth"] = rss_mib() - rss_before
        figures["rss"] = rss_mib()
        figures["lines"] = log.line_count
        # Jump around the history, as someone scrolling back would.
        jumps = []
        for y in (0, log.line_count // 2, log.line_count // 4, log.max_scroll_y):
            t0 = time.perf_counter()
            log.scroll_to(y=y, animate=False, force=True)
            for row in range(log.size.height):
                log.render_line(row)
            jumps.append(time.perf_counter() - t0)
        figures["jump"] = max(jumps)
        t0 = time.perf_counter()
        await pilot.resize_terminal(SIZE[0] - 30, SIZE[1])
        await pilot.pause()
        figures["resize"] = time.perf_counter() - t0
    return figures


async def bench_log_widget(count: int) -> dict[str, str]:
    timed = await fill_log(count, trace=False)
    traced = await fill_log(count, trace=True)  # slower: tracemalloc hooks every allocation
    return {
        "log: append 100k messages (widget)": f"{timed['appended']:.2f} s"
        f" ({count / timed['appended']:,.0f} msg/s)",
        "log: … until the first paint": f"{timed['painted']:.2f} s",
        "log: screen lines after wrapping": f"{timed['lines']:,.0f}",
        "log: Python memory held (tracemalloc)": f"{traced['traced'] / 2**20:.1f} MiB"
        f" (peak {traced['peak'] / 2**20:.1f})",
        "log: RSS growth after 100k": f"{timed['rss_growth']:.1f} MiB"
        f" (process RSS {timed['rss']:.0f} MiB)",
        "log: jump + render a screen (worst of 4)": f"{timed['jump'] * 1000:.1f} ms",
        "log: re-wrap 100k on a resize": f"{timed['resize']:.2f} s",
    }


# -- servers and peers ----------------------------------------------------------


def start_server(*args: str) -> tuple[subprocess.Popen[str], int]:
    """conexion-server in its own process, on a free port."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conexion_server",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--log-level",
            "warning",
            *args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


class Flooder:
    """A raw JSON peer in a process of its own (not a thread of the app's,
    whose GIL it would share), sending `rate` messages a second (in 10 ms
    bursts) and reading its acks."""

    def __init__(self, port: int, rate: int, markdown: float = 0.0) -> None:
        self.port = port
        self.rate = rate
        self.markdown = markdown
        context = multiprocessing.get_context("fork")
        self._sent = context.Value("q", 0)
        self._acked = context.Value("q", 0)
        self._stop = context.Event()
        self._process = context.Process(target=self._main, daemon=True)

    @property
    def sent(self) -> int:
        return int(self._sent.value)

    @property
    def acked(self) -> int:
        return int(self._acked.value)

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=10)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**24)
        writer.write(b'{"type":"hello","name":"flood","proto":1}\n')
        await writer.drain()
        await reader.readline()

        async def read_acks() -> None:
            while line := await reader.readline():
                if b'"ack"' in line:
                    self._acked.value += 1

        acks = asyncio.create_task(read_acks())
        tick = 0.01
        per_tick = max(1, round(self.rate * tick))
        ids = itertools.count()
        rng = random.Random(3)
        next_at = time.perf_counter()
        while not self._stop.is_set():
            lines = []
            for _ in range(per_tick):
                n = next(ids)
                text = f"flood {n}: status update"
                if self.markdown and rng.random() < self.markdown:
                    text = rich_text(rng)
                frame = {"type": "say", "id": f"f{n}", "text": text}
                lines.append(json.dumps(frame).encode() + b"\n")
            writer.write(b"".join(lines))
            self._sent.value += per_tick
            await writer.drain()
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        acks.cancel()
        writer.close()


# -- 2 and 3: the full app ------------------------------------------------------


class BenchApp(ConexionApp):
    """The real app; notes when each screen update is produced."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.probe: Callable[[], bool] | None = None
        self.painted_at: float | None = None
        self.painted = asyncio.Event()

    def _display(self, screen: Any, renderable: Any) -> None:
        super()._display(screen, renderable)
        if renderable is not None and hasattr(renderable, "render_segments"):
            # What a real terminal driver would do with it; headless skips it.
            renderable.render_segments(self.console)
        if self.probe is not None and self.painted_at is None and self.probe():
            self.painted_at = time.perf_counter()
            self.painted.set()


async def keystroke_latencies(app: BenchApp, samples: int, gap: float) -> list[float]:
    box = app.screen.query_one("#input", ChatInput)
    driver = app._driver
    assert driver is not None
    latencies = []
    for n in range(samples):
        if n % 40 == 0:
            box.load_text("")
            await asyncio.sleep(gap)
        expected = len(box.text) + 1
        app.painted_at = None
        app.painted.clear()
        app.probe = lambda expected=expected: len(box.text) >= expected  # type: ignore[misc]
        started = time.perf_counter()
        driver.send_message(events.Key("x", "x"))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await app.painted.wait()
        if app.painted_at is not None:
            latencies.append(app.painted_at - started)
        app.probe = None
        await asyncio.sleep(gap)
    return latencies


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))
    return ordered[index]


async def bench_app(
    port: int,
    rate: int,
    samples: int,
    count: int,
    window: float,
    markdown: float = 0.0,
    elsewhere: bool = False,
) -> dict[str, str]:
    config = ClientConfig(first_ping=3600, ping_interval=3600, dead_after=7200)
    ui = UiConfig(batch_window=window)
    app = BenchApp("127.0.0.1", port, "viewer", client_config=config, ui_config=ui)
    results: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, ChatScreen) and app.screen.is_mounted):
            await pilot.pause(0.05)
        screen = app.screen
        await pilot.pause(0.2)

        quiet = await keystroke_latencies(app, samples // 2, 0.02)
        results["keys at rest: p50 / p99"] = (
            f"{percentile(quiet, 50) * 1000:.1f} / {percentile(quiet, 99) * 1000:.1f} ms"
        )

        where = "the room viewed"
        if elsewhere:
            # The flood goes to general; the viewer looks at a quiet room.
            box = screen.query_one("#input", ChatInput)
            box.load_text("/join quiet")
            await pilot.press("enter")
            while screen.current.title != "quiet":
                await pilot.pause(0.05)
            await pilot.pause(0.2)
            where = "a room not viewed"
        flooder = Flooder(port, rate, markdown)
        log = screen.log_view
        before = len(log.entries)
        flooder.start()
        await asyncio.sleep(1.0)  # let the flood settle in
        started = time.perf_counter()
        flooded = await keystroke_latencies(app, samples, 0.02)
        elapsed = time.perf_counter() - started
        flooder.stop()
        await pilot.pause(0.5)
        shown = len(log.entries) - before
        results[f"keys during {rate}/s flood into {where}: p50 / p99"] = (
            f"{percentile(flooded, 50) * 1000:.1f} / {percentile(flooded, 99) * 1000:.1f} ms"
            f" ({len(flooded)} keys in {elapsed:.1f} s)"
        )
        results["flood: sent / acked / shown"] = f"{flooder.sent:,} / {flooder.acked:,} / {shown:,}"

        # The screen's own path for a big burst: 100k messages in batches.
        screen.log_view.clear()
        rng = random.Random(2)
        frames = [
            Received(
                Message(
                    seq=10_000_000 + n,
                    ts=format_ts(time.time()),
                    room="general",
                    from_=f"user{n % 50}",
                    text=sample_text(rng, markdown) + (" viewer" if n % 100 == 0 else ""),
                )
            )
            for n in range(count)
        ]
        app.bell = lambda: None  # type: ignore[method-assign]
        started = time.perf_counter()
        for start in range(0, count, 1000):
            screen.apply(frames[start : start + 1000])
        applied = time.perf_counter() - started
        await pilot.pause()
        results["screen: 100k messages through apply()"] = (
            f"{applied:.2f} s ({count / applied:,.0f} msg/s)"
        )
        await app.action_quit()
    return results


def print_table(rows: dict[str, str]) -> None:
    width = max(len(k) for k in rows)
    print()
    print(f"{'measure'.ljust(width)}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for key, value in rows.items():
        print(f"{key.ljust(width)}  {value}")
    print()


async def main_async(args: argparse.Namespace) -> None:
    rows: dict[str, str] = {}
    rows["python / textual"] = (
        f"{sys.version.split()[0]} / {__import__('textual').__version__} on {os.cpu_count()} CPUs"
    )
    if not args.app_only:
        rows.update(await bench_log_widget(args.messages))
    proc, port = start_server("--rate", "100000", "--burst", "100000")
    try:
        rows.update(
            await bench_app(
                port,
                args.rate,
                args.samples,
                args.messages,
                args.batch_window,
                args.markdown,
                args.elsewhere,
            )
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="flood messages per second")
    parser.add_argument("--samples", type=int, default=300, help="keystrokes measured")
    parser.add_argument(
        "--markdown",
        type=float,
        default=0.0,
        help="share (0-1) of flood and apply() messages with Markdown or code",
    )
    parser.add_argument("--app-only", action="store_true", help="skip the log widget alone")
    parser.add_argument(
        "--elsewhere",
        action="store_true",
        help="flood a room the viewer is in but not looking at (the viewer joins #quiet)",
    )
    parser.add_argument(
        "--batch-window",
        type=float,
        default=UiConfig().batch_window,
        help="seconds of network events shown as one screen update",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
