"""`python -m bench`: the server benchmarks against the references, side by side.

    python -m bench                 # every scenario, every target
    python -m bench --quick         # smaller sizes, a smoke run
    python -m bench fanout idle --targets conexion ngircd
    python -m bench fanout --targets conexion conexion-durable   # the cost of durable acks
    python -m bench fanout --targets conexion cluster-1 cluster-3  # a cluster on Redis
    python -m bench fanout --targets conexion ngircd --long 10 --pin  # runs of seconds,
                                    # the server and the generator on CPUs of their own
    python -m bench fanout --targets conexion conexion-durable ngircd --long 30 --count
                                    # readers that count instead of parsing (--procs N:
                                    # the clients spread over N generator processes;
                                    # --max-output BYTES: conexion's slow-peer bound)

Prints a table (with ratios to the references) and writes
bench/results/server.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import sys
from pathlib import Path

from . import scenarios, targets
from .targets import Target, all_targets
from .wire import wire_for

RESULTS = Path(__file__).parent / "results"
# The targets that are one process; the clusters run only where they say
# something about Redis in the path (fan-out, acks, memory per client).
SINGLE = "conexion conexion-durable minimal ngircd"
# Read before `--pin` narrows this process's; empty where Linux's affinity
# calls do not exist (there `--pin` says it cannot).
ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
ROOMS_PACE = {"senders": 100, "pace": 2.0}  # 100 messages a tick, 2 ticks a second


def plan(quick: bool) -> list[tuple[str, str, dict[str, object], str]]:
    """(title, scenario, keyword arguments, targets it applies to)."""
    q = quick
    return [
        (
            "fanout 10 clients, full speed",
            "fanout",
            {"clients": 10, "each": 100 if q else 200, "pace": None},
            "all",
        ),
        (
            "fanout 100 clients, full speed",
            "fanout",
            {"clients": 100, "each": 10 if q else 20, "pace": None},
            "all",
        ),
        (
            "fanout 300 clients, full speed",
            "fanout",
            {"clients": 300, "each": 3 if q else 10, "pace": None},
            "all",
        ),
        (
            "fanout 100 clients, 5 msg/s each, in step",
            "fanout",
            {"clients": 100, "each": 10 if q else 25, "pace": 5.0},
            "all",
        ),
        (
            "say->ack, one client, one in flight",
            "ack_rtt",
            {"messages": 300 if q else 2000},
            "all",
        ),
        ("idle 1,000 clients", "idle", {"clients": 500 if q else 1000}, "all"),
        # ngircd accepts about 18 joins a second here, so 10,000 would take ten
        # minutes; it is compared at 1,000 and in the join storm instead.
        ("idle 10,000 clients", "idle", {"clients": 2000 if q else 10000}, "conexion minimal"),
        ("join storm, 2,000 clients", "join_storm", {"clients": 500 if q else 2000}, SINGLE),
        (
            "join storm, 10,000 clients",
            "join_storm",
            {"clients": 2000 if q else 10000},
            "conexion conexion-durable",
        ),
        # The same 100 messages a tick, in 100 rooms of 10 or in one of 1,000.
        (
            "rooms: 1,000 clients in 100 rooms of 10",
            "rooms",
            {
                "clients": 1000,
                "room_size": 10,
                "ticks": 5 if q else 20,
                "senders": 100,
                "pace": 2.0,
            },
            "conexion cluster-1",
        ),
        (
            "rooms: 1,000 clients in 1 room of 1,000",
            "rooms",
            {
                "clients": 1000,
                "room_size": 1000,
                "ticks": 5 if q else 20,
                "senders": 100,
                "pace": 2.0,
            },
            "conexion cluster-1",
        ),
        # An honest user's round trips while another peer attacks (issue 12).
        *[
            (
                f"under attack: {kind}, {size:,}",
                "under_attack",
                {"kind": kind, "size": size, "seconds": 3.0},
                "guarded guarded-durable",
            )
            for kind, size in (
                ("pings", 10_000 if q else 200_000),
                ("says", 10_000 if q else 100_000),
                ("text", 10_000 if q else 100_000),
                ("connects", 500 if q else 3_000),
                ("slowloris", 500 if q else 3_000),
            )
        ],
        # A message's cost with 5,000 other (empty) rooms on the server.
        (
            "rooms: 10 rooms of 10, no other rooms",
            "rooms",
            {"clients": 100, "room_size": 10, "ticks": 10 if q else 40, "senders": 10, "pace": 5.0},
            "conexion",
        ),
        (
            "rooms: 10 rooms of 10, 5,000 other rooms",
            "rooms",
            {
                "clients": 100,
                "room_size": 10,
                "ticks": 10 if q else 40,
                "senders": 10,
                "pace": 5.0,
                "extra_rooms": 5000,
            },
            "conexion",
        ),
        ("slow peer among talkers", "slow_peer", {"messages": 1500 if q else 5000}, "conexion"),
    ]


# Figures worth a ratio; for each, whether higher or lower is better.
RATIOS = {
    "deliveries_per_s",
    "deliveries_per_cpu_s",
    "messages_per_s",
    "p50_ms",
    "p99_ms",
    "ack_p50_ms",
    "ack_p99_ms",
    "join_s",
    "storm_s",
    "server_us_per_message",
    "rss_per_client_kib",
}


def run_one(
    target_cls: type[Target], scenario: str, kwargs: dict[str, object], pin: bool = False
) -> dict[str, float]:
    async def go() -> dict[str, float]:
        with target_cls() as target:
            if pin:
                pin_apart(target)
            return await getattr(scenarios, scenario)(target, wire_for(target.wire), **kwargs)

    return asyncio.run(go())


def pin_apart(target: Target) -> None:
    """`--pin`: the server (every thread of it, and the threads it starts
    later, which inherit) on the first CPU, this generator on the others, so
    that neither takes the other's core and the server's CPU figure is its
    own work, not the scheduler's."""
    cpus = ALL_CPUS
    if len(cpus) < 2:
        raise SystemExit("--pin needs Linux and at least 2 CPUs")
    for pid in target.pids():
        for task in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(task), {cpus[0]})
    os.sched_setaffinity(0, set(cpus[1:]))


def show(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def print_table(report: dict[str, dict[str, dict[str, float]]], targets: list[str]) -> None:
    # A ratio column "/X" holds conexion's figure divided by X's; every column
    # is as wide as its heading needs.
    refs = [t for t in targets if t != "conexion"] if "conexion" in targets else []
    width = {t: max(12, len(t) + 2) for t in targets}
    ratio_width = {r: max(12, len(r) + 3) for r in refs}
    head = f"{'scenario / figure':<34}" + "".join(f"{t:>{width[t]}}" for t in targets)
    head += "".join(f"{'/' + r:>{ratio_width[r]}}" for r in refs)
    if refs:
        print("ratio columns /X: conexion's figure divided by X's")
    print(head)
    print("-" * len(head))
    for title, by_target in report.items():
        print(title)
        # Every figure any target reported (a cluster adds Redis's own), in order.
        figures = dict.fromkeys(fig for figs in by_target.values() for fig in figs)
        for fig in figures:
            row = f"  {fig:<32}"
            for t in targets:
                row += f"{show(by_target.get(t, {}).get(fig, float('nan'))):>{width[t]}}"
            if fig in RATIOS and "conexion" in by_target:
                for r in refs:
                    theirs = by_target.get(r, {}).get(fig)
                    ratio = by_target["conexion"][fig] / theirs if theirs else float("nan")
                    cell = "" if math.isnan(ratio) else show(ratio) + "x"
                    row += f"{cell:>{ratio_width[r]}}"
            print(row.rstrip())


def lengthened(
    scenario: str, kwargs: dict[str, object], factor: int, count: bool = False, procs: int = 1
) -> dict[str, object]:
    """`--long N`: the full-speed fan-outs send N times as many messages;
    `--count`: every fan-out's readers count instead of parsing; `--procs`:
    every fan-out's clients spread over that many processes."""
    if scenario != "fanout":
        return kwargs
    if count or procs > 1:
        kwargs = {**kwargs, "count": count, "procs": procs}
    if kwargs.get("pace") is not None or factor == 1:
        return kwargs
    each = kwargs["each"]
    assert isinstance(each, int)
    return {**kwargs, "each": each * factor}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "only",
        nargs="*",
        help="scenarios: fanout ack_rtt idle join_storm slow_peer rooms under_attack",
    )
    parser.add_argument(
        "--targets",
        nargs="*",
        help="conexion conexion-durable guarded guarded-durable minimal ngircd cluster-1 "
        "cluster-3 (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--long",
        type=int,
        default=1,
        metavar="N",
        help="N times the messages in the full-speed fan-outs: runs of seconds, not"
        " tenths, so that their CPU figures are more than a few 10 ms ticks",
    )
    parser.add_argument(
        "--count",
        action="store_true",
        help="fan-out readers count lines with byte searches and sample latency once a"
        " chunk, so that the generator costs little per delivery and the server sets the pace",
    )
    parser.add_argument(
        "--procs",
        type=int,
        default=1,
        metavar="N",
        help="spread each fan-out's clients over N generator processes",
    )
    parser.add_argument(
        "--max-output",
        type=int,
        metavar="BYTES",
        help="the conexion servers' slow-peer bound (default theirs, 1 MiB)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the server on the first CPU and the generator on the rest (Linux)",
    )
    args = parser.parse_args(argv)
    if args.max_output is not None:
        targets.SERVER_OPTIONS[:] = ["--max-output", str(args.max_output)]
    # Thousands of sockets on each side; the servers inherit this limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    available = {cls.name: cls for cls in all_targets()}
    if "ngircd" not in available:
        print(
            "ngircd is not installed (apt-get install ngircd); measuring without it",
            file=sys.stderr,
        )
    if "cluster-1" not in available:
        print(
            "redis-server or the redis package is missing; measuring without the clusters",
            file=sys.stderr,
        )
    chosen = [t for t in (args.targets or available) if t in available]
    report: dict[str, dict[str, dict[str, float]]] = {}
    for title, scenario, kwargs, applies in plan(args.quick):
        if args.only and scenario not in args.only:
            continue
        for name in chosen:
            # The guarded targets (default limits) are for the attack rows only.
            everywhere = applies == "all" and not name.startswith("guarded")
            if everywhere or name in applies.split():
                print(f"running: {title} on {name}", file=sys.stderr, flush=True)
                sized = lengthened(scenario, kwargs, args.long, args.count, args.procs)
                report.setdefault(title, {})[name] = run_one(
                    available[name], scenario, sized, args.pin
                )
    print()
    print_table(report, chosen)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "server.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


main()
