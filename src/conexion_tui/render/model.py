"""What a rendered message is made of: runs of text carrying style names, grouped in lines.
Data only: no parsing, no Rich styles (a `Theme` turns names into styles).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Part(enum.StrEnum):
    """The style names a run can carry; a `Theme` maps each to a Rich style."""

    EM = "em"
    STRONG = "strong"
    CODE = "code"  # inline `code`
    LINK = "link"  # the text of a [text](url) link
    URL = "url"  # a URL, always shown as it is
    MENTION = "mention"  # @someone
    MENTION_SELF = "mention.self"  # @viewer
    QUOTE = "quote"
    QUOTE_BAR = "quote.bar"
    MARKER = "list.marker"  # "•" or "1."
    GUTTER = "code.gutter"  # the bar left of a code block's lines
    LABEL = "code.label"  # the language line above a code block
    FOLD = "code.fold"  # "… 12 more lines"
    # Syntax highlighting, one name per kind of token.
    KEYWORD = "code.keyword"
    NAME = "code.name"
    BUILTIN = "code.builtin"
    STRING = "code.string"
    NUMBER = "code.number"
    COMMENT = "code.comment"
    OPERATOR = "code.operator"
    INSERTED = "code.inserted"
    DELETED = "code.deleted"
    ERROR = "code.error"


@dataclass(slots=True, frozen=True)
class Run:
    """Text drawn in one style. `link` is set only for http(s) URLs that are
    safe to hand to the terminal as an OSC 8 hyperlink."""

    text: str
    names: tuple[str, ...] = ()
    link: str | None = None


Line = tuple[Run, ...]
