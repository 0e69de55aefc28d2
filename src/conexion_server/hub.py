"""The chat itself: members, the `general` room, `seq`, history, idempotent
sends, rate limits and fan-out decisions. No sockets and no asyncio here: the
hub returns what must be sent to whom, and the connection layer sends it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from . import SERVER_ID, textformat
from .protocol import (
    DEFAULT_ROOM,
    PROTO_VERSION,
    UNSET,
    Ack,
    DirectMessage,
    ErrorCode,
    HistoryReply,
    Joined,
    Left,
    LeftReason,
    Message,
    ProtocolError,
    Renamed,
    Shutdown,
    Struct,
    Users,
    Welcome,
    clean_text,
    encode,
    format_ts,
    name_key,
    normalize_name,
    normalize_room,
)
from .store import MemoryStore, Receipt, Store, seq_floor


@dataclass(slots=True, frozen=True)
class HubConfig:
    max_clients: int = 10_000
    history_size: int = 100  # messages kept in memory and sent in `welcome`
    welcome_history: int = 50
    rate: float = 10.0  # say + dm per second, sustained
    burst: int = 20
    id_ttl: float = 600.0  # how long sent ids de-duplicate resends
    max_ids: int = 1_000_000
    motd: str | None = None


class Outbound:
    """A frame to deliver, encoded at most once per wire format however many
    peers receive it."""

    __slots__ = ("_text", "frame", "json")

    def __init__(self, frame: Struct) -> None:
        self.frame = frame
        self.json = encode(frame)
        self._text: bytes | None = None

    @property
    def text(self) -> bytes:
        """The plain-text rendering (empty when text users see nothing)."""
        if self._text is None:
            rendered = textformat.render(self.frame)
            self._text = rendered.encode() if rendered else b""
        return self._text


@dataclass(slots=True)
class Delivery:
    out: Outbound
    to: list[Member]


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(slots=True, eq=False)
class Member:
    """Someone who has joined. `peer` belongs to the I/O layer; the hub only
    hands it back inside deliveries."""

    name: str
    key: str
    peer: Any
    bucket: TokenBucket
    rooms: set[str] = field(default_factory=lambda: {DEFAULT_ROOM})


class Hub:
    def __init__(
        self,
        config: HubConfig | None = None,
        store: Store | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or HubConfig()
        self.store = store or MemoryStore(
            self.config.history_size,
            self.config.id_ttl,
            self.config.max_ids,
            first_seq=seq_floor(wallclock()),
        )
        self._clock = clock
        self._wallclock = wallclock
        self._seq = self.store.last_seq()
        self.members: dict[str, Member] = {}
        # The same members sorted by key, kept in order on every change so
        # that a join storm does not re-sort the whole room for each welcome.
        self._roster: list[Member] = []

    # -- queries ---------------------------------------------------------

    def names(self) -> list[str]:
        """Everyone online, in case-insensitive order."""
        return [m.name for m in self._roster]

    def who(self, room: str = DEFAULT_ROOM) -> Users:
        return Users(room=self._room(room), users=self.names())

    def history(
        self, room: str, before: int | None, limit: int, member: Member | None = None
    ) -> HistoryReply:
        """Room messages before `before`, plus `member`'s own DMs, oldest first."""
        room = self._room(room)
        viewer = member.key if member is not None else None
        return HistoryReply(room=room, messages=self.store.before(room, before, limit, viewer))

    def find(self, name: str) -> Member | None:
        return self.members.get(name_key(name))

    # -- membership ------------------------------------------------------

    def join(self, raw_name: str, peer: Any) -> tuple[Member, Welcome, list[Delivery]]:
        name = normalize_name(raw_name)
        key = name_key(name)
        if key in self.members:
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name} is taken")
        if len(self.members) >= self.config.max_clients:
            raise ProtocolError(ErrorCode.SERVER_FULL, "the server is full; try again later")
        others = list(self.members.values())
        member = Member(
            name, key, peer, TokenBucket(self.config.rate, self.config.burst, self._clock())
        )
        self._add(member)
        welcome = Welcome(
            proto=PROTO_VERSION,
            name=name,
            server=SERVER_ID,
            users=self.names(),
            rooms=[DEFAULT_ROOM],
            history=self.store.recent(DEFAULT_ROOM, self.config.welcome_history, key),
            motd=self.config.motd or UNSET,
        )
        event = Joined(name=name, ts=self._now(), room=DEFAULT_ROOM)
        return member, welcome, [Delivery(Outbound(event), others)]

    def leave(self, member: Member, reason: LeftReason) -> list[Delivery]:
        if self.members.get(member.key) is not member:
            return []  # already gone: leave is idempotent
        self._remove(member)
        event = Left(name=member.name, ts=self._now(), reason=reason, room=DEFAULT_ROOM)
        return [Delivery(Outbound(event), list(self.members.values()))]

    def rename(self, member: Member, raw_name: str) -> list[Delivery]:
        name = normalize_name(raw_name)
        key = name_key(name)
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name} is taken")
        old = member.name
        event = Outbound(Renamed(old=old, new=name, ts=self._now()))
        if name == old:
            return [Delivery(event, [member])]  # a confirmation, nothing changed
        self._remove(member)
        member.name, member.key = name, key
        self._add(member)
        return [Delivery(event, list(self.members.values()))]

    def shutdown(self, message: str) -> list[Delivery]:
        return [Delivery(Outbound(Shutdown(message=message)), list(self.members.values()))]

    # -- messages --------------------------------------------------------

    def say(
        self,
        member: Member,
        text: str,
        *,
        id: str | None = None,
        room: str = DEFAULT_ROOM,
        action: bool = False,
    ) -> tuple[Ack, list[Delivery]]:
        """Store and relay a room message.

        Returns the `ack` for the sender (its `id` is empty for a send without
        one, as from a plain-text user) and what everyone else receives. A
        repeated id returns the original `ack` and relays nothing.
        """
        room = self._room(room)
        repeat = self._repeat(member, id)
        if repeat is not None:
            return repeat, []
        text = self._admit(member, text, id)
        seq, ts = self._stamp()
        message = Message(seq=seq, ts=ts, room=room, from_=member.name, text=text, action=action)
        self.store.append(message)
        self._remember(member, id, seq, ts)
        others = [m for m in self.members.values() if m is not member]
        return Ack(id=id or "", seq=seq, ts=ts), [Delivery(Outbound(message), others)]

    def dm(
        self, member: Member, to: str, text: str, *, id: str | None = None
    ) -> tuple[Ack, list[Delivery]]:
        repeat = self._repeat(member, id)
        if repeat is not None:
            return repeat, []
        target = self.find(to)
        if target is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"nobody called {to} is online", id)
        text = self._admit(member, text, id)
        seq, ts = self._stamp()
        frame = DirectMessage(seq=seq, ts=ts, from_=member.name, to=target.name, text=text)
        self.store.append(frame)
        self._remember(member, id, seq, ts)
        return Ack(id=id or "", seq=seq, ts=ts), [Delivery(Outbound(frame), [target])]

    # -- internals -------------------------------------------------------

    def _add(self, member: Member) -> None:
        self.members[member.key] = member
        bisect.insort(self._roster, member, key=_by_key)

    def _remove(self, member: Member) -> None:
        del self.members[member.key]
        del self._roster[bisect.bisect_left(self._roster, member.key, key=_by_key)]

    def _room(self, raw: str) -> str:
        room = normalize_room(raw)
        if room != DEFAULT_ROOM:
            raise ProtocolError(
                ErrorCode.NO_SUCH_ROOM, f"there is no room {raw}; this server has only general"
            )
        return room

    def _repeat(self, member: Member, id: str | None) -> Ack | None:
        if id is None:
            return None
        receipt = self.store.recall((member.key, id), self._clock())
        if receipt is None:
            return None
        return Ack(id=id, seq=receipt.seq, ts=receipt.ts)

    def _admit(self, member: Member, raw_text: str, id: str | None) -> str:
        try:
            text = clean_text(raw_text)
        except ProtocolError as exc:
            exc.id = id
            raise
        if not member.bucket.take(self._clock()):
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"too many messages; the limit is {self.config.rate:g} a second",
                id,
            )
        return text

    def _remember(self, member: Member, id: str | None, seq: int, ts: str) -> None:
        if id is not None:
            self.store.remember((member.key, id), Receipt(seq, ts), self._clock())

    def _stamp(self) -> tuple[int, str]:
        self._seq += 1
        return self._seq, self._now()

    def _now(self) -> str:
        return format_ts(self._wallclock())


_by_key = attrgetter("key")
