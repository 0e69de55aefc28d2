"""The block part of the Markdown subset: a message's lines sorted into paragraphs, quotes,
list items and fenced code blocks. Pure, one pass over the lines.

Chat keeps every line break as typed, so a paragraph is one line; a fence
left open runs to the end of the message (as in CommonMark).
"""

from __future__ import annotations

from dataclasses import dataclass

_BULLETS = frozenset("-*+")
_MAX_ORDINAL_DIGITS = 9  # CommonMark's limit: "1234567890." is text
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+#.-")


@dataclass(slots=True, frozen=True)
class Paragraph:
    text: str


@dataclass(slots=True, frozen=True)
class Quote:
    depth: int  # how many `>`
    text: str


@dataclass(slots=True, frozen=True)
class Item:
    level: int  # nesting, from the indentation (two spaces a level)
    marker: str  # "•" or "3."
    text: str


@dataclass(slots=True, frozen=True)
class CodeBlock:
    language: str  # from the fence, "" if none (letters, digits and `_+#.-` only)
    lines: tuple[str, ...]


Block = Paragraph | Quote | Item | CodeBlock


def _fence(line: str) -> tuple[str, int, str] | None:
    """(fence character, fence length, language) if `line` opens a fence."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or stripped[:3] not in ("```", "~~~"):
        return None
    char = stripped[0]
    length = len(stripped) - len(stripped.lstrip(char))
    info = stripped[length:].strip()
    if char == "`" and "`" in info:  # ```inline``` on one line is inline code
        return None
    word = info.split(maxsplit=1)[0] if info else ""
    return char, length, "".join(ch for ch in word if ch in _LABEL_CHARS)


def _closes(line: str, char: str, length: int) -> bool:
    stripped = line.strip(" ")
    return len(stripped) >= length and stripped == char * len(stripped)


def _quote(line: str) -> Quote | None:
    stripped = line.lstrip(" ")
    if not stripped.startswith(">"):
        return None
    depth = 0
    at = 0
    while at < len(stripped) and stripped[at] == ">":
        depth += 1
        at += 1
        while at < len(stripped) and stripped[at] == " ":  # "> > x" nests too
            at += 1
    return Quote(depth, stripped[at:])


def _item(line: str) -> Item | None:
    stripped = line.lstrip(" ")
    level = (len(line) - len(stripped)) // 2
    if len(stripped) >= 2 and stripped[0] in _BULLETS and stripped[1] == " ":
        return Item(level, "•", stripped[2:])
    digits = 0
    while digits < len(stripped) and digits <= _MAX_ORDINAL_DIGITS and stripped[digits].isdigit():
        digits += 1
    if (
        0 < digits <= _MAX_ORDINAL_DIGITS
        and stripped[digits : digits + 1] in (".", ")")
        and stripped[digits + 1 : digits + 2] == " "
        and stripped[:digits].isascii()
    ):
        return Item(level, stripped[:digits] + ".", stripped[digits + 2 :])
    return None


def parse_blocks(text: str) -> list[Block]:
    """The blocks of a (sanitised) message, in order."""
    blocks: list[Block] = []
    lines = text.split("\n")
    at = 0
    while at < len(lines):
        line = lines[at]
        at += 1
        fence = _fence(line)
        if fence is not None:
            char, length, language = fence
            start = at
            while at < len(lines) and not _closes(lines[at], char, length):
                at += 1
            blocks.append(CodeBlock(language, tuple(lines[start:at])))
            at += 1  # past the closing fence (or the end)
            continue
        block = _quote(line) or _item(line) or Paragraph(line)
        blocks.append(block)
    return blocks
