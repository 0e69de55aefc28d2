"""What a cluster's Redis holds and spends, run by hand: `python -m bench.redis_costs`.

On a redis-server started as the cluster targets start theirs
(`targets.start_redis`), through the cluster's own Lua scripts:

1. memory per message: the log entry alone (an XADD of the shape the SEND
   script writes, a 40-byte text), then the whole SEND script (entry and
   remembered send id), as `used_memory` grows over 100,000 of them;
2. Redis CPU per SEND script, pipelined from here (no instance in the way);
3. memory per online user: 100,000 JOIN scripts, per key.

The figures are quoted in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from bench.targets import cpu_of, start_redis, stop
from conexion_server import cluster_scripts as lua
from conexion_server.cluster import Keys
from conexion_server.config import ServerConfig

TEXT = "the quick brown fox jumps over a lazy do"  # 40 bytes, a short chat line
SEQ0 = 1_764_000_000_000_000  # a seq as the server starts them (the time in µs)
USERS = 300
BATCH = 1000  # scripts per pipeline round trip
MAX_LOG = ServerConfig().cluster_max_log
KEYS = Keys("conexion:")
INSTANCE = "bench-host-12345-a1b2c3"


def token(user: int) -> str:
    return f"{INSTANCE}/{user + 1}"


def in_batches(r: redis.Redis, count: int, one: Callable[[int, Any], None]) -> None:
    """Call one(i, pipe) for i in range(count), BATCH to a round trip."""
    pipe = r.pipeline(transaction=False)
    for i in range(count):
        one(i, pipe)
        if i % BATCH == BATCH - 1:
            pipe.execute()
    pipe.execute()


def per_message(r: redis.Redis, pid: int, count: int) -> None:
    def used() -> int:
        return int(r.info("memory")["used_memory"])

    def xadd(i: int, pipe: Any) -> None:
        u = i % USERS
        fields = ["k", "m", "f", f"user{u}", "r", "general", "x", TEXT, "a", "0"]
        fields += ["o", token(u), "ms", str(SEQ0 // 1000 + i)]
        pipe.execute_command("XADD", KEYS.log, "MAXLEN", "~", MAX_LOG, f"{SEQ0 + i}-0", *fields)

    base = used()
    in_batches(r, count, xadd)
    entry = (used() - base) / count
    print(f"log entry alone (XADD):      {entry:6.0f} B per message")
    r.flushall()

    for u in range(USERS):
        r.hset(KEYS.names, f"user{u}", f"user{u}")
        r.hset(KEYS.owners, f"user{u}", token(u))
    send = r.register_script(lua.SEND)

    def one_send(i: int, pipe: Any) -> None:
        u = i % USERS
        key = f"user{u}"
        keys = [KEYS.seq, KEYS.log, KEYS.send_id(key, str(i)), KEYS.names, KEYS.owners]
        args = [SEQ0, MAX_LOG, 600_000, "m", key, key, token(u), "general", TEXT, "0", ""]
        send(keys=keys, args=args, client=pipe)

    base, cpu0 = used(), cpu_of(pid)
    in_batches(r, count, one_send)
    total, cpu = (used() - base) / count, cpu_of(pid) - cpu0
    print(f"SEND script (entry + id):    {total:6.0f} B per message, of which the send id")
    print(f"  (kept for id_ttl, 600 s):  {total - entry:6.0f} B")
    print(f"Redis CPU per SEND script:   {cpu / count * 1e6:6.1f} µs (pipelined, {BATCH} a batch)")
    r.flushall()


def per_user(r: redis.Redis, count: int) -> None:
    join = r.register_script(lua.JOIN)
    inst = KEYS.instance(INSTANCE)

    def one_join(i: int, pipe: Any) -> None:
        keys = [KEYS.names, KEYS.owners, inst, KEYS.log, KEYS.seq]
        join(keys=keys, args=[f"user{i}", f"user{i}", token(i), SEQ0, MAX_LOG], client=pipe)

    base = r.info("memory")["used_memory"]
    in_batches(r, count, one_join)
    grown = r.info("memory")["used_memory"] - base
    sizes = {
        key.removeprefix(KEYS.prefix).split(":")[0]: r.memory_usage(key, samples=0) / count
        for key in (KEYS.names, KEYS.owners, inst, KEYS.log)
    }
    parts = ", ".join(f"{name} {size:.0f}" for name, size in sizes.items())
    print(f"online user (JOIN script):   {grown / count:6.0f} B ({parts})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="messages and users")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        proc, port = start_redis(Path(folder))
        try:
            r = redis.Redis(port=port, decode_responses=True)
            per_message(r, proc.pid, args.count)
            per_user(r, args.count)
            r.close()
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
