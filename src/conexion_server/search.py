"""What a search looks for, and one rule for what matches, whichever store
answers: every word of the query as a word of the message (a word ending in
`*` as the start of one), with case and accents ignored: what SQLite's FTS5
`unicode61 remove_diacritics 2` tokenizer does, so that the in-memory store,
a cluster's scan and the database find the same messages.

Whole words by default, because that is what an index answers at once; a
prefix merges every word that starts with it (see docs/performance.md).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from conexion_protocol import DirectMessage, ErrorCode, Message, ProtocolError, Stored, name_key

MAX_WORDS = 8  # words of one query that count; more only narrow it further


def _fold(char: str) -> str:
    """A character without case or accents ("É" -> "e")."""
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _folded(char: str) -> str:
    return _fold(char) if unicodedata.category(char)[0] in "LN" else ""


def words(text: str) -> list[str]:
    """The words of a text: runs of letters and digits, folded."""
    found: list[str] = []
    current: list[str] = []
    for char in text:
        folded = _folded(char) if not char.isascii() else char.lower() if char.isalnum() else ""
        if folded:
            current.append(folded)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


@dataclass(slots=True, frozen=True)
class Query:
    """A search as decided by the hub: the words, and where the asker may look."""

    terms: tuple[tuple[str, bool], ...]  # each word, and whether it is a prefix
    conversations: tuple[str, ...]  # room keys
    viewer: str  # the asker's name key
    dms: bool  # the asker's DMs too
    dm_with: str | None = None  # only the DMs of this conversation

    def matches(self, message: Stored) -> bool:
        if isinstance(message, Message) and message.deleted:
            return False
        if isinstance(message, DirectMessage) and self.dm_with is not None:
            pair = sorted((name_key(message.from_), name_key(message.to)))
            if f"dm:{pair[0]}:{pair[1]}" != self.dm_with:
                return False
        text = message.text
        if text.isascii():
            # Most messages of a scan hold none of the words: a substring
            # test turns them away before the text is split into words.
            low = text.lower()
            if any(term not in low for term, _ in self.terms):
                return False
        have = words(text)
        exact = set(have)
        return all(
            any(w.startswith(term) for w in have) if prefix else term in exact
            for term, prefix in self.terms
        )

    def fts(self) -> str:
        """The query in FTS5's syntax: each term quoted (a prefix with its
        `*`), all required; nothing of the user's text is FTS syntax."""
        return " AND ".join(
            '"' + term.replace('"', '""') + '"' + ("*" if prefix else "")
            for term, prefix in self.terms
        )


def search_terms(text: str) -> tuple[tuple[str, bool], ...]:
    """The words a search looks for (a word typed with a `*` after it is a
    prefix); `bad_text` when there are none."""
    found: dict[tuple[str, bool], None] = {}
    for chunk in text.split():
        chunk_words = words(chunk)
        if not chunk_words:
            continue
        *whole, last = chunk_words
        for word in whole:
            found[word, False] = None
        found[last, chunk.endswith("*")] = None
    terms = tuple(found)[:MAX_WORDS]
    if not terms:
        raise ProtocolError(
            ErrorCode.BAD_TEXT, "a search needs at least one word (letters or digits)"
        )
    return terms


def _order(message: Stored) -> tuple[str, str, int]:
    where = message.room if isinstance(message, Message) else f"dm:{message.from_}"
    return (message.ts, name_key(where), message.seq)


def older_than(message: Stored, bound: tuple[str, str, int]) -> bool:
    """`message` comes after the cursor `bound` in a newest-first page."""
    return _order(message) < bound


def cursor_of(message: Stored) -> str:
    ts, where, seq = _order(message)
    return f"{ts}/{where}/{seq}"


def parse_cursor(cursor: str) -> tuple[str, str, int]:
    ts, sep, rest = cursor.partition("/")
    where, sep2, seq = rest.rpartition("/")
    if not (sep and sep2 and seq.isdigit() and len(seq) <= 16):
        raise ProtocolError(ErrorCode.BAD_FRAME, "`before` is not a cursor this server gave")
    return ts, where, int(seq)


def page_newest_first(
    candidates: list[Stored], before: str | None, limit: int
) -> tuple[list[Stored], str | None]:
    """A page of matches that a store found by scanning, newest first, with
    the cursor of the next page."""
    if before is not None:
        bound = parse_cursor(before)
        candidates = [m for m in candidates if _order(m) < bound]
    candidates.sort(key=_order, reverse=True)
    page = candidates[:limit]
    more = len(candidates) > limit
    return page, cursor_of(page[-1]) if more and page else None
