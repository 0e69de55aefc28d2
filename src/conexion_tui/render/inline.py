"""The inline part of the Markdown subset, for one line of text: *em*, **strong**, `code`,
[text](url) links, URLs, @mentions and :emoji:, turned into runs. Pure.

One left-to-right pass with a bounded look-ahead at each special character,
then a linear pass pairing emphasis delimiters (CommonMark's stack, without its
rarer rules): no regex that can backtrack, no search that restarts, so any
line costs time proportional to its length.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from conexion_protocol import name_key

from .emoji import NAME_CHARS, SHORTCODES
from .limits import RenderConfig
from .model import Part, Run
from .sanitize import is_safe_url

# The next character that may start something: a plain stretch between two of
# them is copied in one slice.
_SPECIAL = re.compile(r"[`*_\[\]<@:\\]|(?<![A-Za-z0-9])(?i:https?://)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,31}:")  # anchored with match()
_ASCII_PUNCT = frozenset(string.punctuation)
_URL_TRAILING = frozenset(".,:;!?'\"*_~")
_NAME_PUNCT = frozenset("_-.")

# Token kinds.
_TEXT, _DELIM, _CODE, _URL, _MENTION, _LINK_START, _LINK_END = range(7)


@dataclass(slots=True)
class Mentions:
    """Who counts as mentioned: `known` holds the name keys that are
    highlighted (None: any @name), `viewer` the key of the one reading.
    `found` collects the keys seen while rendering."""

    viewer: str = ""
    known: frozenset[str] | None = None
    found: set[str] = field(default_factory=set)

    def match(self, name: str) -> str | None:
        """The key of `name` if it is a mention worth showing, else None."""
        key = name_key(name)
        if self.known is None or key in self.known or key == self.viewer:
            return key
        return None


@dataclass(slots=True)
class _Delim:
    char: str
    count: int
    can_open: bool
    can_close: bool
    opens: list[int] = field(default_factory=list)  # 1 = em, 2 = strong
    closes: list[int] = field(default_factory=list)


def _is_punct(ch: str) -> bool:
    if ch.isascii():
        return ch in _ASCII_PUNCT
    return unicodedata.category(ch)[0] in "PS"


def _is_name_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _NAME_PUNCT
    category = unicodedata.category(ch)
    return category[0] in "LM" or category == "Nd"


def _delim(char: str, count: int, before: str, after: str) -> _Delim:
    """A run of `*` or `_`, and whether it may open or close emphasis
    (CommonMark's flanking rules)."""
    space_before, space_after = before.isspace(), after.isspace()
    left = not space_after and (not _is_punct(after) or space_before or _is_punct(before))
    right = not space_before and (not _is_punct(before) or space_after or _is_punct(after))
    if char == "*":
        return _Delim(char, count, left, right)
    # `_` never opens or closes inside a word: snake_case stays as typed.
    return _Delim(
        char,
        count,
        left and (not right or _is_punct(before)),
        right and (not left or _is_punct(after)),
    )


def _pair(delims: list[_Delim], start: int) -> None:
    """Pair the delimiters from `start` on, closers with the nearest opener
    of the same character; then forget them. Each step uses up at least one
    delimiter character, so the work is linear."""
    openers: dict[str, list[_Delim]] = {"*": [], "_": []}
    for delim in delims[start:]:
        if delim.can_close:
            stack = openers[delim.char]
            while delim.count and stack:
                opener = stack[-1]
                used = 2 if opener.count >= 2 and delim.count >= 2 else 1
                opener.count -= used
                delim.count -= used
                opener.opens.append(used)
                delim.closes.append(used)
                if not opener.count:
                    stack.pop()
        if delim.count and delim.can_open:
            openers[delim.char].append(delim)
    del delims[start:]


def _code_closers(line: str) -> dict[int, list[int]]:
    """The start of every run of backticks, by the run's length."""
    runs: dict[int, list[int]] = {}
    i = line.find("`")
    while i >= 0:
        j = i
        while j < len(line) and line[j] == "`":
            j += 1
        runs.setdefault(j - i, []).append(i)
        i = line.find("`", j)
    return runs


def _url_end(line: str, start: int) -> int:
    """Where a bare URL starting at `start` ends: at a space, `<`, `>`, `[`
    or `]`, without trailing punctuation or an unbalanced `)`."""
    end = start
    while end < len(line) and not line[end].isspace() and line[end] not in "<>[]":
        end += 1
    opened = line.count("(", start, end)
    closed = line.count(")", start, end)
    while end > start:
        last = line[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last == ")" and closed > opened:
            closed -= 1
            end -= 1
        else:
            break
    return end


def _destination(line: str, start: int, limit: int) -> int:
    """The index of the `)` ending a link destination that starts at
    `start`, or -1. One level of parentheses is allowed (Wikipedia's URLs);
    a space or bracket ends the search, so no character is looked at twice
    by two searches."""
    depth = 0
    end = min(len(line), start + limit + 1)
    for j in range(start, end):
        ch = line[j]
        if ch == ")":
            if depth == 0:
                return j if j > start else -1
            depth -= 1
        elif ch == "(":
            depth += 1
            if depth > 1:
                return -1
        elif ch.isspace() or ch in "[]<>":
            return -1
    return -1


def _mention(
    line: str, at: int, mentions: Mentions, config: RenderConfig
) -> tuple[str, str] | None:
    """(`@name`, its key) if the `@` at `at` starts a mention. Looks at most
    `max_name` characters ahead, none of them an `@`, so scans never overlap."""
    before = line[at - 1] if at else " "
    if _is_name_char(before) or before == "@":  # an address (ana@host), not a mention
        return None
    end = at + 1
    limit = min(len(line), end + config.max_name + 1)
    while end < limit and _is_name_char(line[end]):
        end += 1
    name = line[at + 1 : end]
    if not name or len(name) > config.max_name or not name[0].isalnum():
        return None
    # "@ana." ends a sentence: the dot is part of the name only for a known
    # name that has it.
    if name[-1] in _NAME_PUNCT and (mentions.known is None or mentions.match(name) is None):
        name = name.rstrip("_-.")
    key = mentions.match(name) if name else None
    if key is None:
        return None
    mentions.found.add(key)
    return "@" + name, key


def mention_runs(line: str, mentions: Mentions, config: RenderConfig) -> list[Run]:
    """`line` exactly as typed, its @mentions highlighted (plain mode)."""
    runs: list[Run] = []
    done = 0
    at = line.find("@")
    while at >= 0:
        found = _mention(line, at, mentions, config)
        if found is None:
            at = line.find("@", at + 1)
            continue
        if at > done:
            runs.append(Run(line[done:at]))
        part = Part.MENTION_SELF if found[1] == mentions.viewer else Part.MENTION
        runs.append(Run(found[0], (part,)))
        done = at + len(found[0])
        at = line.find("@", done)
    if done < len(line):
        runs.append(Run(line[done:]))
    return runs


def _tokens(line: str, mentions: Mentions, config: RenderConfig) -> list[tuple]:
    tokens: list[tuple] = []
    delims: list[_Delim] = []
    brackets: list[tuple[int, int, int]] = []  # (token index, position, delims then)
    closers: dict[int, list[int]] | None = None
    next_closer: dict[int, int] = {}  # per run length, the first closer not yet passed
    n = len(line)
    i = 0
    while i < n:
        found = _SPECIAL.search(line, i)
        if found is None:
            tokens.append((_TEXT, line[i:]))
            break
        j = found.start()
        if j > i:
            tokens.append((_TEXT, line[i:j]))
            i = j
        ch = line[i]
        before = line[i - 1] if i else " "
        if ch == "`":
            if closers is None:
                closers = _code_closers(line)
            k = i
            while k < n and line[k] == "`":
                k += 1
            length = k - i
            starts = closers.get(length, [])
            at = next_closer.get(length, 0)
            while at < len(starts) and starts[at] <= i:
                at += 1
            next_closer[length] = at
            if at < len(starts):
                close = starts[at]
                code = line[k:close]
                if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
                    code = code[1:-1]
                tokens.append((_CODE, code))
                i = close + length
            else:
                tokens.append((_TEXT, line[i:k]))
                i = k
        elif ch in "*_":
            k = i
            while k < n and line[k] == ch:
                k += 1
            delim = _delim(ch, k - i, before, line[k] if k < n else " ")
            tokens.append((_DELIM, delim))
            if delim.can_open or delim.can_close:
                delims.append(delim)
            i = k
        elif ch == "[":
            brackets.append((len(tokens), i, len(delims)))
            tokens.append((_TEXT, "["))
            i += 1
        elif ch == "]":
            end = -1
            if brackets and i + 1 < n and line[i + 1] == "(":
                end = _destination(line, i + 2, config.max_url)
            if end < 0:
                if brackets:
                    brackets.pop()
                tokens.append((_TEXT, "]"))
                i += 1
                continue
            at, position, first_delim = brackets[-1]
            brackets.clear()  # a link never holds another: earlier `[` stay text
            _pair(delims, first_delim)
            url = line[i + 2 : end]
            label = line[position + 1 : i]
            tokens[at] = (_LINK_START, url, label == url)
            tokens.append((_LINK_END, url, label == url, not label.strip()))
            i = end + 1
        elif ch == "<":
            k = i + 1
            limit = min(n, i + 2 + config.max_url)
            while k < limit and not line[k].isspace() and line[k] not in "<>":
                k += 1
            url = line[i + 1 : k]
            if k < n and line[k] == ">" and _SCHEME.match(url) and len(url) > 3:
                tokens.append((_URL, url))
                i = k + 1
            else:
                tokens.append((_TEXT, "<"))
                i += 1
        elif ch == "@":
            found_mention = _mention(line, i, mentions, config)
            if found_mention is None:
                tokens.append((_TEXT, "@"))
                i += 1
            else:
                tokens.append((_MENTION, *found_mention))
                i += len(found_mention[0])
        elif ch == ":":
            k = i + 1
            limit = min(n, k + config.max_shortcode)
            while k < limit and line[k] in NAME_CHARS:
                k += 1
            emoji = None
            if k < n and line[k] == ":" and k > i + 1 and not before.isalnum():
                emoji = SHORTCODES.get(line[i + 1 : k])
            if emoji is None:
                tokens.append((_TEXT, ":"))
                i += 1
            else:
                tokens.append((_TEXT, emoji))
                i = k + 1
        elif ch == "\\":
            if i + 1 < n and line[i + 1] in _ASCII_PUNCT:
                tokens.append((_TEXT, line[i + 1]))
                i += 2
            else:
                tokens.append((_TEXT, "\\"))
                i += 1
        else:  # http:// or https://, not inside a word
            end = _url_end(line, i)
            url = line[i:end]
            if len(url) > len("https://") and len(url) <= config.max_url:
                tokens.append((_URL, url))
            else:
                tokens.append((_TEXT, line[i : max(end, i + 1)]))
            i = max(end, i + 1)
    _pair(delims, 0)
    return tokens


class _Runs:
    """Runs being built: neighbours in the same style are merged."""

    __slots__ = ("_link", "_names", "_parts", "runs")

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._parts: list[str] = []
        self._names: tuple[str, ...] = ()
        self._link: str | None = None

    def add(self, text: str, names: tuple[str, ...], link: str | None = None) -> None:
        if not text:
            return
        if names != self._names or link != self._link:
            self.flush()
            self._names, self._link = names, link
        self._parts.append(text)

    def flush(self) -> None:
        if self._parts:
            self.runs.append(Run("".join(self._parts), self._names, self._link))
            self._parts = []


def inline_runs(
    line: str,
    mentions: Mentions,
    config: RenderConfig,
    base: tuple[str, ...] = (),
) -> list[Run]:
    """One line of Markdown as runs; `base` names go first on every run."""
    out = _Runs()
    em = strong = 0
    link: tuple[str, bool] | None = None  # (url, label is the URL) while inside [text](url)
    style: Callable[[tuple[str, ...]], tuple[str, ...]]

    def style(extra: tuple[str, ...]) -> tuple[str, ...]:
        names = base
        if strong:
            names += (Part.STRONG,)
        if em:
            names += (Part.EM,)
        if link is not None:
            names += (Part.URL,) if link[1] else (Part.LINK,)
        return names + tuple(name for name in extra if name not in names)

    for token in _tokens(line, mentions, config):
        kind = token[0]
        if kind == _TEXT:
            own = link[0] if link is not None and link[1] and is_safe_url(link[0]) else None
            out.add(token[1], style(()), own)
        elif kind == _DELIM:
            delim: _Delim = token[1]
            for used in delim.closes:
                if used == 2:
                    strong -= 1
                else:
                    em -= 1
            out.add(delim.char * delim.count, style(()))
            for used in delim.opens:
                if used == 2:
                    strong += 1
                else:
                    em += 1
        elif kind == _CODE:
            out.add(token[1], style((Part.CODE,)))
        elif kind == _URL:
            url = token[1]
            out.add(url, style((Part.URL,)), url if is_safe_url(url) else None)
        elif kind == _MENTION:
            part = Part.MENTION_SELF if token[2] == mentions.viewer else Part.MENTION
            out.add(token[1], style((part,)))
        elif kind == _LINK_START:
            link = (token[1], token[2])
        else:  # _LINK_END
            url, same, empty = token[1], token[2], token[3]
            link = None
            if not same:
                shown = url if empty else f" ({url})"
                out.add(shown, style((Part.URL,)), url if is_safe_url(url) else None)
    out.flush()
    return out.runs
