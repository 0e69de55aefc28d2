"""A message's text as lines for the log: `render_message`, its result, and the LRU cache in
front of it. Pure (no Textual), so the log widget only asks and draws.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Hashable
from dataclasses import dataclass, field
from functools import lru_cache

from rich.text import Text

from conexion_protocol import name_key

from .blocks import CodeBlock, Paragraph, parse_blocks
from .inline import Mentions, inline_runs, mention_runs
from .layout import Layout, lay_out
from .limits import DEFAULT_CONFIG, RenderConfig
from .model import Line, Run
from .sanitize import safe_text
from .theme import DEFAULT_THEME, Theme

# Rendered messages kept: a screenful many times over, and every width the
# log was drawn at since (a resize renders the visible ones again).
CACHE_SIZE = 4_096


class Mode(enum.StrEnum):
    MARKDOWN = "markdown"
    PLAIN = "plain"  # the text as typed: no Markdown, no emoji; @mentions still found


@dataclass(slots=True, frozen=True)
class RenderedMessage:
    """A message laid out at one width. `texts` are shared with the cache:
    copy one before changing it."""

    lines: tuple[Line, ...]  # runs with style names (what tests look at)
    mentions: frozenset[str]  # name keys of the @mentions shown
    mentions_viewer: bool
    folded_blocks: int  # code blocks shown folded (0 when expanded)
    hidden_lines: int  # code lines folded away
    theme: Theme = DEFAULT_THEME
    # Filled on first use (a frozen class, so the one mutable part is a list).
    _texts: list[tuple[Text, ...]] = field(default_factory=list, repr=False, compare=False)

    @property
    def texts(self) -> tuple[Text, ...]:
        """The lines styled by the theme, built when first asked for: a log
        measuring heights for every message draws only the few on screen."""
        if not self._texts:
            self._texts.append(tuple(self.theme.text(line) for line in self.lines))
        return self._texts[0]

    @property
    def height(self) -> int:
        return len(self.lines)

    @property
    def plain(self) -> str:
        return "\n".join("".join(run.text for run in line) for line in self.lines)


class RenderCache:
    """An LRU of rendered messages. A dict keeps insertion order, so a hit
    moves to the end by being put back and the oldest is the first key."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: dict[Hashable, RenderedMessage] = {}
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> RenderedMessage | None:
        found = self._items.pop(key, None)
        if found is None:
            self.misses += 1
            return None
        self._items[key] = found
        self.hits += 1
        return found

    def put(self, key: Hashable, value: RenderedMessage) -> None:
        self._items[key] = value
        if len(self._items) > self.size:
            del self._items[next(iter(self._items))]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


DEFAULT_CACHE = RenderCache()


def _mentions(viewer: str, names: Collection[str] | None) -> Mentions:
    if names is None:
        return Mentions(name_key(viewer) if viewer else "")
    return Mentions(name_key(viewer) if viewer else "", _keys(_frozen(names)))


def _frozen(names: Collection[str]) -> frozenset[str]:
    return names if isinstance(names, frozenset) else frozenset(names)


@lru_cache(maxsize=16)  # the same few user lists, asked for again and again
def _keys(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name_key(name) for name in names)


def _plain(text: str, layout: Layout, mentions: Mentions, config: RenderConfig) -> None:
    """Every line as typed; @mentions are still found and shown, since that
    changes no character."""
    for line in text.split("\n"):
        runs = mention_runs(line, mentions, config) if "@" in line else [Run(line)]
        layout.add(runs, [], [], code=False)


def render_message(
    text: str,
    *,
    width: int,
    first_width: int | None = None,
    viewer: str = "",
    names: Collection[str] | None = None,
    expanded: bool = False,
    mode: Mode = Mode.MARKDOWN,
    theme: Theme = DEFAULT_THEME,
    config: RenderConfig = DEFAULT_CONFIG,
    cache: RenderCache | None = DEFAULT_CACHE,
) -> RenderedMessage:
    """`text` (untrusted) as lines of at most `width` cells, the first of at
    most `first_width` (default `width`).

    `viewer` is the name of the one reading (their @mentions stand out and set
    `mentions_viewer`); `names` the names to highlight after an `@` (None:
    any). `expanded` shows long code blocks whole. `names` is part of the
    cache key: pass one frozenset for as long as it does not change (its hash
    is worked out once; another kind of collection is copied on every call).
    """
    first = width if first_width is None else first_width
    plain = mode is Mode.PLAIN  # a bool hashes faster than an enum member
    known = None if names is None else _frozen(names)
    key = (text, width, first, viewer, known, expanded, plain, theme, config)
    if cache is not None:
        found = cache.get(key)
        if found is not None:
            return found
    mentions = _mentions(viewer, known)
    clean = safe_text(text)
    layout = Layout(max(1, width), max(1, first))
    if plain:
        _plain(clean, layout, mentions, config)
    else:
        blocks = parse_blocks(clean)
        if len(blocks) == 1 and isinstance(blocks[0], Paragraph) and not has_markup(clean):
            layout.add([Run(clean)], [], [], code=False)  # the common case, quickly
        else:
            layout = lay_out(
                blocks,
                width=width,
                first_width=first,
                expanded=expanded,
                mentions=mentions,
                config=config,
            )
    lines = tuple(layout.lines)
    rendered = RenderedMessage(
        lines=lines,
        theme=theme,
        mentions=frozenset(mentions.found),
        mentions_viewer=bool(mentions.viewer) and mentions.viewer in mentions.found,
        folded_blocks=layout.folded_blocks,
        hidden_lines=layout.hidden_lines,
    )
    if cache is not None:
        cache.put(key, rendered)
    return rendered


@dataclass(slots=True, frozen=True)
class Mentioned:
    keys: frozenset[str]  # name keys of the @mentions
    viewer: bool  # whether the viewer is one of them


def mentions_in(
    text: str,
    *,
    viewer: str = "",
    names: Collection[str] | None = None,
    mode: Mode = Mode.MARKDOWN,
    config: RenderConfig = DEFAULT_CONFIG,
) -> Mentioned:
    """The @mentions `render_message` would show, without laying anything
    out: for deciding on a toast or a bell when a message arrives. An `@` in
    code is not a mention."""
    mentions = _mentions(viewer, names)
    if "@" in text:
        clean = safe_text(text)
        if mode is Mode.PLAIN:
            for line in clean.split("\n"):
                mention_runs(line, mentions, config)
        else:
            for block in parse_blocks(clean):
                if not isinstance(block, CodeBlock) and "@" in block.text:
                    inline_runs(block.text, mentions, config)
    found = frozenset(mentions.found)
    return Mentioned(found, bool(mentions.viewer) and mentions.viewer in found)


_MARKUP = frozenset("`*_[]<@:\\")


def has_markup(text: str) -> bool:
    """Whether an inline rule might apply to `text` (a special character or a
    URL). One line without any renders as itself, unstyled: a log can keep its
    plain fast path for those."""
    return not _MARKUP.isdisjoint(text) or "://" in text
