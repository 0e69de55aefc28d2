"""Log entries and how they become lines of `rich.text.Text`: sanitising
untrusted text, per-user colours, mention detection and word wrapping by
terminal cell width.

Pure functions over Rich objects; no Textual. The styles come in as an
argument (the log widget reads them from `app.tcss`), so nothing here decides
a colour.
"""

from __future__ import annotations

import enum
import itertools
import re
import zlib
from dataclasses import dataclass, field

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Text

from conexion_server.protocol import name_key

from .client import SendStatus

TAB_SIZE = 4
NAME_COLOURS = 8  # palette size; `app.tcss` defines message-log--nick-0 .. -7

# C0 and C1 controls and DEL (newline is handled separately), bidi embedding,
# override and isolate controls: none of them may reach the terminal.
_STRIP = {c: None for c in range(0x20) if c not in (0x09, 0x0A)}
_STRIP.update({c: None for c in range(0x7F, 0xA0)})
_STRIP.update({c: None for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
_STRIP.update({0x2028: "\n", 0x2029: "\n"})


def clean(text: str, *, single_line: bool = False) -> str:
    """Untrusted text made safe to draw: no control characters, no escape
    sequences (their ESC is gone, the rest is shown as typed), no bidi
    overrides, tabs as spaces."""
    text = text.translate(_STRIP)
    if "\t" in text:
        text = text.expandtabs(TAB_SIZE)
    if single_line and "\n" in text:
        text = text.replace("\n", " ")
    return text


def name_colour(name: str) -> int:
    """A stable palette index for a name: the same in every session and for
    every spelling that the server treats as the same name."""
    return zlib.crc32(name_key(name).encode("utf-8")) % NAME_COLOURS


def mentions(text: str, name: str) -> bool:
    """Whether `text` names `name` as a word (case-insensitively)."""
    if not name:
        return False
    pattern = rf"(?<![\w]){re.escape(name_key(name))}(?![\w])"
    return re.search(pattern, name_key(text)) is not None


class Kind(enum.StrEnum):
    CHAT = "chat"
    ACTION = "action"  # /me
    DM_IN = "dm_in"
    DM_OUT = "dm_out"
    SYSTEM = "system"  # joins, leaves, renames, notices
    ERROR = "error"  # errors from the server or the client
    SEPARATOR = "separator"  # "— earlier messages —"


_uids = itertools.count(1)


@dataclass(slots=True, eq=False)
class Entry:
    """One item of the log. `text` and `name` must already be `clean()`.

    `version` changes whenever the entry's look changes (pending -> sent), so
    cached renderings of the old look are not reused.
    """

    kind: Kind
    time: str
    text: str
    name: str = ""
    status: SendStatus | None = None  # set for our own sends
    reason: str = ""  # why a send failed
    mention: bool = False
    own: bool = False
    uid: int = field(default_factory=lambda: next(_uids))
    version: int = 0


@dataclass(slots=True, frozen=True)
class LogStyles:
    """Rich styles for each part of a log line (filled from `app.tcss`)."""

    time: Style = field(default_factory=Style)
    text: Style = field(default_factory=Style)
    own: Style = field(default_factory=Style)
    system: Style = field(default_factory=Style)
    error: Style = field(default_factory=Style)
    dm: Style = field(default_factory=Style)
    action: Style = field(default_factory=Style)
    separator: Style = field(default_factory=Style)
    mention: Style = field(default_factory=Style)
    pending: Style = field(default_factory=Style)
    sent: Style = field(default_factory=Style)
    failed: Style = field(default_factory=Style)
    names: tuple[Style, ...] = ()

    def name(self, name: str) -> Style:
        if not self.names:
            return Style()
        return self.names[name_colour(name) % len(self.names)]


MARKS = {SendStatus.PENDING: "…", SendStatus.SENT: "✓", SendStatus.FAILED: "✗"}


def _prefix(entry: Entry, styles: LogStyles) -> Text:
    prefix = Text(no_wrap=True)
    if entry.time:
        prefix.append(entry.time, styles.time)
        prefix.append(" ")
    name_style = styles.name(entry.name)
    match entry.kind:
        case Kind.CHAT:
            prefix.append(entry.name, name_style + (styles.own if entry.own else Style()))
            prefix.append(": ")
        case Kind.ACTION:
            prefix.append("* ", styles.action)
            prefix.append(entry.name, name_style)
            prefix.append(" ")
        case Kind.DM_OUT:
            prefix.append("→ ", styles.dm)
            prefix.append(entry.name, name_style)
            prefix.append(": ", styles.dm)
        case Kind.DM_IN:
            prefix.append("← ", styles.dm)
            prefix.append(entry.name, name_style)
            prefix.append(": ", styles.dm)
        case Kind.SYSTEM:
            prefix.append("· ", styles.system)
        case Kind.ERROR:
            prefix.append("! ", styles.error)
    return prefix


def _body(entry: Entry, styles: LogStyles) -> Text:
    style = {
        Kind.SYSTEM: styles.system,
        Kind.ERROR: styles.error,
        Kind.ACTION: styles.action,
        Kind.DM_IN: styles.dm,
        Kind.DM_OUT: styles.dm,
    }.get(entry.kind, styles.text)
    body = Text(entry.text, style)
    if entry.status is not None:
        mark_style = {
            SendStatus.PENDING: styles.pending,
            SendStatus.SENT: styles.sent,
            SendStatus.FAILED: styles.failed,
        }[entry.status]
        body.append(" " + MARKS[entry.status], mark_style)
        if entry.status is SendStatus.FAILED and entry.reason:
            body.append(" not sent: " + entry.reason, styles.failed)
    return body


def _separator(entry: Entry, styles: LogStyles, width: int) -> list[Text]:
    label = f" {entry.text} "
    room = max(0, width - cell_len(label))
    left = room // 2
    return [Text("─" * left + label + "─" * (room - left), styles.separator, no_wrap=True)]


def entry_cells(entry: Entry) -> int | None:
    """The cell width of the entry on one line, or None if it has line breaks.

    Used as a fast path: most chat lines fit the width, and this is much
    cheaper than wrapping.
    """
    if "\n" in entry.text:
        return None
    # Mirrors _prefix + _body without building Text objects.
    cells = cell_len(entry.text) + cell_len(entry.name)
    cells += (len(entry.time) + 1) if entry.time else 0
    cells += {
        Kind.CHAT: 2,
        Kind.ACTION: 3,
        Kind.DM_OUT: 4,
        Kind.DM_IN: 4,
        Kind.SYSTEM: 2,
        Kind.ERROR: 2,
        Kind.SEPARATOR: 0,
    }[entry.kind]
    if entry.status is not None:
        cells += 2
        if entry.status is SendStatus.FAILED and entry.reason:
            cells += len(" not sent: ") + cell_len(entry.reason)
    return cells


def entry_height(entry: Entry, width: int) -> int:
    """How many lines the entry takes at `width` (what `render_entry` returns)."""
    if entry.kind is Kind.SEPARATOR:
        return 1
    cells = entry_cells(entry)
    if cells is not None and cells <= width:
        return 1
    return len(render_entry(entry, LogStyles(), width))


def render_entry(entry: Entry, styles: LogStyles, width: int) -> list[Text]:
    """The entry as lines of at most `width` cells (wider only when the
    terminal is narrower than the prefix itself)."""
    width = max(width, 1)
    if entry.kind is Kind.SEPARATOR:
        return _separator(entry, styles, width)
    prefix = _prefix(entry, styles)
    body = _body(entry, styles)
    prefix_cells = prefix.cell_len
    # Continuation lines line up under the text, unless the prefix is so wide
    # that this would leave too little room.
    indent = prefix_cells if prefix_cells <= width // 3 else min(2, width - 1)
    first_room = max(1, width - prefix_cells)
    room = max(1, width - indent)
    lines: list[Text] = []
    for number, paragraph in enumerate(body.split("\n", allow_blank=True)):
        offsets = wrap_offsets(paragraph.plain, first_room if number == 0 else room, room)
        parts = paragraph.divide(offsets) if offsets else [paragraph]
        for part in parts:
            part.rstrip()
            if not lines:
                line = prefix.copy()
                line.append_text(part)
            else:
                line = Text(" " * indent)
                line.append_text(part)
            lines.append(line)
    if entry.mention:
        for line in lines:
            line.stylize(styles.mention)
    return lines


_TOKENS = re.compile(r"\S+\s*|\s+")


def wrap_offsets(text: str, first: int, rest: int) -> list[int]:
    """Where to break `text` so that the first line has at most `first` cells
    and later ones at most `rest` (trailing spaces excepted): at spaces when
    possible, inside a word only when the word alone is too wide."""
    offsets: list[int] = []
    room = first
    used = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        visible = cell_len(token.rstrip())
        if used + visible <= room:
            used += cell_len(token)
            continue
        start = match.start()
        if used > 0:
            offsets.append(start)
            room, used = rest, 0
        if visible <= room:
            used = cell_len(token)
            continue
        # A word wider than a whole line: cut it by cells.
        for index, char in enumerate(token, start):
            size = get_character_cell_size(char)
            if used + size > room and used > 0 and not char.isspace():
                offsets.append(index)
                room, used = rest, 0
            used += size
    return offsets
