"""`python -m bench.search_bench`: search over a large SQLite history.

Fills a database through the server's own store (so the FTS5 index is
built by the same triggers as in production) with `--messages` messages
over `--rooms` rooms, with words drawn from a Zipf-like vocabulary, then
times searches of a member who is in a few of those rooms: rare and common
words, prefixes, two words, paging, and a word that occurs only in rooms
the member is not in (the index finds it everywhere; the member's rooms
filter it out). Prints the percentiles of each. The database is kept
(`--db`) so that later runs skip the fill.

    python -m bench.search_bench                  # 1,000,000 messages
    python -m bench.search_bench --messages 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from conexion_protocol import Message, format_ts
from conexion_server.search import Query, search_terms
from conexion_server.sqlite_store import SqliteStore

SYLLABLES = [
    *("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da"),
    *("fe", "gi", "ho", "ju", "ly", "pe", "qu", "ri", "so", "tu"),
]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def fill(path: Path, messages: int, rooms: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    words = vocabulary(20_000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    store = SqliteStore(path, id_ttl=60.0, max_ids=10)
    start = time.perf_counter()
    base = time.time() - 90 * 86_400  # three months of chat
    seqs = [0] * rooms
    batch = 20_000
    for n in range(0, messages, batch):
        chunk = min(batch, messages - n)
        texts = rng.choices(words, weights=weights, k=chunk * 10)
        for i in range(chunk):
            room = rng.randrange(rooms)
            seqs[room] += 1
            text = " ".join(texts[i * 10 : i * 10 + rng.randint(4, 10)])
            if room >= 5 and i % 10 == 0:
                text += " zzelsewhere"  # a word only outside the member's rooms
            store.append(
                f"room{room}",
                Message(
                    seq=seqs[room],
                    ts=format_ts(base + (n + i) * 7.7),
                    room=f"room{room}",
                    from_=f"user{rng.randrange(300)}",
                    text=text,
                ),
            )
        store.flush()
    store.close()
    return time.perf_counter() - start


def timed(store: SqliteStore, query: Query, runs: int, before: str | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        store.search(query, before, 20)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--db", type=Path, default=Path("/tmp/conexion-search-bench.db"))
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    marker = args.db.with_suffix(f".{args.messages}.{args.rooms}.done")
    if not marker.exists():
        for leftover in args.db.parent.glob(args.db.name + "*"):
            leftover.unlink()
        print(f"filling {args.db} with {args.messages:,} messages in {args.rooms} rooms ...")
        seconds = fill(args.db, args.messages, args.rooms)
        print(f"  filled in {seconds:.1f} s ({args.messages / seconds:,.0f} messages/s)")
        marker.touch()
    store = SqliteStore(args.db, id_ttl=60.0, max_ids=10)
    size = sum(f.stat().st_size for f in args.db.parent.glob(args.db.name + "*"))
    print(f"{store.count():,} messages, {size / 2**20:,.0f} MiB on disk (with the index)")
    mine = tuple(f"room{i}" for i in range(5))  # the member is in 5 rooms
    words = vocabulary(20_000, random.Random(7))  # the fill's
    common, rare = words[0], words[5_000]
    cases = {
        f"a common word ({common})": common,
        f"a rare word ({rare})": rare,
        f"a prefix ({common[:3]}*)": common[:3] + "*",
        f"a longer prefix ({words[40][:5]}*)": words[40][:5] + "*",
        "two words": f"{common} {words[1]}",
        "only in others' rooms": "zzelsewhere",
        "no match": "qqqqnothing",
    }
    print(f"\nsearch, a member in {len(mine)} of {args.rooms} rooms, 20 hits a page, ms:")
    print(f"{'query':40} {'p50':>8} {'p99':>8} {'max':>8} {'hits':>6}")
    for title, text in cases.items():
        query = Query(search_terms(text), mine, "user1", dms=True)
        times = timed(store, query, args.runs)
        hits, _ = store.search(query, None, 20)
        p99 = statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]
        print(
            f"{title:40} {statistics.median(times):8.2f} {p99:8.2f} {max(times):8.2f} {len(hits):6}"
        )
    query = Query(search_terms(common), mine, "user1", dms=True)
    before, pages = None, 0
    start = time.perf_counter()
    while pages < 50:
        _, before = store.search(query, before, 20)
        pages += 1
        if before is None:
            break
    per_page = (time.perf_counter() - start) * 1000 / pages
    print(f"{'paging: 50 pages of a common word':40} {per_page:8.2f} (mean per page)")
    store.close()


if __name__ == "__main__":
    main()
