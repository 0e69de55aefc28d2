"""Message history and remembered send ids behind one small interface.

Only the in-memory store exists so far; durable stores plug in behind the same
`Store` protocol so that the hub and its tests do not change.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

from .protocol import Message


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


class Store(Protocol):
    """Where the hub keeps what must outlive a single delivery."""

    def last_seq(self) -> int: ...

    def append(self, message: Message) -> None: ...

    def recent(self, room: str, limit: int) -> list[Message]: ...

    def before(self, room: str, seq: int | None, limit: int) -> list[Message]: ...

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None: ...

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None: ...


class MemoryStore:
    """The last `history_size` messages and every send id for `id_ttl` seconds.

    Ids are also capped at `max_ids` entries (oldest dropped first) so that a
    flood of distinct ids cannot grow memory without bound. `first_seq` is the
    number after which this store's `seq`s start.
    """

    def __init__(self, history_size: int, id_ttl: float, max_ids: int, first_seq: int = 0) -> None:
        self._messages: deque[Message] = deque(maxlen=history_size)
        self._ids: OrderedDict[tuple[str, str], tuple[float, Receipt]] = OrderedDict()
        self._id_ttl = id_ttl
        self._max_ids = max_ids
        self._seq = first_seq

    def last_seq(self) -> int:
        return self._seq

    def append(self, message: Message) -> None:
        self._seq = max(self._seq, message.seq)
        if self._messages.maxlen:
            self._messages.append(message)

    def recent(self, room: str, limit: int) -> list[Message]:
        return self.before(room, None, limit)

    def before(self, room: str, seq: int | None, limit: int) -> list[Message]:
        found: list[Message] = []
        for message in reversed(self._messages):
            if len(found) >= limit:
                break
            if message.room == room and (seq is None or message.seq < seq):
                found.append(message)
        found.reverse()
        return found

    @property
    def remembered(self) -> int:
        """How many send ids are held right now (expired ones included until purged)."""
        return len(self._ids)

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        ids = self._ids
        # An expired id sent again must move to the back, or it would hide the
        # expired entries behind it from the purge below.
        ids.pop(key, None)
        ids[key] = (now + self._id_ttl, receipt)
        # Entries are in insertion order, so expired ones sit at the front.
        while ids:
            oldest_key, (expires, _) = next(iter(ids.items()))
            if expires > now and len(ids) <= self._max_ids:
                break
            del ids[oldest_key]

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        entry = self._ids.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]
