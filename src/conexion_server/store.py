"""What must outlive a single delivery: rooms, each conversation's history
and `seq`, and remembered send ids, behind one small interface.

The in-memory store lives here; the SQLite one (`sqlite_store`) plugs in
behind the same `Store` protocol, so the hub and its tests do not change.
A conversation is a room (named by its key) or the DMs between two people
(`dm_conversation`); each has its own `seq`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from conexion_protocol import DirectMessage, Message, Stored, name_key

from .accounts import Account
from .search import Query, page_newest_first


class StoreError(Exception):
    """The chat's storage (a SQLite file, a cluster's Redis) cannot be used;
    `str()` is one line for the operator."""


@dataclass(slots=True, frozen=True)
class Receipt:
    """What a stored send was given: its `seq` and `ts`, for re-acknowledging."""

    seq: int
    ts: str


@dataclass(slots=True, frozen=True)
class RoomRecord:
    """A room as it is kept: its key, the spelling it was created with, and
    its topic (with who set it and when)."""

    key: str
    name: str
    topic: str = ""
    topic_by: str | None = None
    topic_ts: str | None = None


def seq_floor(epoch: float) -> int:
    """Where a conversation with no past starts numbering: the time in µs.

    A restarted in-memory server then never reuses an earlier run's `seq`
    (that would take a million messages a second), and the numbers stay below
    2**53, so JavaScript clients read them exactly.
    """
    return int(epoch * 1_000_000)


DM_PREFIX = "dm:"  # room keys cannot hold ':', so no room is named like a DM conversation


def dm_conversation(a: str, b: str) -> str:
    """The conversation of the DMs between two name keys (in either order)."""
    first, second = sorted((a, b))
    return f"{DM_PREFIX}{first}:{second}"


def conversation_of(message: Stored) -> str:
    """Which conversation a stored frame belongs to."""
    if isinstance(message, DirectMessage):
        return dm_conversation(name_key(message.from_), name_key(message.to))
    return name_key(message.room)


def take_before(
    found: list[Stored], newest_first: Iterable[Stored], before: int | None, limit: int
) -> bool:
    """Walk back through one conversation's messages (newest first), adding
    to `found` those before `before`, until `found` holds `limit`. True once
    it does (the walk can stop). Callers reverse `found` at the end: history
    is sent oldest first."""
    for message in newest_first:
        if len(found) >= limit:
            return True
        if before is None or message.seq < before:
            found.append(message)
    return len(found) >= limit


def by_time(messages: Iterable[Stored]) -> list[Stored]:
    """Frames of several conversations in one list, oldest first (their
    `seq`s cannot be compared, their times can)."""
    return sorted(messages, key=lambda m: (m.ts, m.seq))


class Store(Protocol):
    """Where the hub keeps what must outlive a single delivery.

    `append` and `save_room` may only buffer: a durable store makes them
    safe in `commit`, which the I/O layer calls (off the event loop) before
    it lets anyone see them. Reads include what is buffered.
    """

    durable: bool

    def rooms(self) -> list[RoomRecord]:
        """Every room kept, as it was last saved."""
        ...

    def save_room(self, room: RoomRecord) -> None: ...

    def last_seq(self, conversation: str) -> int:
        """The highest `seq` the conversation ever had; 0 for a new one."""
        ...

    def append(self, conversation: str, message: Stored) -> None: ...

    def before(self, conversation: str, seq: int | None, limit: int) -> list[Stored]:
        """Up to `limit` of the conversation's messages before `seq` (all
        when None), oldest first."""
        ...

    def recent_dms(self, viewer: str, limit: int) -> list[DirectMessage]:
        """The `limit` latest DMs that `viewer` (a name key) sent or received,
        oldest first."""
        ...

    def message(self, conversation: str, seq: int) -> Stored | None:
        """One message, if the store still has it."""
        ...

    def delete(self, conversation: str, seq: int) -> None:
        """Turn a message into its tombstone (see `tombstone`)."""
        ...

    def revise(self, conversation: str, message: Message) -> None:
        """Keep `message` as the new state of the room message with its seq
        (edited, reacted to); a message no longer kept stays gone."""
        ...

    def search(
        self, query: Query, before: str | None, limit: int
    ) -> tuple[list[Stored], str | None]:
        """Up to `limit` messages matching `query`, newest first, older than
        the cursor `before` (None: from the newest); and the cursor of the
        next page (None: there is none)."""
        ...

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None: ...

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None: ...

    def account(self, key: str) -> Account | None:
        """The account registered under the name key `key`, as stored now
        (an operator may change accounts while the server runs)."""
        ...

    def save_account(self, account: Account) -> None: ...

    def moderation_state(self) -> dict[str, dict[str, str]]:
        """Every scope's moderation fields (see moderation.py): a room's
        under its key, the whole server's under ""."""
        ...

    def save_moderation(self, scope: str, changes: dict[str, str | None]) -> None:
        """Write a scope's changed fields (None deletes one)."""
        ...

    def append_audit(self, scope: str, entry: bytes) -> None:
        """Add one entry (an encoded `moderation` frame) to a scope's log."""
        ...

    def audit(self, scope: str, limit: int) -> list[bytes]:
        """The scope's `limit` latest audit entries, oldest first."""
        ...


class CommitBatch(Protocol):
    """What one commit of a durable store writes; only its end is public."""

    @property
    def upto(self) -> int:
        """The count of writes (see `DurableStore.writes`) it holds up to."""
        ...


class DurableStore(Store, Protocol):
    """A store whose writes are only safe once committed: the I/O layer
    takes a batch on the event loop, writes it on a writer thread, and marks
    it done back on the loop (see `server.CommitGate`)."""

    path: object

    def writes(self) -> int:
        """How many writes (messages, rooms, send ids) were ever buffered."""
        ...

    def has_pending(self) -> bool: ...

    def take_batch(self) -> CommitBatch: ...

    def write(self, batch: CommitBatch) -> None: ...

    def done(self, batch: CommitBatch) -> None: ...

    def close(self) -> None: ...


# How a stored message marks a /me and an announcement (SQLite's `action`
# column, the `a` field of a cluster's log entry): bits of one number.
ACTION_FLAG = 1
ANNOUNCEMENT_FLAG = 2
DELETED_FLAG = 4
EDITED_FLAG = 8


def message_flags(message: Message) -> int:
    return (
        (ACTION_FLAG if message.action else 0)
        | (ANNOUNCEMENT_FLAG if message.announcement else 0)
        | (DELETED_FLAG if message.deleted else 0)
        | (EDITED_FLAG if message.edited else 0)
    )


def tombstone(message: Stored) -> Stored:
    """What is left of a deleted message: who wrote it and when, no text."""
    if isinstance(message, Message):
        return Message(
            seq=message.seq,
            ts=message.ts,
            room=message.room,
            from_=message.from_,
            text="",
            deleted=True,
        )
    return message


# Audit entries an in-memory store keeps per room; a database keeps them all.
AUDIT_KEPT = 10_000


class IdCache:
    """Send ids and their receipts, each for `ttl` seconds on the monotonic
    clock, at most `max_ids` of them (oldest dropped first), so that a flood
    of distinct ids cannot grow memory without bound."""

    def __init__(self, ttl: float, max_ids: int) -> None:
        self.ttl = ttl
        self.max_ids = max_ids
        # Insertion order is expiry order, so expired ids sit at the front.
        # An entry is (expires, seq, ts): a tuple of plain values, which the
        # cyclic collector stops tracking, so a window of a million ids costs
        # its full collections nothing (a Receipt in it would be walked).
        self._ids: OrderedDict[tuple[str, str], tuple[float, int, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def load(self, key: tuple[str, str], receipt: Receipt, expires: float) -> None:
        """Add an id saved earlier; callers load them oldest first."""
        self._ids[key] = (expires, receipt.seq, receipt.ts)

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        ids = self._ids
        # An expired id sent again must move to the back, or it would hide the
        # expired entries behind it from the purge below.
        ids.pop(key, None)
        ids[key] = (now + self.ttl, receipt.seq, receipt.ts)
        while ids:
            oldest_key, (expires, _, _) = next(iter(ids.items()))
            if expires > now and len(ids) <= self.max_ids:
                break
            del ids[oldest_key]

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        entry = self._ids.get(key)
        if entry is None or entry[0] <= now:
            return None
        return Receipt(entry[1], entry[2])


class MemoryStore:
    """The last `history_size` messages of each conversation, every room,
    and every send id for `id_ttl` seconds.

    Ids are also capped at `max_ids` entries (oldest dropped first) so that a
    flood of distinct ids cannot grow memory without bound.
    """

    durable = False

    def __init__(self, history_size: int, id_ttl: float, max_ids: int) -> None:
        self._size = history_size
        self._history: dict[str, deque[Stored]] = {}
        self._last: dict[str, int] = {}
        self._rooms: dict[str, RoomRecord] = {}
        self._dms_of: dict[str, deque[DirectMessage]] = {}
        self._ids = IdCache(id_ttl, max_ids)
        self._accounts: dict[str, Account] = {}
        self._moderation: dict[str, dict[str, str]] = {}
        self._audit: dict[str, deque[bytes]] = {}

    def account(self, key: str) -> Account | None:
        return self._accounts.get(key)

    def save_account(self, account: Account) -> None:
        self._accounts[account.key] = account

    def moderation_state(self) -> dict[str, dict[str, str]]:
        return {scope: dict(fields) for scope, fields in self._moderation.items()}

    def save_moderation(self, scope: str, changes: dict[str, str | None]) -> None:
        fields = self._moderation.setdefault(scope, {})
        for name, value in changes.items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value

    def append_audit(self, scope: str, entry: bytes) -> None:
        self._audit.setdefault(scope, deque(maxlen=AUDIT_KEPT)).append(entry)

    def audit(self, scope: str, limit: int) -> list[bytes]:
        entries = self._audit.get(scope, ())
        return list(entries)[-limit:] if limit > 0 else []

    def rooms(self) -> list[RoomRecord]:
        return list(self._rooms.values())

    def save_room(self, room: RoomRecord) -> None:
        self._rooms[room.key] = room

    def last_seq(self, conversation: str) -> int:
        return self._last.get(conversation, 0)

    def append(self, conversation: str, message: Stored) -> None:
        self._last[conversation] = max(self._last.get(conversation, 0), message.seq)
        if not self._size:
            return
        history = self._history.get(conversation)
        if history is None:
            history = self._history[conversation] = deque(maxlen=self._size)
        history.append(message)
        if isinstance(message, DirectMessage):
            for key in {name_key(message.from_), name_key(message.to)}:
                mine = self._dms_of.get(key)
                if mine is None:
                    mine = self._dms_of[key] = deque(maxlen=self._size)
                mine.append(message)

    def before(self, conversation: str, seq: int | None, limit: int) -> list[Stored]:
        found: list[Stored] = []
        history = self._history.get(conversation)
        if history is not None:
            take_before(found, reversed(history), seq, limit)
        found.reverse()
        return found

    def recent_dms(self, viewer: str, limit: int) -> list[DirectMessage]:
        mine = self._dms_of.get(viewer)
        if not mine or limit <= 0:
            return []
        return list(mine)[-limit:]

    def message(self, conversation: str, seq: int) -> Stored | None:
        for message in reversed(self._history.get(conversation, ())):
            if message.seq == seq:
                return message
        return None

    def delete(self, conversation: str, seq: int) -> None:
        message = self.message(conversation, seq)
        if isinstance(message, Message):
            self.revise(conversation, tombstone(message))  # type: ignore[arg-type]

    def revise(self, conversation: str, message: Message) -> None:
        history = self._history.get(conversation)
        if history is None:
            return
        for i in range(len(history) - 1, -1, -1):
            if history[i].seq == message.seq:
                history[i] = message
                return

    def search(
        self, query: Query, before: str | None, limit: int
    ) -> tuple[list[Stored], str | None]:
        candidates = [
            m
            for conv in query.conversations
            for m in self._history.get(conv, ())
            if query.matches(m)
        ]
        candidates.extend(
            m for m in self._dms_of.get(query.viewer, ()) if query.dms and query.matches(m)
        )
        return page_newest_first(candidates, before, limit)

    @property
    def remembered(self) -> int:
        """How many send ids are held right now (expired ones included until purged)."""
        return len(self._ids)

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        self._ids.remember(key, receipt, now)

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        return self._ids.recall(key, now)
