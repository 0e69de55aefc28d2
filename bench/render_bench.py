"""Renderer benchmark, run by hand: `python -m bench.render_bench` (or
`python bench/render_bench.py`).

Renders 100,000 mixed messages (plain chat, inline Markdown, quotes and
lists, code blocks) the way the message log would: cold (no cache: a first
screenful, a resize), then again from the cache (scrolling back). Each text
is unique, so the cold pass never hits by accident. Prints messages a second
for the whole mix and for each kind alone.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `src` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conexion_tui.render import RenderCache, render_message

WORDS = [
    *("hola", "ana", "bob", "meeting", "at", "ten", "the", "build", "is", "green"),
    *("again", "🎉", "李雷", "déjà", "vu", "ok", "deploy", "tests", "pass", "lunch"),
]
NAMES = frozenset(f"user{n}" for n in range(50)) | {"ana", "bob"}
CODE = {
    "python": [
        "def total(items: list[int]) -> int:",
        '    """Sum of the items, skipping None."""',
        "    result = 0",
        "    for item in items:",
        "        if item is not None:",
        "            result += item * 2  # doubled",
        "    return result",
        "",
        "print(total([1, 2, 3]))",
    ],
    "js": [
        "const server = http.createServer((req, res) => {",
        "  res.writeHead(200, { 'Content-Type': 'text/plain' });",
        "  res.end(`hello ${req.url}`);",
        "});",
        "server.listen(8000);",
    ],
    "": [
        "fn main() {",
        '    let name = "world";',
        '    println!("hello {}", name);',
        "}",
    ],
}


def words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def plain(rng: random.Random, n: int) -> str:
    return f"{words(rng, 2, 40)} {n}"


def inline(rng: random.Random, n: int) -> str:
    parts = [
        f"*{words(rng, 1, 3)}*",
        f"**{words(rng, 1, 2)}**",
        f"`x_{n} = {n}`",
        f"[docs](https://example.com/{n})",
        f"@{rng.choice(sorted(NAMES))}",
        ":rocket:",
        f"https://example.org/p/{n}",
    ]
    rng.shuffle(parts)
    return " ".join([words(rng, 1, 8), *parts[: rng.randint(1, 4)], words(rng, 1, 8)])


def blocks(rng: random.Random, n: int) -> str:
    lines = [f"> {words(rng, 3, 12)}", f"- {words(rng, 2, 8)} {n}", f"1. {words(rng, 2, 8)}"]
    return "\n".join([words(rng, 2, 6), *rng.sample(lines, 2), words(rng, 1, 5)])


def code(rng: random.Random, n: int) -> str:
    language = rng.choice(sorted(CODE))
    body = CODE[language] * rng.randint(1, 3)
    # The first line differs in every block, so that no two lex alike (the
    # highlighter caches what it lexed, for resizes).
    return f"look:\n```{language}\nx{n} = {n}\n" + "\n".join(body) + "\n```"


KINDS: dict[str, tuple[float, Callable[[random.Random, int], str]]] = {
    "plain": (0.60, plain),
    "inline markdown": (0.25, inline),
    "quotes and lists": (0.10, blocks),
    "code blocks": (0.05, code),
}


def messages(count: int, seed: int = 16) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    kinds = list(KINDS)
    weights = [KINDS[kind][0] for kind in kinds]
    out = []
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        out.append((kind, KINDS[kind][1](rng, n)))
    return out


def rate(texts: list[str], cache: RenderCache | None, width: int, *, draw: bool = True) -> float:
    """Messages a second; with `draw`, the styled lines are built too (what
    the log draws), else only the layout (what measuring heights needs)."""
    started = time.perf_counter()
    for text in texts:
        rendered = render_message(
            text, width=width, first_width=width - 20, viewer="ana", names=NAMES, cache=cache
        )
        if draw:
            rendered.texts  # noqa: B018 (built on first use)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=100, help="columns of the log")
    args = parser.parse_args()
    mix = messages(args.messages)
    texts = [text for _, text in mix]
    rows = {"python": f"{sys.version.split()[0]} on {os.cpu_count()} CPUs"}
    rows["messages"] = ", ".join(
        f"{sum(1 for k, _ in mix if k == kind):,} {kind}" for kind in KINDS
    )
    rows["cold, drawn (layout and styled lines)"] = f"{rate(texts, None, args.width):,.0f} msg/s"
    heights = rate(texts, None, args.width, draw=False)
    rows["cold, measured (layout only)"] = f"{heights:,.0f} msg/s"
    cache = RenderCache(size=len(texts))
    rate(texts, cache, args.width)  # fill it
    rows["cached"] = f"{rate(texts, cache, args.width):,.0f} msg/s"
    for kind in KINDS:
        alone = [text for k, text in mix if k == kind]
        rows[f"cold, drawn, {kind} only"] = f"{rate(alone, None, args.width):,.0f} msg/s"
    width = max(map(len, rows))
    print()
    for key, value in rows.items():
        print(f"{key.ljust(width)}  {value}")
    print()


if __name__ == "__main__":
    main()
