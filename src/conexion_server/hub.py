"""The chat itself: members, the `general` room, `seq`, history, idempotent
sends, rate limits and fan-out decisions, and every rule that may refuse a
change, shared by a single server and a cluster. No sockets and no asyncio
here: the hub returns what must be sent to whom, and the I/O layer sends it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from conexion_protocol import (
    DEFAULT_ROOM,
    PROTO_VERSION,
    UNSET,
    Ack,
    DirectMessage,
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

from . import SERVER_ID, refusals, textformat
from .config import HubConfig
from .store import MemoryStore, Receipt, Store, Stored, seq_floor

__all__ = ["Delivery", "Hub", "HubConfig", "Member", "Outbound", "TokenBucket"]


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
    """A frame and who receives it: the members in `targets`, or, when
    `targets` is None, every member connected here (`room`) but `skip`.
    The room form costs nothing per receiver; the server fans it out."""

    out: Outbound
    targets: list[Member] | None = None
    room: dict[str, Member] | None = None
    skip: Member | None = None
    # Room events are numbered in the order the hub made them; a member
    # hears those after its own join (`Member.since`) however late the
    # server sends them (after a commit, say).
    mark: int = 0

    @property
    def to(self) -> list[Member]:
        if self.targets is not None:
            return self.targets
        assert self.room is not None
        return [m for m in self.room.values() if m is not self.skip and m.since < self.mark]


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

    def refund(self) -> None:
        """Give back the token of a send that stored nothing."""
        self.tokens = min(float(self.burst), self.tokens + 1.0)


@dataclass(slots=True, eq=False)
class Member:
    """Someone who has joined. `peer` belongs to the I/O layer; the hub only
    hands it back inside deliveries. In a cluster, people on other instances
    are members too (so that the user list is the cluster's) with no peer."""

    name: str
    key: str
    peer: Any
    bucket: TokenBucket
    # Which connection on which instance this is; only a cluster sets it.
    token: str = ""
    since: int = 0  # the mark of its own `joined` (see Delivery.mark)


class Hub:
    """The chat's state and rules.

    Each change comes in two steps: a check (`check_name`, `check_text`, ...)
    that may refuse it, and an apply step (`admit`, `relay`, `remove`,
    `apply_rename`) that changes the state and says who must hear of it. A
    single server does both at once (`join`, `say`, ...). In a cluster the
    order of changes comes from the shared log, so every instance runs only
    the apply steps, for its own users and everyone else's alike.
    """

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
        # The members connected here, who receive deliveries; in a single
        # server, everyone.
        self.local: dict[str, Member] = {}
        # The same members sorted by key, kept in order on every change so
        # that a join storm does not re-sort the whole room for each welcome.
        self._roster: list[Member] = []
        self._room_events = 0  # the last Delivery.mark given

    # -- queries ---------------------------------------------------------

    def names(self) -> list[str]:
        """Everyone online, in case-insensitive order."""
        return [m.name for m in self._roster]

    def who(self, room: str = DEFAULT_ROOM) -> Users:
        return Users(room=self.check_room(room), users=self.names())

    def history(
        self, room: str, before: int | None, limit: int, member: Member | None = None
    ) -> HistoryReply:
        """Room messages before `before`, plus `member`'s own DMs, oldest first."""
        room = self.check_room(room)
        viewer = member.key if member is not None else None
        return HistoryReply(room=room, messages=self.store.before(room, before, limit, viewer))

    def find(self, name: str) -> Member | None:
        return self.members.get(name_key(name))

    def seq_floor(self) -> int:
        """Where `seq` starts when nothing is known of the past: the time now
        in microseconds, so that a store (or a Redis) that lost its counter
        never hands out a `seq` given before."""
        return seq_floor(self._wallclock())

    def now(self) -> str:
        """The wall-clock time as a wire timestamp."""
        return format_ts(self._wallclock())

    # -- checks: may refuse, change nothing ------------------------------

    @staticmethod
    def parse_name(raw_name: str) -> tuple[str, str]:
        """A valid name and its look-alike key, whoever holds it."""
        name = normalize_name(raw_name)
        return name, name_key(name)

    def check_name(self, raw_name: str, member: Member | None = None) -> tuple[str, str]:
        """The name and its key, if nobody but `member` holds it."""
        name, key = self.parse_name(raw_name)
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            raise refusals.name_taken(name)
        return name, key

    def check_capacity(self, joining: int = 0) -> None:
        """Room for one more member here, with `joining` more on their way in.

        Counted per server (per instance in a cluster): the limit protects
        one process's memory and sockets."""
        if len(self.local) + joining >= self.config.max_clients:
            raise refusals.server_full()

    def check_room(self, raw: str) -> str:
        room = normalize_room(raw)
        if room != DEFAULT_ROOM:
            raise refusals.no_such_room(raw)
        return room

    def check_text(self, member: Member, raw_text: str, id: str | None) -> str:
        """The cleaned text, if it is valid and the sender is within its rate."""
        try:
            text = clean_text(raw_text, self.config.max_text)
        except ProtocolError as exc:
            exc.id = id
            raise
        if not member.bucket.take(self._clock()):
            raise refusals.rate_limited(self.config.rate, id)
        return text

    def new_member(self, name: str, key: str, peer: Any, token: str = "") -> Member:
        bucket = TokenBucket(self.config.rate, self.config.burst, self._clock())
        return Member(name, key, peer, bucket, token=token)

    # -- apply: change the state, say who hears of it --------------------

    def admit(self, member: Member) -> tuple[Welcome | None, list[Delivery]]:
        """Add `member`; a local one gets a `welcome`, the local others a `joined`."""
        self._add(member)
        welcome = None
        if member.peer is not None:
            welcome = Welcome(
                proto=PROTO_VERSION,
                name=member.name,
                server=SERVER_ID,
                users=self.names(),
                rooms=[DEFAULT_ROOM],
                history=self.store.recent(DEFAULT_ROOM, self.config.welcome_history, member.key),
                motd=self.config.motd or UNSET,
            )
        delivery = self._to_room(Joined(name=member.name, ts=self.now(), room=DEFAULT_ROOM))
        member.since = delivery.mark
        return welcome, [delivery]

    def remove(self, member: Member, reason: LeftReason, ts: str | None = None) -> list[Delivery]:
        if self.members.get(member.key) is not member:
            return []  # already gone: leave is idempotent
        self._remove(member)
        event = Left(name=member.name, ts=ts or self.now(), reason=reason, room=DEFAULT_ROOM)
        return [self._to_room(event)]

    def apply_rename(
        self, member: Member, name: str, key: str, ts: str | None = None
    ) -> list[Delivery]:
        old = member.name
        event = Renamed(old=old, new=name, ts=ts or self.now())
        if name == old:
            return [Delivery(Outbound(event), [member])]  # a confirmation, nothing changed
        self._remove(member)
        member.name, member.key = name, key
        self._add(member)
        return [self._to_room(event)]

    def relay(self, frame: Stored, origin: Member | None = None) -> list[Delivery]:
        """Keep a message in the history and deliver it: a room message to
        every local member but its sender, a DM to its local recipient."""
        self.store.append(frame)
        self._seq = max(self._seq, frame.seq)
        if isinstance(frame, Message):
            return [self._to_room(frame, skip=origin)]
        target = self.local.get(name_key(frame.to))
        return [Delivery(Outbound(frame), [target])] if target is not None else []

    # -- a single server: check and apply at once ------------------------

    def join(self, raw_name: str, peer: Any) -> tuple[Member, Welcome, list[Delivery]]:
        name, key = self.check_name(raw_name)
        self.check_capacity()
        member = self.new_member(name, key, peer)
        welcome, deliveries = self.admit(member)
        assert welcome is not None
        return member, welcome, deliveries

    def rename(self, member: Member, raw_name: str) -> list[Delivery]:
        name, key = self.check_name(raw_name, member)
        return self.apply_rename(member, name, key)

    def shutdown(self, message: str) -> list[Delivery]:
        return [self._to_room(Shutdown(message=message))]

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
        room = self.check_room(room)
        repeat = self._repeat(member, id)
        if repeat is not None:
            return repeat, []
        text = self.check_text(member, text, id)
        seq, ts = self._stamp()
        message = Message(seq=seq, ts=ts, room=room, from_=member.name, text=text, action=action)
        deliveries = self.relay(message, member)
        self._remember(member, id, seq, ts)
        return Ack(id=id or "", seq=seq, ts=ts), deliveries

    def dm(
        self, member: Member, to: str, text: str, *, id: str | None = None
    ) -> tuple[Ack, list[Delivery]]:
        repeat = self._repeat(member, id)
        if repeat is not None:
            return repeat, []
        target = self.find(to)
        if target is None:
            raise refusals.no_such_user(to, id)
        text = self.check_text(member, text, id)
        seq, ts = self._stamp()
        frame = DirectMessage(seq=seq, ts=ts, from_=member.name, to=target.name, text=text)
        deliveries = self.relay(frame, member)
        self._remember(member, id, seq, ts)
        return Ack(id=id or "", seq=seq, ts=ts), deliveries

    # -- internals -------------------------------------------------------

    def _to_room(self, frame: Struct, skip: Member | None = None) -> Delivery:
        self._room_events += 1
        return Delivery(Outbound(frame), room=self.local, skip=skip, mark=self._room_events)

    def _add(self, member: Member) -> None:
        self.members[member.key] = member
        if member.peer is not None:
            self.local[member.key] = member
        bisect.insort(self._roster, member, key=_by_key)

    def _remove(self, member: Member) -> None:
        del self.members[member.key]
        self.local.pop(member.key, None)
        del self._roster[bisect.bisect_left(self._roster, member.key, key=_by_key)]

    def _repeat(self, member: Member, id: str | None) -> Ack | None:
        if id is None:
            return None
        receipt = self.store.recall((member.key, id), self._clock())
        if receipt is None:
            return None
        return Ack(id=id, seq=receipt.seq, ts=receipt.ts)

    def _remember(self, member: Member, id: str | None, seq: int, ts: str) -> None:
        if id is not None:
            self.store.remember((member.key, id), Receipt(seq, ts), self._clock())

    def _stamp(self) -> tuple[int, str]:
        self._seq += 1
        return self._seq, self.now()


_by_key = attrgetter("key")
