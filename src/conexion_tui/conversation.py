"""What one conversation knows (`Conversation`: seqs seen, paging back, what a reconnect missed,
unread and mentions; `Roster`: who is in a room) and how conversations are told apart. Pure logic
on frames: no Textual, no client, no wording, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from conexion_protocol import (
    DirectMessage,
    ProtocolError,
    Role,
    Stored,
    format_ts,
    name_key,
    normalize_room,
)

# A conversation's key: "#" and the room's key, or "@" and the other
# person's name key. Neither key can hold "#" or "@", so they never clash.
ROOM_MARK = "#"
DM_MARK = "@"


def room_key(room: str) -> str:
    """The key of a room's conversation: every spelling the server treats as
    that room gives the same key. A name no server would accept keys as typed."""
    try:
        return ROOM_MARK + normalize_room(room)
    except ProtocolError:
        return ROOM_MARK + room.casefold()


def dm_key(name: str) -> str:
    """The key of the direct messages with `name` (any spelling of it)."""
    return DM_MARK + name_key(name)


def is_dm_key(key: str) -> bool:
    return key.startswith(DM_MARK)


def partner(message: DirectMessage, me: str) -> str:
    """The other person of a direct message (ourselves for a note to self)."""
    return message.to if name_key(message.from_) == name_key(me) else message.from_


def key_of(message: Stored, me: str) -> str:
    """The key of the conversation a stored message belongs to."""
    if isinstance(message, DirectMessage):
        return dm_key(partner(message, me))
    return room_key(message.room)


def by_conversation(history: Iterable[Stored], me: str) -> dict[str, list[Stored]]:
    """A mixed history (a `welcome`'s: general and our DMs) split by
    conversation, each part oldest first as it came."""
    parts: dict[str, list[Stored]] = {}
    for message in history:
        parts.setdefault(key_of(message, me), []).append(message)
    return parts


class Paging(enum.StrEnum):
    """Where paging back through older history stands."""

    MORE = "more"  # older messages may exist, and none are being asked for
    ASKED = "asked"  # a `history` request is out: ask nothing more until it is answered
    DONE = "done"  # the server had nothing older: never ask again


@dataclass(slots=True, frozen=True)
class PageRequest:
    """The `history` request for the page before what is shown."""

    before: int | None  # the oldest seq shown; None asks for the newest page
    limit: int


@dataclass(slots=True, frozen=True)
class CatchUp:
    """What a reconnect's `welcome` adds to a conversation already shown."""

    missed: tuple[Stored, ...]  # said while we were away, oldest first
    restarted: bool  # seq went backwards: a restarted server, numbering afresh


class Conversation:
    """One conversation (a room, or the direct messages with one person) as
    its log sees it. The screen tells it what arrived and asks it what is
    new, what to request, and what a reconnect missed.

    `seq` only orders messages within one conversation (see the protocol):
    keep one `Conversation` per conversation, never one for several unless
    their seqs come from one counter.
    """

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size  # messages asked for per older page
        self.newest: int | None = None  # the highest seq seen; None until one is
        self.oldest: int | None = None  # the lowest seq seen: the next page ends before it
        self.paging = Paging.MORE
        self.lost_at: float | None = None  # wall clock of the latest lost connection
        self.unread = 0  # messages that arrived while it was not the one shown
        self.mentions = 0  # of those, the ones that name us (every incoming DM does)

    # -- unread -------------------------------------------------------------------

    def arrived(self, *, mention: bool) -> bool:
        """A message arrived while another conversation was shown. True for
        the first mention since it was last read: the one worth a notice."""
        self.unread += 1
        if not mention:
            return False
        self.mentions += 1
        return self.mentions == 1

    def read(self) -> None:
        """The conversation is shown: nothing in it is unread any more."""
        self.unread = self.mentions = 0

    # -- what arrived -------------------------------------------------------------

    def note(self, seq: int | None) -> None:
        """A message (ours acknowledged, or anyone's) with this seq is shown."""
        if seq is None:
            return
        if self.newest is None or seq > self.newest:
            self.newest = seq
        if self.oldest is None or seq < self.oldest:
            self.oldest = seq

    def begin(self, history: Iterable[Stored]) -> list[Stored]:
        """The first welcome's history: all of it is new."""
        shown = list(history)
        for message in shown:
            self.note(message.seq)
        return shown

    def lost(self, at: float) -> None:
        """The connection was lost at wall-clock time `at`. A page request
        that was out is lost with it: the next reach of the top asks again."""
        self.lost_at = at
        if self.paging is Paging.ASKED:
            self.paging = Paging.MORE

    def rejoin(self, history: Sequence[Stored]) -> CatchUp:
        """A reconnect's welcome: the part of its history not shown yet.

        Normally that is every message newer than the newest seen. When the
        history ends below it, the server was restarted and numbers from
        scratch, so nothing can be told apart by seq: what it holds is new
        from the moment the old connection was lost.
        """
        newest = self.newest
        if history and newest is not None and history[-1].seq < newest:
            since = format_ts(self.lost_at) if self.lost_at is not None else ""
            missed = [m for m in history if m.ts >= since]  # RFC 3339 UTC sorts as text
            restarted = True
            # The old server's numbers mean nothing to the new one: count
            # afresh, or every later reconnect would look like a restart.
            self.newest = self.oldest = None
            self.paging = Paging.MORE
        else:
            missed = [m for m in history if newest is None or m.seq > newest]
            restarted = False
        for message in missed:
            self.note(message.seq)
        return CatchUp(tuple(missed), restarted)

    # -- older pages ----------------------------------------------------------------

    def next_page(self) -> PageRequest | None:
        """The request to send on reaching the top of the log; None while one
        is out or once the beginning is known."""
        if self.paging is not Paging.MORE:
            return None
        return PageRequest(self.oldest, self.page_size)

    def page_asked(self) -> None:
        """The request from `next_page()` went out."""
        self.paging = Paging.ASKED

    def page_failed(self) -> None:
        """The server refused the page asked for: the next reach of the top asks again."""
        if self.paging is Paging.ASKED:
            self.paging = Paging.MORE

    def older(self, messages: Iterable[Stored]) -> list[Stored]:
        """A page arrived: the messages older than any shown, oldest first.
        None of them means the beginning of history was reached."""
        oldest = self.oldest
        older = [m for m in messages if oldest is None or m.seq < oldest]
        # Once the beginning is known it stays known.
        done = not older or self.paging is Paging.DONE
        self.paging = Paging.DONE if done else Paging.MORE
        for message in older:
            self.note(message.seq)
        return older


class Roster:
    """Who is in one room, by name key, as the server last told us.

    `count` is how many the server says are there: a `welcome` or `room`
    may list only the first names of a large room, until `who` lists all.
    `roles` are the roles (admin, owner, moderator) of those who have one.
    """

    def __init__(self, names: Iterable[str] = (), count: int | None = None) -> None:
        self._names: dict[str, str] = {}  # name key -> name as shown
        self._roles: dict[str, Role] = {}  # name key -> role, for those who have one
        self._sorted: list[str] | None = None
        self._extra = 0  # members the server counted but did not list
        self.replace(names, count)

    def replace(self, names: Iterable[str], count: int | None = None, roles: object = None) -> None:
        """A whole list (`welcome`, `room`, `users`); `count` when the list may
        be partial; `roles` the frame's map of roles (absent: nobody has one)."""
        self._names = {name_key(n): n for n in names}
        self._extra = max(0, count - len(self._names)) if count is not None else 0
        self._sorted = None
        given = roles if isinstance(roles, Mapping) else {}
        self._roles = {name_key(n): r for n, r in given.items() if isinstance(r, Role)}

    def role_of(self, name: str) -> Role | None:
        return self._roles.get(name_key(name))

    def badged(self, name: str) -> str:
        """`name`, with its role if it has one: `Teacher (owner)`."""
        role = self.role_of(name)
        return f"{name} ({role})" if role is not None else name

    def set_role(self, name: str, role: Role | None) -> bool:
        """Someone was given a role, or lost theirs (`op` and `deop` news);
        False when nothing changed."""
        key = name_key(name)
        if self._roles.get(key) == role:
            return False
        if role is None:
            del self._roles[key]
        else:
            self._roles[key] = role
        return True

    def add(self, name: str) -> bool:
        """Someone joined; False if they were listed already."""
        key = name_key(name)
        known = key in self._names
        self._names[key] = name
        self._sorted = None
        return not known

    def remove(self, name: str) -> bool:
        """Someone left; False if they were not listed (a partial list, say)."""
        if self._names.pop(name_key(name), None) is None:
            self._extra = max(0, self._extra - 1)
            return False
        self._sorted = None
        return True

    def rename(self, old: str, new: str) -> bool:
        """Someone changed name; False if they are not in this room."""
        if self._names.pop(name_key(old), None) is None:
            return False
        self._names[name_key(new)] = new
        role = self._roles.pop(name_key(old), None)
        if role is not None:
            self._roles[name_key(new)] = role
        self._sorted = None
        return True

    @property
    def names(self) -> list[str]:
        """Everyone listed, sorted the way the server sorts (by name key)."""
        if self._sorted is None:
            self._sorted = sorted(self._names.values(), key=name_key)
        return self._sorted

    @property
    def count(self) -> int:
        """How many are in the room, listed or not."""
        return len(self._names) + self._extra

    @property
    def complete(self) -> bool:
        return self._extra == 0

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self._names)
