"""Breaking runs into lines by terminal cells: prose at spaces, code anywhere. Pure, linear."""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size

from .model import Run

_TOKENS = re.compile(r"\S+\s*|\s+")
_ONLY_SPACES = re.compile(r"[^\t\n\r\f\v]*")  # ASCII whitespace other than " " is elsewhere


def cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def word_breaks(text: str, first: int, rest: int) -> list[int]:
    """Where to break `text` so the first line has at most `first` cells and
    later ones `rest` (spaces at a break excepted): at spaces, and inside a
    word only when the word alone is wider than a line."""
    if len(text) <= first and cells(text) <= first:
        return []  # the common case: it fits
    if text.isascii() and _ONLY_SPACES.fullmatch(text):
        return _ascii_breaks(text, first, rest)
    return _token_breaks(text, first, rest)


def _token_breaks(text: str, first: int, rest: int) -> list[int]:
    breaks: list[int] = []
    room, used = first, 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        size = len(token) if token.isascii() else cell_len(token)
        visible = size - (len(token) - len(token.rstrip()))  # trailing spaces are one cell each
        if used + visible <= room:
            used += size
            continue
        if used > 0:
            breaks.append(match.start())
            room, used = rest, 0
        if visible <= room:
            used = size
            continue
        for index, char in enumerate(token, match.start()):
            size = get_character_cell_size(char)
            if used + size > room and used > 0 and not char.isspace():
                breaks.append(index)
                room, used = rest, 0
            used += size
    return breaks


def _ascii_breaks(text: str, first: int, rest: int) -> list[int]:
    """`word_breaks` for text of one cell a character whose only white space
    is " ": a line at a time with `str.find`/`rfind` instead of a word at a
    time (the same breaks; the tests compare the two)."""
    breaks: list[int] = []
    start, room, end = 0, first, len(text)
    while end - start > room:
        edge = start + room  # the first character that does not fit
        if text[edge] == " ":
            # Every word before the edge fits: break at the next word, if any.
            cut = edge
            while cut < end and text[cut] == " ":
                cut += 1
            if cut == end:
                break  # only spaces left, and they take no room
        else:
            cut = text.rfind(" ", start, edge) + 1  # the start of the word at the edge
            if cut <= start:
                cut = edge  # one word wider than the line: cut inside it
        breaks.append(cut)
        start, room = cut, rest
    return breaks


def cell_breaks(text: str, first: int, rest: int) -> list[int]:
    """Where to cut `text` into pieces of at most `first` cells, then `rest`
    (code keeps its spaces, so it is cut anywhere)."""
    room = max(first, 1)
    if text.isascii():
        if len(text) <= room:
            return []
        return list(range(room, len(text), max(rest, 1)))
    breaks: list[int] = []
    used = 0
    for index, char in enumerate(text):
        size = get_character_cell_size(char)
        if used + size > room and used > 0:
            breaks.append(index)
            room, used = max(rest, 1), 0
        used += size
    return breaks


def split_runs(runs: list[Run], breaks: list[int], *, trim: bool) -> list[list[Run]]:
    """`runs` cut at the character offsets `breaks`; with `trim`, the spaces
    before each break are dropped (prose)."""
    if not breaks:
        return [runs]
    lines: list[list[Run]] = [[]]
    at = 0  # offset of the current run's start
    cut = 0  # index into breaks
    for run in runs:
        start = 0
        end = len(run.text)
        while cut < len(breaks) and breaks[cut] < at + end:
            piece = run.text[start : breaks[cut] - at]
            if piece:
                lines[-1].append(Run(piece, run.names, run.link))
            lines.append([])
            start = breaks[cut] - at
            cut += 1
        if start < end:
            lines[-1].append(Run(run.text[start:], run.names, run.link))
        at += end
    if trim:
        for line in lines[:-1]:
            while line and not line[-1].text.rstrip():
                line.pop()
            if line and line[-1].text[-1:].isspace():
                last = line[-1]
                line[-1] = Run(last.text.rstrip(), last.names, last.link)
    return lines
