"""Log entries and how they become lines of `rich.text.Text` (sanitising, colours, mentions,
wrapping by cells). Pure functions over Rich objects: no Textual, and no colour decided here.
"""

from __future__ import annotations

import enum
import itertools
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Text

from conexion_protocol import BIDI_CONTROLS, CONTROLS, name_key, text_key

from .session import SendStatus

TAB_SIZE = 4
NAME_COLOURS = 8  # palette size; `app.tcss` defines message-log--nick-0 .. -7

# C0 and C1 controls and DEL (newline is handled separately), bidi embedding,
# override and isolate controls: none of them may reach the terminal.
_STRIP: dict[int, str | None] = {**CONTROLS, **BIDI_CONTROLS, 0x2028: "\n", 0x2029: "\n"}


def clean(text: str, *, single_line: bool = False) -> str:
    """Untrusted text made safe to draw: no control characters, no escape
    sequences (their ESC is gone, the rest is shown as typed), no bidi
    overrides, tabs as spaces."""
    if text.isprintable():
        # Everything `_STRIP` holds, tabs and newlines are unprintable: most
        # texts have none of them and come back as they are, unscanned.
        return text
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
    in_word = _mentions_in_word(name)
    if in_word is None or text.isascii():
        return _mention_pattern(name).search(text_key(text)) is not None
    # A key without a space cannot reach across one, and the space around a
    # word is not a word character: a mention lies within one word, and each
    # word is looked at once however many messages repeat it.
    return any(map(in_word, text.split(" ")))


@lru_cache(maxsize=64)  # our own name, in each of a few servers
def _mention_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(name_key(name))}(?![\w])")


@lru_cache(maxsize=8)
def _mentions_in_word(name: str) -> Callable[[str], bool] | None:
    """Whether one word mentions `name`, remembered per word; None when the
    name's key holds a space (a letter's compatibility form may bring one)."""
    if " " in name_key(name):
        return None
    search = _mention_pattern(name).search

    @lru_cache(maxsize=16_384)
    def in_word(word: str) -> bool:
        return search(text_key(word)) is not None

    return in_word


class Kind(enum.StrEnum):
    CHAT = "chat"
    ACTION = "action"  # /me
    DM_IN = "dm_in"
    DM_OUT = "dm_out"
    SYSTEM = "system"  # joins, leaves, renames, notices
    ERROR = "error"  # errors from the server or the client
    SEPARATOR = "separator"  # "— earlier messages —"
    ANNOUNCEMENT = "announcement"  # staff's, which each member acknowledges


ANNOUNCEMENT_LABEL = "Announcement · "
DELETED_TEXT = "message deleted"  # what a tombstone shows instead of the text


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
    # The message's number in its conversation, once known: what actions name it by.
    seq: int | None = None
    # When it was said (an epoch): its day, and the full date a person can
    # ask for; None for separators and lines with no moment of their own.
    at: float | None = None
    day: str = ""  # a day separator's day (`Clock.day_key`), to name it anew at midnight
    deleted: bool = False  # a tombstone: `text` is DELETED_TEXT
    # A remark after the text, in its own colour: an announcement's count
    # ("27 of 30 have seen this") or how to acknowledge it.
    note: str = ""
    uid: int = field(default_factory=_uids.__next__)
    version: int = 0
    text_cells: int = -1  # cell width of `text`, measured once on first use
    view: EntryView | None = None  # a richer look (Markdown, reactions, a quote); None: plain


class EntryView(Protocol):
    """How an entry whose text needs more than wrapping is measured and drawn
    (`message_view.MessageView`). The two must agree on the line count."""

    def height(self, entry: Entry, width: int) -> int: ...

    def render(self, entry: Entry, styles: LogStyles, width: int) -> list[Text]: ...


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
    announcement: Style = field(default_factory=Style)
    note: Style = field(default_factory=Style)
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
        case Kind.ANNOUNCEMENT:
            prefix.append(ANNOUNCEMENT_LABEL)
            prefix.append(entry.name, name_style)
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
    if entry.deleted:
        style = styles.system
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
    if entry.note:
        body.append(NOTE_SEPARATOR + entry.note, styles.note)
    return body


def _separator(entry: Entry, styles: LogStyles, width: int) -> list[Text]:
    label = f" {entry.text} "
    room = max(0, width - cell_len(label))
    left = room // 2
    return [Text("─" * left + label + "─" * (room - left), styles.separator, no_wrap=True)]


NOTE_SEPARATOR = " · "

_PREFIX_EXTRA = {
    Kind.CHAT: 2,  # "name: "
    Kind.ANNOUNCEMENT: len(ANNOUNCEMENT_LABEL) + 2,  # "Announcement · name: "
    Kind.ACTION: 3,  # "* name "
    Kind.DM_OUT: 4,  # "→ name: "
    Kind.DM_IN: 4,  # "← name: "
    Kind.SYSTEM: 2,  # "· "
    Kind.ERROR: 2,  # "! "
    Kind.SEPARATOR: 0,
}


def _prefix_cells(entry: Entry) -> int:
    """What `_prefix` measures, without building it."""
    cells = _PREFIX_EXTRA[entry.kind] + (cell_len(entry.name) if entry.name else 0)
    return cells + ((len(entry.time) + 1) if entry.time else 0)


def _suffix(entry: Entry) -> str:
    """The plain text `_body` appends after the message (its mark, its note)."""
    suffix = ""
    if entry.status is not None:
        suffix = " " + MARKS[entry.status]
        if entry.status is SendStatus.FAILED and entry.reason:
            suffix += " not sent: " + entry.reason
    if entry.note:
        suffix += NOTE_SEPARATOR + entry.note
    return suffix


TIME_CELLS = 6  # "HH:MM "


def _indent(prefix_cells: int, width: int) -> int:
    # Continuation lines line up under the text, unless the prefix is so wide
    # that this would leave too little room: then under the name, after the time.
    if prefix_cells <= width // 3:
        return prefix_cells
    return TIME_CELLS if width // 3 >= TIME_CELLS else min(2, width - 1)


_NOT_PLAIN = re.compile(r"[^\x20-\x7e]+")  # outside printable ASCII


def cells(text: str) -> int:
    """The cells `text` takes, as Rich counts them (`cell_len`), but with
    Rich's character-by-character count only for the runs outside printable
    ASCII: a chat line is mostly ASCII, with an accent or an emoji here and
    there."""
    if text.isascii() and text.isprintable():
        return len(text)
    runs = _NOT_PLAIN.findall(text)
    return len(text) + sum(map(cell_len, runs)) - sum(map(len, runs))


def entry_cells(entry: Entry) -> int | None:
    """The cell width of the entry on one line, or None if it has line breaks."""
    if entry.text_cells < 0:
        entry.text_cells = -2 if "\n" in entry.text else cells(entry.text)
    if entry.text_cells == -2:
        return None
    return _prefix_cells(entry) + entry.text_cells + cells(_suffix(entry))


def entry_height(entry: Entry, width: int) -> int:
    """How many lines the entry takes at `width`: exactly what `render_entry`
    returns, worked out on plain strings because it runs for every entry on
    every resize."""
    if entry.view is not None:
        return entry.view.height(entry, max(width, 1))
    if entry.kind is Kind.SEPARATOR:
        return 1
    width = max(width, 1)
    one_line = entry_cells(entry)
    if one_line is not None and one_line <= width:
        return 1  # the common case: one line, no wrapping needed
    prefix_cells = _prefix_cells(entry)
    first_room = max(1, width - prefix_cells)
    room = max(1, width - _indent(prefix_cells, width))
    lines = 0
    for number, paragraph in enumerate((entry.text + _suffix(entry)).split("\n")):
        lines += 1 + len(wrap_offsets(paragraph, first_room if number == 0 else room, room))
    return lines


def render_entry(entry: Entry, styles: LogStyles, width: int) -> list[Text]:
    """The entry as lines of at most `width` cells (wider only when the
    terminal is narrower than the prefix itself)."""
    width = max(width, 1)
    if entry.view is not None:
        return entry.view.render(entry, styles, width)
    if entry.kind is Kind.SEPARATOR:
        return _separator(entry, styles, width)
    prefix = _prefix(entry, styles)
    body = _body(entry, styles)
    prefix_cells = prefix.cell_len
    indent = _indent(prefix_cells, width)
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
    highlight = row_style(entry, styles)
    if highlight is not None:
        for line in lines:
            line.stylize(highlight)
    return lines


def row_style(entry: Entry, styles: LogStyles) -> Style | None:
    """The style a whole row is drawn in (a mention, an announcement), if any."""
    if entry.kind is Kind.ANNOUNCEMENT:
        return styles.announcement
    return styles.mention if entry.mention else None


_TOKENS = re.compile(r"(\S+)(\s*)|(\s+)")


def _token_cells(token: str) -> int:
    # Words repeat: Rich's `cell_len` keeps the widths of short strings it
    # has measured, so a word outside ASCII is counted once.
    return len(token) if token.isascii() else cell_len(token)


def wrap_offsets(text: str, first: int, rest: int) -> list[int]:
    """Where to break `text` so that the first line has at most `first` cells
    and later ones at most `rest` (trailing spaces excepted): at spaces when
    possible, inside a word only when the word alone is too wide."""
    if text.isascii() and text.isprintable():
        return _wrap_plain(text, first, rest)
    return _wrap_words(text, first, rest)


def _wrap_words(text: str, first: int, rest: int) -> list[int]:
    """`wrap_offsets` for any text: a step per word, measured in cells."""
    offsets: list[int] = []
    room = first
    used = 0
    width = _token_cells  # a local name: this loop runs for every word
    for match in _TOKENS.finditer(text):
        word, spaces, blank = match.groups()
        if blank is not None:
            visible, whole = 0, width(blank)
        else:
            visible = width(word)
            whole = visible + width(spaces) if spaces else visible
        if used + visible <= room:
            used += whole
            continue
        start = match.start()
        if used > 0:
            offsets.append(start)
            room, used = rest, 0
        if visible <= room:
            used = whole
            continue
        # A word wider than a whole line: cut it by cells.
        for index, char in enumerate(match.group(), start):
            size = get_character_cell_size(char)
            if used + size > room and used > 0 and not char.isspace():
                offsets.append(index)
                room, used = rest, 0
            used += size
    return offsets


_NOT_SPACE = re.compile(r"[^ ]")


def _wrap_plain(text: str, first: int, rest: int) -> list[int]:
    """`wrap_offsets` for printable ASCII, where a cell is a character and a
    space the only blank: a few string searches per line, not a step per
    word. A line from `start` holds every word that ends within its room."""
    offsets: list[int] = []
    start, room, end = 0, first, len(text)
    while start + room < end:
        limit = start + room  # the first character that does not fit
        if text[limit] == " ":
            after = _NOT_SPACE.search(text, limit)  # the next line's first word
            if after is None:
                break  # only spaces are left, and they may hang over
            cut = after.start()
        else:
            space = text.rfind(" ", start, limit)
            # Before the word that runs over; inside it when it fills the line alone.
            cut = space + 1 if space >= start else limit
        offsets.append(cut)
        start, room = cut, rest
    return offsets


# -- for views (`EntryView`), which draw the same prefix and marks ----------------


def entry_prefix(entry: Entry, styles: LogStyles) -> Text:
    """The time and name part of the entry's first line, as the plain look draws it."""
    return _prefix(entry, styles)


def entry_suffix(entry: Entry, styles: LogStyles) -> Text:
    """The send mark (and a failed send's reason) that follows the text."""
    return _body(Entry(entry.kind, "", "", status=entry.status, reason=entry.reason), styles)


def prefix_cells(entry: Entry) -> int:
    """The cells `entry_prefix` takes, without building it."""
    return _prefix_cells(entry)


def suffix_plain(entry: Entry) -> str:
    """What `entry_suffix` draws, as a plain string."""
    return _suffix(entry)


def text_indent(prefix_cells: int, width: int) -> int:
    """Where continuation lines start, as in the plain look."""
    return _indent(prefix_cells, width)
