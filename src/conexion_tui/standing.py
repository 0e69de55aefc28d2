"""What the client knows of its own place in each room it is in: its role, a mute on it, the
room's settings, its raised hand, and (as staff) the queue of hands and the announcements' counts.
Bookkeeping on frames only: no Textual, no I/O, no wording and no decision; the server decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from conexion_protocol import (
    HandNews,
    HandQueue,
    HandState,
    ModAction,
    Moderation,
    ProtocolError,
    RaisedHand,
    Role,
    RoomInfo,
    RoomMode,
    SeenCount,
    Users,
    normalize_room,
    parse_ts,
)

# Who outranks whom, highest first; the badges and the header show these words.
RANKS: tuple[Role, ...] = (Role.ADMIN, Role.OWNER, Role.MODERATOR)


@dataclass(slots=True, frozen=True)
class Sanction:
    """A mute on us in a room: who made it, why, until when (an epoch; None
    until lifted). `said` holds the server's own words when the details are
    not known (we learnt of it from a refused message)."""

    by: str = ""
    reason: str = ""
    until: float | None = None
    said: str = ""

    @classmethod
    def of(cls, news: Moderation) -> Sanction:
        until = parse_ts(news.until) if isinstance(news.until, str) else None
        reason = news.reason if isinstance(news.reason, str) else ""
        return cls(news.by, reason, until)

    def active(self, now: float) -> bool:
        """Still on at `now` (wall clock, epoch): timed ones simply run out."""
        return self.until is None or now < self.until


@dataclass(slots=True)
class Standing:
    """One room as moderation shapes it for us."""

    role: Role | None = None  # ours here; an admin's is admin in every room
    mute: Sanction | None = None
    mode: RoomMode = field(default_factory=RoomMode)
    hand: HandState = HandState.DOWN
    position: int | None = None  # our place while our hand is up (1 is next)
    turn_by: str | None = None  # who took our hand, while it is our turn
    # The queue of raised hands, which the server shows only to staff: None
    # while we are not told it.
    queue: list[RaisedHand] | None = None
    # Announcement seq -> (seen, of): the counts staff are sent.
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)
    # Clock reading (the session's clock) when our last `say` here went out:
    # slow mode counts from it.
    said_at: float | None = None

    @property
    def staff(self) -> bool:
        return self.role is not None

    def muted(self, now: float) -> Sanction | None:
        """The mute on us at `now` (wall clock), if any."""
        mute = self.mute
        return mute if mute is not None and mute.active(now) else None

    def slow_wait(self, now: float, margin: float = 0.0) -> float:
        """Seconds (on the session's clock) until slow mode lets our next
        `say` go; 0 when it may go now. Staff are not slowed."""
        slow = self.mode.slow
        if not slow or self.staff or self.said_at is None:
            return 0.0
        return max(0.0, self.said_at + slow + margin - now)


def room_key(room: str) -> str:
    """The key rooms are told apart by (a malformed name keys as typed)."""
    try:
        return normalize_room(room)
    except ProtocolError:
        return room.casefold()


def role_of(roles: Mapping[str, Role] | object, is_me: Callable[[str], bool]) -> Role | None:
    """Our role in a `roles` map of a welcome, room or users frame."""
    if not isinstance(roles, Mapping):
        return None
    for name, role in roles.items():
        if is_me(name):
            return role
    return None


class Standings:
    """Our `Standing` in every room, kept up to date from the server's frames.

    `is_me` tells our own name (any spelling) from others'. Rooms not heard
    of have the default standing: no role, no mute, all settings off.
    """

    def __init__(self, is_me: Callable[[str], bool]) -> None:
        self.is_me = is_me
        self.rooms: dict[str, Standing] = {}
        self.admin = False  # a server admin: staff in every room

    def get(self, room: str) -> Standing:
        """The standing in `room` (made on first use)."""
        key = room_key(room)
        standing = self.rooms.get(key)
        if standing is None:
            standing = self.rooms[key] = Standing(role=Role.ADMIN if self.admin else None)
        return standing

    def peek(self, room: str) -> Standing:
        """The standing in `room`, without keeping a new one."""
        return self.rooms.get(room_key(room)) or Standing(role=Role.ADMIN if self.admin else None)

    def forget(self, room: str) -> None:
        """We are out of `room`: nothing of it holds any more."""
        self.rooms.pop(room_key(room), None)

    def welcomed(self, admin: bool, room: str, roles: object) -> None:
        """A welcome: our rank on the server, our role in its room (general)."""
        self.admin = admin
        for standing in self.rooms.values():
            standing.queue = None  # the queue is told again when asked
            if admin:
                standing.role = Role.ADMIN
            elif standing.role is Role.ADMIN:
                standing.role = None
        self._set_role(self.get(room), role_of(roles, self.is_me))

    def _set_role(self, standing: Standing, role: Role | None) -> None:
        standing.role = Role.ADMIN if self.admin else role
        if standing.role is None:
            standing.queue = None
            standing.seen.clear()

    def room_info(self, info: RoomInfo) -> None:
        """The answer to `join`: the room's settings, our role, a mute on us."""
        standing = self.get(info.room)
        self._set_role(standing, role_of(info.roles, self.is_me))
        standing.mode = info.mode if isinstance(info.mode, RoomMode) else RoomMode()
        muted = info.muted
        standing.mute = Sanction.of(muted) if isinstance(muted, Moderation) else None

    def users(self, frame: Users) -> None:
        if frame.room is not None and room_key(frame.room) in self.rooms:
            self._set_role(self.get(frame.room), role_of(frame.roles, self.is_me))

    def moderation(self, news: Moderation) -> None:
        """News of a moderator's action: the part of it about us or the room."""
        if not isinstance(news.room, str):
            return  # the whole server's: a ban, which ends the connection
        if room_key(news.room) not in self.rooms:
            return  # a room we are not in (an invitation, a ban from outside)
        standing = self.get(news.room)
        about_me = isinstance(news.name, str) and self.is_me(news.name)
        match news.action:
            case ModAction.MODE if isinstance(news.mode, RoomMode):
                standing.mode = news.mode
            case ModAction.MUTE if about_me:
                standing.mute = Sanction.of(news)
            case ModAction.UNMUTE if about_me:
                standing.mute = None
            case ModAction.OP if about_me:
                role = news.role if isinstance(news.role, Role) else Role.MODERATOR
                self._set_role(standing, role)
            case ModAction.DEOP if about_me:
                self._set_role(standing, None)

    def hand(self, news: HandNews) -> None:
        standing = self.get(news.room)
        standing.hand = news.state
        standing.position = news.position if isinstance(news.position, int) else None
        by = news.by if isinstance(news.by, str) else None
        standing.turn_by = by if news.state is HandState.TURN else None

    def hands(self, queue: HandQueue) -> None:
        self.get(queue.room).queue = list(queue.queue)

    def seen_count(self, count: SeenCount) -> None:
        self.get(count.room).seen[count.seq] = (count.seen, count.of)

    def refused(self, room: str, code: str, said: str) -> None:
        """One of our messages to `room` was refused: what that tells of our
        standing there (details we lack are the server's words)."""
        standing = self.get(room)
        mute = standing.mute
        if code == "muted" and (mute is None or mute.until is not None):
            # A timed mute we thought over (our clock is not the server's),
            # or one we never heard of: the server's words say until when.
            standing.mute = Sanction(said=said)
        elif code == "moderated":
            standing.mode.moderated = True

    def accepted(self, room: str) -> None:
        """One of our messages to `room` was accepted: whatever mute we
        thought we had there is over (lifted while we were away, say)."""
        standing = self.rooms.get(room_key(room))
        if standing is not None:
            standing.mute = None


__all__ = ["RANKS", "Sanction", "Standing", "Standings", "role_of"]
