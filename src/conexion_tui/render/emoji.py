"""Emoji shortcodes: the table, lookup, and prefix completion for the input's Tab key. Pure.

The table is Rich's own (`rich._emoji_codes`, shipped since Rich 9) plus a few
names chat users type out of habit (Slack's and GitHub's) that Rich lacks.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

try:  # a private module of Rich: if it ever goes, the aliases below still work
    from rich._emoji_codes import EMOJI as _RICH_EMOJI
except ImportError:  # pragma: no cover
    _RICH_EMOJI = {}

# Characters a shortcode name may hold: what people type between the colons.
# Rich's names with other characters (parentheses, apostrophes) are left out,
# so that what completes is what renders.
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_+-")

_ALIASES = {
    "thinking": "🤔",
    "slight_smile": "🙂",
    "upside_down_face": "🙃",
    "rofl": "🤣",
    "party": "🥳",
    "check": "✔️",
    "shrug": "🤷",
    "facepalm": "🤦",
    "hugs": "🤗",
    "heart": "❤️",
}

SHORTCODES: dict[str, str] = {
    name: emoji for name, emoji in _RICH_EMOJI.items() if name and set(name) <= NAME_CHARS
} | _ALIASES
_SORTED = sorted(SHORTCODES)

MAX_COMPLETIONS = 20


def emoji_for(name: str) -> str | None:
    """The emoji for a shortcode name without its colons (`rocket`), or None."""
    return SHORTCODES.get(name)


def complete_shortcode(prefix: str, limit: int = MAX_COMPLETIONS) -> list[str]:
    """Shortcodes starting with `prefix` (`:roc` or `roc`), as `:rocket:`,
    shortest first, then alphabetical; at most `limit`."""
    return list(_complete(prefix.removeprefix(":").lower(), limit))


@lru_cache(maxsize=256)  # Tab is pressed again and again on the same prefix
def _complete(word: str, limit: int) -> tuple[str, ...]:
    if not word or not set(word) <= NAME_CHARS:
        return ()
    start = bisect.bisect_left(_SORTED, word)
    found = []
    for name in _SORTED[start:]:
        if not name.startswith(word):
            break
        found.append(name)
    found.sort(key=lambda name: (len(name), name))
    return tuple(f":{name}:" for name in found[:limit])
