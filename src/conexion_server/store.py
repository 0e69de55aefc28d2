"""Message history and remembered send ids behind one small interface.

The in-memory store lives here; the SQLite one (`sqlite_store`) plugs in
behind the same `Store` protocol, so the hub and its tests do not change.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from conexion_protocol import Message, Stored, name_key


class StoreError(Exception):
    """The chat's storage (a SQLite file, a cluster's Redis) cannot be used;
    `str()` is one line for the operator."""


@dataclass(slots=True, frozen=True)
class Receipt:
    """What a stored send was given: its `seq` and `ts`, for re-acknowledging."""

    seq: int
    ts: str


def seq_floor(epoch: float) -> int:
    """Where a store with no past starts numbering: the time in microseconds.

    A restarted in-memory server then never reuses an earlier run's `seq`
    (that would take a million messages a second), and the numbers stay below
    2**53, so JavaScript clients read them exactly.
    """
    return int(epoch * 1_000_000)


def visible(message: Stored, room: str, viewer: str | None) -> bool:
    """Whether `message` belongs in `room`'s history as `viewer` (a name key) sees it.

    A DM appears only in the history of its two participants, so that a
    client's scrollback holds the same DMs it saw live.
    """
    if isinstance(message, Message):
        return message.room == room
    return viewer is not None and viewer in (name_key(message.from_), name_key(message.to))


def take_visible(
    found: list[Stored],
    newest_first: Iterable[Stored],
    room: str,
    before: int | None,
    limit: int,
    viewer: str | None,
) -> bool:
    """Walk back through messages (newest first), adding to `found` those of
    `room` that `viewer` may see and that come before `before`, until `found`
    holds `limit`. True once it does (the walk can stop). Callers reverse
    `found` at the end: history is sent oldest first."""
    for message in newest_first:
        if len(found) >= limit:
            return True
        if (before is None or message.seq < before) and visible(message, room, viewer):
            found.append(message)
    return len(found) >= limit


class Store(Protocol):
    """Where the hub keeps what must outlive a single delivery.

    `append` may only buffer: a durable store makes appended messages safe in
    `commit`, which the I/O layer calls (off the event loop) before it lets
    anyone see them. Reads include appended but uncommitted messages.
    """

    durable: bool

    def last_seq(self) -> int: ...

    def append(self, message: Stored) -> None: ...

    def recent(self, room: str, limit: int, viewer: str | None = None) -> list[Stored]: ...

    def before(
        self, room: str, seq: int | None, limit: int, viewer: str | None = None
    ) -> list[Stored]: ...

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None: ...

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None: ...


class CommitBatch(Protocol):
    """What one commit of a durable store writes; only its end is public."""

    @property
    def last_seq(self) -> int: ...


class DurableStore(Store, Protocol):
    """A store whose appends are only safe once committed: the I/O layer
    takes a batch on the event loop, writes it on a writer thread, and marks
    it done back on the loop (see `server.CommitGate`)."""

    path: object

    def has_pending(self) -> bool: ...

    def take_batch(self) -> CommitBatch: ...

    def write(self, batch: CommitBatch) -> None: ...

    def done(self, batch: CommitBatch) -> None: ...

    def close(self) -> None: ...


class IdCache:
    """Send ids and their receipts, each for `ttl` seconds on the monotonic
    clock, at most `max_ids` of them (oldest dropped first), so that a flood
    of distinct ids cannot grow memory without bound."""

    def __init__(self, ttl: float, max_ids: int) -> None:
        self.ttl = ttl
        self.max_ids = max_ids
        # Insertion order is expiry order, so expired ids sit at the front.
        self._ids: OrderedDict[tuple[str, str], tuple[float, Receipt]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def load(self, key: tuple[str, str], receipt: Receipt, expires: float) -> None:
        """Add an id saved earlier; callers load them oldest first."""
        self._ids[key] = (expires, receipt)

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        ids = self._ids
        # An expired id sent again must move to the back, or it would hide the
        # expired entries behind it from the purge below.
        ids.pop(key, None)
        ids[key] = (now + self.ttl, receipt)
        while ids:
            oldest_key, (expires, _) = next(iter(ids.items()))
            if expires > now and len(ids) <= self.max_ids:
                break
            del ids[oldest_key]

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        entry = self._ids.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]


class MemoryStore:
    """The last `history_size` messages and every send id for `id_ttl` seconds.

    Ids are also capped at `max_ids` entries (oldest dropped first) so that a
    flood of distinct ids cannot grow memory without bound. `first_seq` is the
    number after which this store's `seq`s start.
    """

    durable = False

    def __init__(self, history_size: int, id_ttl: float, max_ids: int, first_seq: int = 0) -> None:
        self._messages: deque[Stored] = deque(maxlen=history_size)
        self._ids = IdCache(id_ttl, max_ids)
        self._seq = first_seq

    def last_seq(self) -> int:
        return self._seq

    def append(self, message: Stored) -> None:
        self._seq = max(self._seq, message.seq)
        if self._messages.maxlen:
            self._messages.append(message)

    def recent(self, room: str, limit: int, viewer: str | None = None) -> list[Stored]:
        return self.before(room, None, limit, viewer)

    def before(
        self, room: str, seq: int | None, limit: int, viewer: str | None = None
    ) -> list[Stored]:
        found: list[Stored] = []
        take_visible(found, reversed(self._messages), room, seq, limit, viewer)
        found.reverse()
        return found

    @property
    def remembered(self) -> int:
        """How many send ids are held right now (expired ones included until purged)."""
        return len(self._ids)

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        self._ids.remember(key, receipt, now)

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        return self._ids.recall(key, now)
