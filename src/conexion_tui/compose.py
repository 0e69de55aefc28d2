"""What a typed line becomes before it is sent: `:shortcodes:` as emoji, the lines that act on
messages (`/search`, `/paste`, `+:emoji:`), a file as a fenced code block, Tab completion of
shortcodes. Pure functions: no Textual, no I/O (the screen reads the file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from conexion_protocol import MAX_TEXT_LEN

from .render import complete_shortcode, emoji_for

_SHORTCODE = re.compile(r":([a-z0-9_+-]{1,48}):")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# Everything up to the cursor that may be a shortcode being typed.
_TYPED_CODE = re.compile(r"(?:^|(?<=\s)):[a-z0-9_+-]{1,48}$")


def expand_shortcodes(text: str) -> str:
    """`:tada:` as 🎉 wherever it is prose: code (fenced blocks, `spans`)
    is sent as typed, and so is an unknown `:name:`."""
    if ":" not in text:
        return text
    lines = text.split("\n")
    in_fence = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or ":" not in line:
            continue
        # Odd pieces between backticks are inline code.
        pieces = line.split("`")
        for index in range(0, len(pieces), 2):
            pieces[index] = _SHORTCODE.sub(_emoji_or_same, pieces[index])
        lines[number] = "`".join(pieces)
    return "\n".join(lines)


def _emoji_or_same(match: re.Match[str]) -> str:
    return emoji_for(match.group(1)) or match.group()


def shortcode_completion(line: str, cursor: int) -> tuple[int, tuple[str, ...]] | None:
    """Where a `:roc` being typed before `cursor` starts, and the emoji
    shortcodes it may become (`:rocket: `); None when it is not one."""
    found = _TYPED_CODE.search(line[:cursor])
    if found is None or len(found.group()) < 3:  # ":" and two letters at least
        return None
    codes = complete_shortcode(found.group())
    if not codes:
        return None
    return found.start(), tuple(code + " " for code in codes)


# -- lines that act on messages -------------------------------------------------


@dataclass(slots=True, frozen=True)
class SearchFor:
    """`/search TEXT`: open the search screen on TEXT (empty: just open it)."""

    text: str


@dataclass(slots=True, frozen=True)
class PasteFile:
    """`/paste FILE`: send the file as a code block."""

    path: str


@dataclass(slots=True, frozen=True)
class OpenEditor:
    """`/editor`: write the message in $EDITOR (also ctrl+o)."""


@dataclass(slots=True, frozen=True)
class ReactToLatest:
    """`+:tada:` (or `+🎉`) alone on a line: react to the room's latest message."""

    emoji: str


@dataclass(slots=True, frozen=True)
class ComposeError:
    message: str


ActionLine = SearchFor | PasteFile | OpenEditor | ReactToLatest | ComposeError

_REACT_LINE = re.compile(r"^\+(:[a-z0-9_+-]{1,48}:|\S{1,16})$")


def parse_action_line(line: str) -> ActionLine | None:
    """The message action a typed line asks for; None for any other line
    (a message, or a command `commands.parse` knows)."""
    text = line.strip()
    word, _, rest = text.partition(" ")
    match word.lower():
        case "/search" | "/find":
            return SearchFor(rest.strip())
        case "/paste":
            path = rest.strip()
            return PasteFile(path) if path else ComposeError("usage: /paste FILE")
        case "/editor":
            return OpenEditor()
    found = _REACT_LINE.match(text)
    if found is None:
        return None
    given = found.group(1)
    if given.startswith(":"):
        emoji = emoji_for(given.strip(":"))
        return ReactToLatest(emoji) if emoji else ComposeError(f"no emoji is called {given}")
    if any(ch.isalnum() and not ch.isdigit() for ch in given) or given.isdigit():
        return None  # "+1" or "+word" is a message, not a reaction
    return ReactToLatest(given)


# -- /paste ------------------------------------------------------------------------

# Languages by file extension: what the renderer's fence label understands.
LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".jsx": "jsx",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sh": "bash",
    ".bash": "bash",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".sql": "sql",
    ".html": "html",
    ".css": "css",
    ".md": "markdown",
    ".diff": "diff",
    ".patch": "diff",
    ".lua": "lua",
    ".hs": "haskell",
    ".ex": "elixir",
    ".cs": "csharp",
    ".swift": "swift",
    ".ini": "ini",
    ".cfg": "ini",
    ".xml": "xml",
    ".mk": "make",
}
# Bytes read at most: four bytes a code point over the text limit is never sendable.
MAX_PASTE_BYTES = 4 * MAX_TEXT_LEN


class PasteError(ValueError):
    """Why a file cannot be sent as a code block (the message says it to the user)."""


def code_block(name: str, data: bytes, *, max_len: int = MAX_TEXT_LEN) -> str:
    """`data` (a file called `name`) as a fenced code block, its language
    from the extension; PasteError when it is not UTF-8 text or too long."""
    shown = PurePath(name).name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PasteError(f"{shown} is not UTF-8 text; only text files can be pasted") from None
    if "\x00" in text:
        raise PasteError(f"{shown} looks binary (it holds NUL bytes)")
    text = text.replace("\r\n", "\n").rstrip("\n")
    if not text.strip():
        raise PasteError(f"{shown} is empty")
    fence = "```"
    while fence in text:  # a file holding ``` must not close its own block
        fence += "`"
    language = LANGUAGES.get(PurePath(name).suffix.lower(), "")
    block = f"{fence}{language}\n{text}\n{fence}"
    if len(block) > max_len:
        raise PasteError(
            f"{shown} is too long to send: {len(block):,} characters as a code block, "
            f"the limit is {max_len:,}"
        )
    return block


__all__ = [
    "LANGUAGES",
    "MAX_PASTE_BYTES",
    "ActionLine",
    "ComposeError",
    "OpenEditor",
    "PasteError",
    "PasteFile",
    "ReactToLatest",
    "SearchFor",
    "code_block",
    "expand_shortcodes",
    "parse_action_line",
    "shortcode_completion",
]
