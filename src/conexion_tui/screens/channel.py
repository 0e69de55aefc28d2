"""One conversation as the chat screen shows it (`Channel`: its log widget, `Conversation`,
`Roster`, topic, draft), what one batch of network events adds to the channels (`Batch`), and
how messages become log entries. No network and no layout here: the chat screen does both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from conexion_protocol import Message, Stored, name_key

from ..clock import Clock, epoch_of
from ..conversation import Conversation, Roster
from ..entries import DELETED_TEXT, Entry, Kind, clean, mentions
from ..widgets import MessageLog


@dataclass(eq=False)
class Channel:
    """A room we are in, or the direct messages with one person. Its log
    widget keeps its own entries and scroll position while another channel
    is shown; compared by identity, so it can key a batch."""

    key: str  # `room_key` or `dm_key`
    room: bool
    title: str  # the room as the server spells it, or the other person's name
    conversation: Conversation
    log: MessageLog
    roster: Roster = field(default_factory=Roster)
    topic: str = ""
    # Its first history (a welcome's or a `room` answer's) has been shown:
    # later ones are what a reconnect missed.
    loaded: bool = False
    joining: bool = False  # a room asked for and not answered yet
    # Why we are not in this room any more (joining it again after a
    # reconnect or a restart was refused); None while we are, or may be.
    gone: str | None = None
    draft: str = ""  # what was typed here when another channel was chosen
    # Announcements shown here, by seq (their entries carry the counts and
    # the prompt to acknowledge), and those we have not acknowledged yet.
    announced: dict[int, Entry] = field(default_factory=dict)
    unseen: list[int] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    # Others in the room when we made an announcement: its count's "of"
    # until the server's first count comes.
    announced_to: dict[int, int] = field(default_factory=dict)

    def entry_with_seq(self, seq: int) -> Entry | None:
        """The shown message with this seq (the newest first: a delete is
        usually of something recent)."""
        for entry in reversed(self.log.entries):
            if entry.seq == seq:
                return entry
        return None

    @property
    def label(self) -> str:
        return f"#{self.title}" if self.room else self.title


@dataclass(slots=True)
class Batch:
    """What one batch of events adds: entries per channel (appended to each
    log once), the first mention of each channel not shown, and whether to
    ring. The cost of a batch grows with its events, not with the channels."""

    entries: dict[Channel, list[Entry]] = field(default_factory=dict)
    notices: list[tuple[Channel, Entry]] = field(default_factory=list)
    ring: bool = False
    sidebar: bool = False  # unread counts or the channel list changed
    arrivals: set[Channel] = field(default_factory=set)  # rooms someone joined

    def add(self, channel: Channel, entry: Entry) -> None:
        self.entries.setdefault(channel, []).append(entry)

    def extend(self, channel: Channel, entries: Iterable[Entry]) -> None:
        self.entries.setdefault(channel, []).extend(entries)


# -- entries -------------------------------------------------------------------


def _when(ts: str, clock: Clock) -> tuple[str, float | None]:
    """`HH:MM` and the epoch of a wire timestamp, parsed once."""
    at = epoch_of(ts)
    return clock.hhmm(ts if at is None else at), at


def message_entry(message: Message, me: str, clock: Clock) -> Entry:
    own = name_key(message.from_) == name_key(me)
    hhmm, at = _when(message.ts, clock)
    if message.announcement:
        kind = Kind.ANNOUNCEMENT
    else:
        kind = Kind.ACTION if message.action else Kind.CHAT
    if message.deleted:
        return Entry(
            Kind.CHAT if kind is Kind.ACTION else kind,
            hhmm,
            DELETED_TEXT,
            name=clean(message.from_, single_line=True),
            own=own,
            seq=message.seq,
            deleted=True,
            at=at,
        )
    text = clean(message.text)
    return Entry(
        kind,
        hhmm,
        text,
        name=clean(message.from_, single_line=True),
        mention=not own and mentions(text, me),
        own=own,
        seq=message.seq,
        at=at,
    )


def tombstone(entry: Entry) -> None:
    """Turn a shown message into "message deleted" (the log must be told)."""
    if entry.kind is Kind.ACTION:
        entry.kind = Kind.CHAT
    entry.text, entry.deleted, entry.mention = DELETED_TEXT, True, False
    entry.status, entry.reason, entry.note = None, "", ""
    entry.text_cells = -1  # measured again


def stored_entry(message: Stored, me: str, clock: Clock) -> Entry:
    """A room message or a DM as the log shows it (DMs we sent as DM_OUT)."""
    if isinstance(message, Message):
        return message_entry(message, me, clock)
    mine = name_key(message.from_) == name_key(me)
    hhmm, at = _when(message.ts, clock)
    return Entry(
        Kind.DM_OUT if mine else Kind.DM_IN,
        hhmm,
        clean(message.text),
        name=clean(message.to if mine else message.from_, single_line=True),
        own=mine,
        seq=message.seq,
        at=at,
    )


def system_entry(text: str, clock: Clock, when: str | None = None) -> Entry:
    at = epoch_of(when) if when is not None else clock.now()
    return Entry(Kind.SYSTEM, clock.hhmm(when), clean(text), at=at)


def error_entry(text: str, clock: Clock) -> Entry:
    return Entry(Kind.ERROR, clock.hhmm(), clean(text), at=clock.now())


def separator(label: str) -> Entry:
    return Entry(Kind.SEPARATOR, "", label)


def known_count(user_count: int | object) -> int | None:
    """A welcome's `user_count`, None from a server that does not send it."""
    return user_count if isinstance(user_count, int) else None
