"""The client's side of the protocol as a pure state machine (`ClientSession`): bytes in, events
and bytes out. It must not hold sockets, tasks, timers, `await` or Textual: `client.py` drives it.
"""

from __future__ import annotations

import enum
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from conexion_protocol import (
    DEFAULT_ROOM,
    FEATURE_MODERATION,
    FEATURE_ROOMS,
    MAX_CLIENT_FRAME,
    PROTO_VERSION,
    UNSET,
    Ack,
    Audit,
    AuditLog,
    Bye,
    ChangePassword,
    Code,
    CodeInfo,
    Delete,
    Deleted,
    Dm,
    Edited,
    Error,
    ErrorCode,
    Found,
    FrameTooLong,
    Hand,
    HandNews,
    HandQueue,
    Hands,
    Hello,
    History,
    HistoryReply,
    Join,
    Left,
    LineFramer,
    Mod,
    ModAction,
    Mode,
    Moderation,
    Nick,
    Part,
    Ping,
    Pong,
    ProtocolError,
    Reacted,
    Register,
    Registered,
    Renamed,
    Role,
    RoomInfo,
    RoomList,
    Rooms,
    Say,
    Seen,
    SeenCount,
    ServerFrame,
    Struct,
    Topic,
    TopicInfo,
    UnsetType,
    Users,
    Welcome,
    Who,
    decode_server,
    encode,
    name_key,
    normalize_room,
)

from . import CLIENT_ID
from .config import ClientConfig
from .standing import Standing, Standings

log = logging.getLogger(__name__)


class SessionState(enum.StrEnum):
    """Where the session is in its conversation with the server.

    ```
    IDLE ──connection_made──► HELLO_SENT ──welcome──► ONLINE ──close──► CLOSING
      ▲                          │ error (refused)      │                  │
      └──────── connection_lost ─┴──────────────────────┘   connection_lost│
    IDLE, HELLO_SENT ──close──► CLOSED ◄───────────────────────────────────┘
    ```
    """

    IDLE = "idle"  # no connection in use: before the first one, or between two
    HELLO_SENT = "hello_sent"  # a connection is up and `hello` queued; waiting for the answer
    ONLINE = "online"  # welcomed: requests go out, every server frame is handled
    CLOSING = "closing"  # `bye` queued: nothing else goes out, frames are still read
    CLOSED = "closed"  # finished for good: it never connects again


class SendStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(slots=True, eq=False)
class Outgoing:
    """One `say` or `dm` of ours, from the keystroke to its `ack` (or `error`).

    It keeps its `id` for life: a resend after a reconnect reuses it, so the
    server can recognise the repeat and not relay it twice.
    """

    id: str
    text: str
    to: str | None = None  # set for a direct message
    action: bool = False
    announce: bool = False  # staff: an announcement each member acknowledges
    room: str = DEFAULT_ROOM  # where a `say` goes (ignored for a direct message)
    status: SendStatus = SendStatus.PENDING
    written: int = 0  # how many times it was handed out by `data_to_send()`
    seq: int | None = None
    ts: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    reply_to: int | None = None  # the seq (in `room`) a `say` answers

    def frame(self) -> Struct:
        if self.to is not None:
            return Dm(id=self.id, to=self.to, text=self.text)
        reply_to = UNSET if self.reply_to is None else self.reply_to
        return Say(
            id=self.id,
            text=self.text,
            room=self.room,
            action=self.action,
            announce=self.announce,
            reply_to=reply_to,
        )


class RequestKind(enum.StrEnum):
    """What one of our requests with an `id` asked for."""

    JOIN = "join"  # a room we asked to enter (/join, the switcher)
    REJOIN = "rejoin"  # a room we were in, joined again after a welcome
    PART = "part"  # a room we leave (or, after a welcome, leave again)
    WHO = "who"
    ROOMS = "rooms"
    TOPIC = "topic"  # asking for a room's topic: answered by a `topic` with our id
    SET_TOPIC = "set_topic"  # setting it: the news that follows has no id
    HISTORY = "history"
    REGISTER = "register"
    PASSWORD = "password"
    # Message actions (see `request()`): edits, reactions and deletes are
    # answered by news about the message; a search by `found` with our id.
    EDIT = "edit"
    REACT = "react"
    SEARCH = "search"
    # A room we are in, joined again after a welcome only to learn its
    # settings and our standing there (the welcome does not carry them).
    REFRESH = "refresh"
    MOD = "mod"  # a moderator's action; answered by its `moderation` news
    MODE = "mode"  # a room's settings; answered by `moderation` news (action mode)
    CODE = "code"  # a private room's join code: a `code` answer
    AUDIT = "audit"  # an `audit` answer
    DELETE = "delete"  # a message of ours or (staff) anyone's; answered by `deleted`
    HAND = "hand"  # raise, lower, take the next; answered by `hand` or `hands` news
    HANDS = "hands"  # the queue (staff): a `hands` answer


@dataclass(slots=True, frozen=True)
class Request:
    """One of our requests, labelled with an `id` the server repeats on its
    answer and on its error, so that those are told apart from news and a
    failure lands where it belongs. It never holds a password."""

    id: str
    kind: RequestKind
    room: str | None = None  # the room it concerns, as we spelt it
    with_: str | None = None  # for a `history` of the DMs with this person
    name: str | None = None  # whom a moderator's action is on
    action: str | None = None  # a `mod` request's action


class Pace:
    """The server's token bucket as the client keeps it: `burst` sends at
    once, then `rate` a second. A share of the rate and a spare token leave
    room for the network bunching sends up on the way; without a rate (an
    older server) nothing is paced."""

    def __init__(self, rate: float | None = None, burst: int = 0, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    @classmethod
    def told(cls, rate: object, burst: object, now: float, config: ClientConfig) -> Pace:
        if not isinstance(rate, int | float) or rate <= 0 or not isinstance(burst, int):
            return cls()
        return cls(rate * config.rate_share, max(1, burst - config.burst_spare), now)

    def _refill(self, now: float) -> None:
        if self.rate is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> bool:
        """One send may go now (and is counted); False: it must wait."""
        if self.rate is None:
            return True
        self._refill(now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def wait(self, now: float) -> float:
        """Seconds until a send may go (0 when one may now)."""
        if self.rate is None:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


# -- events ------------------------------------------------------------------
# The first six go on to the app unchanged (see `client.ClientEvent`); the
# last two are for the driver only: they end a `hello` or a connection.


@dataclass(slots=True, frozen=True)
class Welcomed:
    """A (re)connection was accepted. `resent` counts unacknowledged messages
    written again with their ids; `queued` those typed while offline."""

    welcome: Welcome
    reconnect: bool
    resent: int = 0
    queued: int = 0


@dataclass(slots=True, frozen=True)
class Received:
    """A server frame for the screen: message, dm, joined, left, renamed,
    users, history, registered, shutdown, or an error that is not about one
    of our sends or requests. `request` is the request it answers (by its
    `id`, or for `registered` by order); None for news."""

    frame: ServerFrame
    request: Request | None = None


@dataclass(slots=True, frozen=True)
class Acked:
    out: Outgoing


@dataclass(slots=True, frozen=True)
class Failed:
    out: Outgoing


@dataclass(slots=True, frozen=True)
class RequestFailed:
    """The server refused one of our requests (an `error` with its id): a
    room that could not be joined again, a password too weak..."""

    request: Request
    code: str
    message: str


@dataclass(slots=True, frozen=True)
class RttMeasured:
    seconds: float


@dataclass(slots=True, frozen=True)
class HelloRefused:
    """The server answered `hello` with an `error` (a taken name, a wrong
    password...); the session is IDLE again and may try another `hello`.
    `ask_user`: trying again with the same credentials is pointless (a
    password is missing or wrong), so someone has to type one first."""

    code: str
    message: str
    ask_user: bool = False


@dataclass(slots=True, frozen=True)
class ServerFrameTooLong:
    """The server sent a line over `limit` bytes. Framing is lost, so the
    driver must drop the connection; every line before it has been handled."""

    limit: int


SessionEvent = (
    Welcomed
    | Received
    | Acked
    | Failed
    | RequestFailed
    | RttMeasured
    | HelloRefused
    | ServerFrameTooLong
)

# News that answers one of our message actions (it carries no id).
_SETTLED_BY: dict[type, RequestKind] = {
    Edited: RequestKind.EDIT,
    Reacted: RequestKind.REACT,
    Deleted: RequestKind.DELETE,
}
# States in which a connection is in use (bytes may be fed and handed out).
_CONNECTED = frozenset({SessionState.HELLO_SENT, SessionState.ONLINE, SessionState.CLOSING})
# Refusals of `hello` that the same credentials would only repeat.
_ASK_USER = frozenset({ErrorCode.BAD_PASSWORD, ErrorCode.LOGIN_REQUIRED, ErrorCode.BAD_LOGIN})
# Refusals that a password set by a change lost with its connection may cure.
_ACCOUNT_REFUSALS = frozenset({ErrorCode.LOGIN_REQUIRED, ErrorCode.BAD_LOGIN})


class ClientSession:
    """One user's session with one server, across any number of connections.

    The driver calls `connection_made()` for each new connection, feeds what
    it reads to `receive_data()`, takes events from `next_event()` until it
    returns None, writes what `data_to_send()` returns, and calls
    `connection_lost()` when the connection ends. Sends are accepted in every
    state and wait in `pending` until they are acknowledged or refused.
    """

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        id_prefix: str | None = None,
    ) -> None:
        self.config = config or ClientConfig()
        self.state = SessionState.IDLE
        # Our name as the server knows it: set by each `welcome`, changed by
        # a `renamed` of ourselves, and the name every reconnect says hello with.
        self.name: str | None = None
        # The server's password, and our registered name's own: kept in
        # memory only, for reconnects; never logged, shown or written down.
        self.password: str | None = None
        self.account_password: str | None = None
        # What the latest welcome said of our account; `registered` answers
        # keep it up to date.
        self.registered = False
        self.admin = False
        self.temporary_password = False  # the operator made it: we should choose our own
        # Unacknowledged sends in the order they were typed; resent in order.
        self.pending: dict[str, Outgoing] = {}
        # Pending sends of this connection not handed to the outbox yet, in
        # order: they wait for a room's slow mode (see `next_release()`).
        self._held: deque[Outgoing] = deque()
        # The server's send rate as its welcome told it: sends are paced
        # within it instead of meeting `rate_limited`.
        self._pace = Pace()
        # Our role, mutes, the settings, hands and counts in each room.
        self.standings = Standings(self.is_me)
        self.rtt: float | None = None  # seconds, from the latest answered ping
        self.welcomes = 0  # connections welcomed so far; after the first, a welcome is a reconnect
        # The rooms we are in, by room key, spelt as the server spells them, in
        # the order we entered them: what every reconnect joins again. Set by
        # each welcome, grown by each `room` answer, shrunk by our own `left`.
        self.rooms: dict[str, str] = {}
        # The rooms to be in after the first welcome (remembered from an
        # earlier run); None keeps those the welcome puts us in.
        self.restore: list[str] | None = None
        self.features: frozenset[str] = frozenset()  # what the latest welcome announced
        # This connection's requests with an id that are not answered yet,
        # oldest first, at most `max_requests` (a server that never answers
        # must not grow it). They die with the connection.
        self.requests: dict[str, Request] = {}
        # `register` and `password` requests not answered yet, in order, with
        # the password each would make ours: `registered` carries no id, and
        # the server answers them in order.
        self._account_changes: deque[tuple[str, str]] = deque()
        # A password a change lost with its connection may have set: tried
        # once if the next hello is refused for the one we have.
        self._account_fallback: str | None = None
        self._clock = clock
        # A random token makes our ids unique per sender across restarts of
        # the client; the counter makes them unique within this run.
        self._id_prefix = id_prefix or secrets.token_hex(self.config.id_token_bytes)
        self._ids = itertools.count(1)
        self._ping_ids = itertools.count(1)
        self._pings: dict[int, float] = {}  # ping id -> clock reading when it was queued
        # What this connection still has to write, in order. An `Outgoing` is
        # encoded only when handed out, so one answered meanwhile is skipped.
        self._outbox: deque[Struct | Outgoing] = deque()
        # This connection's framer; None once the server broke the framing,
        # after which its bytes are ignored until `connection_lost()`.
        self._framer: LineFramer | None = LineFramer(self.config.max_frame)
        # Complete lines not handled yet: `next_event()` handles them one at
        # a time, so a driver can stop right after the `welcome`. The driver
        # drains this after each read, so it never holds more than one read.
        self._lines: deque[bytes] = deque()
        self._too_long: ServerFrameTooLong | None = None  # to report once the lines are done

    # -- the connection ---------------------------------------------------------

    @property
    def online(self) -> bool:
        """Welcomed, and not on the way out."""
        return self.state is SessionState.ONLINE

    def connection_made(self, name: str | None = None) -> None:
        """A new connection is up: queue `hello` under `name`, or under our
        current name when reconnecting."""
        if self.state is not SessionState.IDLE:
            raise RuntimeError(f"connection_made() in state {self.state}")
        name = name if name is not None else self.name
        if name is None:
            raise ValueError("the first connection needs a name")
        self._reset_connection()
        hello = Hello(
            name=name,
            proto=PROTO_VERSION,
            client=CLIENT_ID,
            password=_given(self.password),
            account_password=_given(self.account_password),
        )
        self._outbox.append(hello)
        self.state = SessionState.HELLO_SENT

    def connection_lost(self) -> None:
        """The connection ended (or the driver dropped it). What it had not
        written yet is stale: pending sends go out again after the next welcome."""
        self._reset_connection()
        if self.state is SessionState.CLOSING:
            self.state = SessionState.CLOSED
        elif self.state is not SessionState.CLOSED:
            self.state = SessionState.IDLE

    def close(self, reason: str | None = None) -> None:
        """Leave for good. When welcomed, `bye` becomes the only frame left to
        write; otherwise there is nobody to say it to."""
        match self.state:
            case SessionState.ONLINE:
                self._outbox.clear()  # nothing goes after bye
                self._outbox.append(Bye(reason=reason) if reason else Bye())
                self.state = SessionState.CLOSING
            case SessionState.IDLE | SessionState.HELLO_SENT:
                self._reset_connection()
                self.state = SessionState.CLOSED
            case SessionState.CLOSING | SessionState.CLOSED:
                pass

    def _reset_connection(self) -> None:
        if self._account_changes:
            # Unanswered: the server may or may not have made it. The next
            # hello says the password we know, and tries this one if refused.
            self._account_fallback = self._account_changes[-1][1]
            self._account_changes.clear()
        self.requests.clear()  # their answers would come on the old connection
        self._outbox.clear()
        self._held.clear()  # the next welcome holds every pending send again
        self._lines.clear()
        self._framer = LineFramer(self.config.max_frame)
        self._too_long = None

    # -- bytes in, events out ----------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the connection; the events they make come from `next_event()`."""
        if self.state not in _CONNECTED or self._framer is None:
            return
        try:
            self._lines.extend(self._framer.feed(data))
        except FrameTooLong as exc:
            self._lines.extend(exc.lines)  # what came before it was sent correctly
            self._framer = None
            self._too_long = ServerFrameTooLong(self.config.max_frame)

    def next_event(self) -> SessionEvent | None:
        """The next event from the lines received so far; None when more
        bytes are needed. Frames that need no event (a server `ping`, an
        unknown type) are handled on the way. `ServerFrameTooLong` comes once,
        after every line that preceded the long one."""
        while self._lines:
            event = self._handle_line(self._lines.popleft())
            if event is not None:
                return event
        event, self._too_long = self._too_long, None
        return event

    def _handle_line(self, line: bytes) -> SessionEvent | None:
        try:
            frame = decode_server(line)
        except ProtocolError as exc:
            # Unknown types are a newer server talking; bad frames a broken one.
            # Neither is worth a reconnect.
            log.debug("ignoring server frame: %s", exc)
            return None
        if self.state is SessionState.HELLO_SENT:
            return self._handle_hello_answer(frame)
        if self.state in (SessionState.ONLINE, SessionState.CLOSING):
            return self._handle(frame)
        return None  # left over after a refused hello: that connection is done

    def _handle_hello_answer(self, frame: ServerFrame) -> SessionEvent | None:
        match frame:
            case Welcome():
                return self._welcomed(frame)
            case Error(code=code, message=message):
                self.state = SessionState.IDLE
                fallback = self._account_fallback
                if code in _ACCOUNT_REFUSALS and fallback is not None:
                    # A register or password change did take, after all.
                    self.account_password, self._account_fallback = fallback, None
                    return HelloRefused(code, message)
                return HelloRefused(code, message, ask_user=code in _ASK_USER)
            case Ping(t=t):
                self._queue(Pong(t=t))
        return None  # nothing else means anything before the welcome

    def _welcomed(self, welcome: Welcome) -> Welcomed:
        reconnect = self.welcomes > 0
        self.welcomes += 1
        self.name = welcome.name
        self.features = frozenset(welcome.features or ())
        self.registered = welcome.registered
        self.admin = welcome.admin
        self.temporary_password = welcome.temporary_password
        self._account_fallback = None  # what we said worked
        if not welcome.registered:
            # Not (or no longer) an account: nothing to keep a secret for.
            self.account_password = None
        self._pings.clear()  # pongs to the old connection's pings will never come
        self.standings.welcomed(welcome.admin, DEFAULT_ROOM, welcome.roles)
        # Room changes go first: a resent `say` to a room must find us in it.
        self._enter_rooms(welcome, reconnect)
        resent = sum(1 for out in self.pending.values() if out.written)
        self.state = SessionState.ONLINE
        self._held = deque(self.pending.values())
        self._pace = Pace.told(welcome.rate, welcome.burst, self._clock(), self.config)
        self._release()
        return Welcomed(welcome, reconnect, resent, len(self.pending) - resent)

    def _enter_rooms(self, welcome: Welcome, reconnect: bool) -> None:
        """Be in the rooms we were in: `join` those the welcome did not put
        us in and `part` those it did that we had left. Without the rooms
        feature, the welcome's rooms are all there is."""
        given = _room_keys(welcome.rooms)
        if FEATURE_ROOMS not in self.features:
            self.rooms = given
            return
        if reconnect:
            wanted = dict(self.rooms)
        elif self.restore is not None:
            wanted = _room_keys(self.restore)
        else:
            wanted = given
        # Kept in the wanted order before any answer comes, so that a link
        # lost again before the `room` answers still knows every room.
        self.rooms = {}
        for key, room in wanted.items():
            self.rooms[key] = given.get(key, room)
            if key not in given:
                # With an id: a refusal names its room (gone, closed to us).
                request = self._track(RequestKind.REJOIN, room=room)
                self._outbox.append(Join(room=room, id=request.id))
        for key, room in given.items():
            if key not in wanted:
                request = self._track(RequestKind.PART, room=room)
                self._outbox.append(Part(room=room, id=request.id))
            elif FEATURE_MODERATION in self.features:
                # The welcome lists the room but not its settings, our role
                # or a mute on us there: its `room` answer tells them.
                request = self._track(RequestKind.REFRESH, room=room)
                self._outbox.append(Join(room=room, id=request.id))

    def _handle(self, frame: ServerFrame) -> SessionEvent | None:
        match frame:
            case Ping(t=t):
                self._queue(Pong(t=t))
            case Pong(t=t):
                sent = self._pings.pop(t, None) if isinstance(t, int) else None
                if sent is not None:
                    self.rtt = self._clock() - sent
                    return RttMeasured(self.rtt)
            case Ack(id=frame_id):
                out = self.pending.pop(frame_id, None)
                if out is not None:  # not a repeat of an ack already handled
                    out.status, out.seq, out.ts = SendStatus.SENT, frame.seq, frame.ts
                    if out.to is None:
                        self.standings.accepted(out.room)
                    return Acked(out)
            case Error(id=frame_id) if isinstance(frame_id, str) and frame_id in self.pending:
                out = self.pending.pop(frame_id)
                out.status = SendStatus.FAILED
                out.error_code, out.error_message = frame.code, frame.message
                if out.to is None:
                    self.standings.refused(out.room, frame.code, frame.message)
                return Failed(out)
            case Error(id=frame_id) if isinstance(frame_id, str) and frame_id in self.requests:
                return self._refused(self.requests.pop(frame_id), frame)
            case Welcome():
                pass  # only valid as the answer to hello
            case Registered():
                request = None
                if self._account_changes:
                    request_id, password = self._account_changes.popleft()
                    self.account_password = password  # what every reconnect logs in with
                    request = self.requests.pop(request_id, None)
                # Our own password now, whether new or changed.
                self.registered, self.temporary_password = True, False
                return Received(frame, request)
            case Renamed(old=old, new=new):
                if self.name is not None and name_key(old) == name_key(self.name):
                    # Later reconnects must hello under the new name, or the
                    # server would not recognise our resent ids.
                    self.name = new
                return Received(frame)
            case RoomInfo(room=room):
                key = _room_key(room)
                if key is not None:
                    self.rooms[key] = room  # new, or the server's spelling of one we asked for
                self.standings.room_info(frame)
                self._release()  # our role or the slow mode may have changed
                return Received(frame, self._answered(frame.id))
            case Users():
                self.standings.users(frame)
                return Received(frame, self._answered(frame.id))
            case RoomList() | HistoryReply() | CodeInfo() | AuditLog() | Found():
                return Received(frame, self._answered(frame.id))
            case Moderation():
                self.standings.moderation(frame)
                if self.is_me(frame.by):
                    self._settle_moderation(frame)
                self._release()
                return Received(frame)
            case Edited(by=by) | Reacted(by=by) | Deleted(by=by):
                if self.is_me(by):
                    self._settle(_SETTLED_BY[type(frame)], frame.room)  # ours took: news, no id
                return Received(frame)
            case HandNews(room=room):
                self.standings.hand(frame)
                self._settle(RequestKind.HAND, room)
                return Received(frame)
            case HandQueue(room=room):
                self.standings.hands(frame)
                if isinstance(frame.id, str):
                    return Received(frame, self._answered(frame.id))
                self._settle(RequestKind.HAND, room)
                return Received(frame)
            case SeenCount():
                self.standings.seen_count(frame)
                return Received(frame)
            case TopicInfo(room=room, by=by):
                if isinstance(frame.id, str):
                    return Received(frame, self._answered(frame.id))
                if isinstance(by, str) and self.is_me(by):
                    self._settle(RequestKind.SET_TOPIC, room)  # ours took: its news has no id
                return Received(frame)
            case Left(name=name, room=room) if self.is_me(name):
                # Not sent for our own disconnect: we are still connected and
                # out of that room (a `part` of ours, or put out of it).
                where = room if isinstance(room, str) else DEFAULT_ROOM
                key = _room_key(where)
                if key is not None:
                    self.rooms.pop(key, None)
                self.standings.forget(where)
                self._settle(RequestKind.PART, where)  # answered by this, without an id
                return Received(frame)
            case _:
                return Received(frame)
        return None

    def _answered(self, frame_id: object) -> Request | None:
        """The request an answer's id names (no longer waiting); None for news."""
        return self.requests.pop(frame_id, None) if isinstance(frame_id, str) else None

    def _settle(self, kind: RequestKind, room: str) -> None:
        """A request the server answers with news (no id) was answered: the
        oldest of `kind` for `room` is done."""
        key = _room_key(room)
        for request_id, request in self.requests.items():
            if request.kind is kind and request.room and _room_key(request.room) == key:
                del self.requests[request_id]
                return

    def _settle_moderation(self, news: Moderation) -> None:
        """Our `mod` or `mode` request was carried out: its news has no id."""
        if news.action is ModAction.MODE:
            if isinstance(news.room, str):
                self._settle(RequestKind.MODE, news.room)
            return
        room = _room_key(news.room) if isinstance(news.room, str) else None
        name = name_key(news.name) if isinstance(news.name, str) else None
        for request_id, request in self.requests.items():
            if (
                request.kind is RequestKind.MOD
                and request.action == news.action
                and (_room_key(request.room) if request.room else None) == room
                and request.name is not None
                and name_key(request.name) == name
            ):
                del self.requests[request_id]
                return

    def _refused(self, request: Request, error: Error) -> RequestFailed:
        match request.kind:
            case RequestKind.REJOIN:
                # Not ours any more: the next reconnect must not try it again.
                key = _room_key(request.room or DEFAULT_ROOM)
                if key is not None:
                    self.rooms.pop(key, None)
            case RequestKind.REGISTER | RequestKind.PASSWORD:
                changes = self._account_changes
                self._account_changes = deque(c for c in changes if c[0] != request.id)
        return RequestFailed(request, error.code, error.message)

    # -- requests in, bytes out ---------------------------------------------------

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._outbox)

    def data_to_send(self) -> bytes:
        """Everything queued for the connection, encoded; empty when nothing is."""
        self._release()
        chunks: list[bytes] = []
        while self._outbox:
            item = self._outbox.popleft()
            if isinstance(item, Outgoing):
                if item.id not in self.pending:
                    continue  # answered meanwhile (an ack to an earlier copy)
                item.written += 1
                chunks.append(encode(item.frame()))
            else:
                chunks.append(encode(item))
        return b"".join(chunks)

    def new_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def say(
        self,
        text: str,
        *,
        action: bool = False,
        room: str = DEFAULT_ROOM,
        announce: bool = False,
        reply_to: int | None = None,
    ) -> Outgoing:
        """A message to `room` (`announce`: staff make it an announcement;
        `reply_to`: the seq it answers)."""
        out = Outgoing(
            id=self.new_id(),
            text=text,
            action=action,
            room=room,
            announce=announce,
            reply_to=reply_to,
        )
        return self._submit(out)

    def dm(self, to: str, text: str) -> Outgoing:
        return self._submit(Outgoing(id=self.new_id(), text=text, to=to))

    def nick(self, name: str) -> bool:
        """Ask for a new name; False when not online (nothing is queued).
        (`nick` carries no id: its refusal is a plain `error`.)"""
        if not self.online:
            return False
        self._outbox.append(Nick(name=name))
        return True

    # The requests below return the id they carry, or None when not online
    # (nothing is queued): their answers and errors come back with it.

    def who(self, room: str = DEFAULT_ROOM, *, watch: bool = False) -> str | None:
        """Ask who is in `room`; `watch` also subscribes to its joins and leaves."""
        return self._ask(RequestKind.WHO, lambda i: Who(room=room, watch=watch, id=i), room=room)

    def history(
        self,
        before: int | None,
        limit: int,
        *,
        room: str | None = None,
        with_: str | None = None,
    ) -> str | None:
        """Ask for up to `limit` messages older than `before` (the newest when
        None) of `room`, or of the DMs with `with_`; neither means `general`."""

        def frame(request_id: str) -> History:
            return History(
                room=UNSET if room is None else room,
                before=UNSET if before is None else before,
                limit=limit,
                with_=UNSET if with_ is None else with_,
                id=request_id,
            )

        where = room if room is not None or with_ is not None else DEFAULT_ROOM
        return self._ask(RequestKind.HISTORY, frame, room=where, with_=with_)

    def join(self, room: str, code: str | None = None) -> str | None:
        """Enter `room` (creating it; `code`: a private room's join code); it
        counts as ours once its `room` answer comes."""
        given = UNSET if code is None else code
        return self._ask(RequestKind.JOIN, lambda i: Join(room=room, id=i, code=given), room=room)

    def part(self, room: str) -> str | None:
        """Leave `room`; our own `left` confirms it."""
        return self._ask(RequestKind.PART, lambda i: Part(room=room, id=i), room=room)

    def list_rooms(self) -> str | None:
        """Ask for every room, its topic and how many are in it."""
        return self._ask(RequestKind.ROOMS, lambda i: Rooms(id=i))

    def topic(self, room: str, topic: str | None = None) -> str | None:
        """Ask for `room`'s topic, or set it ("" clears it)."""
        kind = RequestKind.TOPIC if topic is None else RequestKind.SET_TOPIC
        text = UNSET if topic is None else topic
        return self._ask(kind, lambda i: Topic(room=room, topic=text, id=i), room=room)

    def register(self, password: str) -> str | None:
        """Make the name we have an account with `password`. Once the server
        answers `registered`, every reconnect logs in with it."""
        request_id = self._ask(RequestKind.REGISTER, lambda i: Register(password=password, id=i))
        if request_id is not None:
            self._account_changes.append((request_id, password))
        return request_id

    def change_password(self, old: str, new: str) -> str | None:
        """Change our account's password; reconnects use `new` once the
        server answers `registered` (with `changed`)."""
        request_id = self._ask(
            RequestKind.PASSWORD, lambda i: ChangePassword(old=old, new=new, id=i)
        )
        if request_id is not None:
            self._account_changes.append((request_id, new))
        return request_id

    def request(
        self, kind: RequestKind, frame: Callable[[str], Struct], *, room: str | None = None
    ) -> str | None:
        """Any other request (`edit`, `react`, `delete`, `search`): `frame`
        builds it around the id its answer or error will carry."""
        return self._ask(kind, frame, room=room)

    # -- moderation and the classroom tools (the server checks every rank) ------

    def moderate(
        self,
        action: ModAction,
        name: str,
        room: str = DEFAULT_ROOM,
        *,
        minutes: int | None = None,
        reason: str | None = None,
        server: bool = False,
        role: Role | None = None,
    ) -> str | None:
        """A moderator's action on `name` in `room` (or, `server`, the whole
        chat); its `moderation` news answers it."""

        def frame(request_id: str) -> Mod:
            return Mod(
                action=action,
                name=name,
                room=room,
                minutes=UNSET if minutes is None else minutes,
                reason=UNSET if reason is None else reason,
                server=server,
                role=UNSET if role is None else role,
                id=request_id,
            )

        where = None if server else room
        return self._ask(RequestKind.MOD, frame, room=where, name=name, action=action)

    def set_mode(
        self,
        room: str,
        *,
        moderated: bool | None = None,
        slow: int | None = None,
        private: bool | None = None,
        topic_lock: bool | None = None,
    ) -> str | None:
        """Change some of `room`'s settings; those left None stay."""

        def given(value: bool | int | None) -> bool | int | UnsetType:
            return UNSET if value is None else value

        def frame(request_id: str) -> Mode:
            return Mode(
                room=room,
                moderated=given(moderated),  # type: ignore[arg-type]
                slow=given(slow),  # type: ignore[arg-type]
                private=given(private),  # type: ignore[arg-type]
                topic_lock=given(topic_lock),  # type: ignore[arg-type]
                id=request_id,
            )

        return self._ask(RequestKind.MODE, frame, room=room)

    def join_code(self, room: str, *, rotate: bool = False) -> str | None:
        """Ask for the private room's join code (`rotate`: make a new one first)."""
        return self._ask(
            RequestKind.CODE, lambda i: Code(room=room, rotate=rotate, id=i), room=room
        )

    def audit(self, room: str | None, limit: int) -> str | None:
        """The last `limit` entries of `room`'s audit log (None: the server's)."""
        where = UNSET if room is None else room
        return self._ask(
            RequestKind.AUDIT, lambda i: Audit(room=where, limit=limit, id=i), room=room
        )

    def delete(self, room: str, seq: int) -> str | None:
        """Delete message `seq` of `room` (ours, or as staff anyone's)."""
        return self._ask(RequestKind.DELETE, lambda i: Delete(room=room, seq=seq, id=i), room=room)

    def hand(
        self,
        room: str,
        *,
        question: str | None = None,
        down: bool = False,
        name: str | None = None,
        next_: bool = False,
    ) -> str | None:
        """Raise our hand (with `question`), lower it (`down`), lower
        someone's (`name` with `down`, staff) or take the next (`next_`, staff)."""

        def frame(request_id: str) -> Hand:
            return Hand(
                room=room,
                question=UNSET if question is None else question,
                down=down,
                name=UNSET if name is None else name,
                next=next_,
                id=request_id,
            )

        return self._ask(RequestKind.HAND, frame, room=room, name=name)

    def hands(self, room: str) -> str | None:
        """Ask for `room`'s queue of raised hands (staff)."""
        return self._ask(RequestKind.HANDS, lambda i: Hands(room=room, id=i), room=room)

    def seen(self, room: str, seq: int) -> bool:
        """Say we have seen announcement `seq` of `room`; False when offline.
        (`seen` carries no id, and is answered only when it fails.)"""
        if not self.online:
            return False
        self._outbox.append(Seen(room=room, seq=seq))
        return True

    def standing(self, room: str) -> Standing:
        """Our standing in `room`, as the server last told us."""
        return self.standings.peek(room)

    # -- pacing --------------------------------------------------------------------

    def held(self, room: str | None = None) -> list[Outgoing]:
        """Our sends that wait to go (in `room`, or all), oldest first."""
        held = [out for out in self._held if out.id in self.pending]
        if room is None:
            return held
        key = _room_key(room)
        return [out for out in held if out.to is None and _room_key(out.room) == key]

    def slow_wait(self, room: str) -> float:
        """Seconds until slow mode lets our next message to `room` go."""
        return self.standings.peek(room).slow_wait(self._clock(), self.config.slow_margin)

    def next_release(self) -> float | None:
        """Seconds until a held send may go; None when none waits (the
        driver sleeps until then, or until something new is queued)."""
        if not self.online:
            return None
        now = self._clock()
        waits: dict[str | None, float] = {}  # the first held send of each room decides
        for out in self._held:
            if out.id in self.pending:
                room = None if out.to is not None else _room_key(out.room)
                waits.setdefault(room, self._wait(out, now))
        if not waits:
            return None
        return max(min(waits.values()), self._pace.wait(now))

    def _wait(self, out: Outgoing, now: float) -> float:
        if out.to is not None:
            return 0.0
        return self.standings.peek(out.room).slow_wait(now, self.config.slow_margin)

    def _release(self) -> None:
        """Hand the held sends that may go now to the outbox, in order: each
        takes one of the server's send tokens (when it told its rate), and one
        waiting for a room's slow mode holds back later ones to that room only."""
        if not self.online or not self._held:
            return
        now = self._clock()
        kept: deque[Outgoing] = deque()
        waiting: set[str | None] = set()  # rooms whose first held send still waits
        paced = False  # out of tokens: everything after waits, in order
        for out in self._held:
            if out.id not in self.pending:
                continue  # answered (an ack to an earlier copy) or refused meanwhile
            room = None if out.to is not None else _room_key(out.room)
            if paced or (room is not None and (room in waiting or self._wait(out, now) > 0)):
                if room is not None:
                    waiting.add(room)
                kept.append(out)
                continue
            if not self._pace.take(now):
                paced = True
                kept.append(out)
                continue
            if out.to is None:
                self.standings.get(out.room).said_at = now  # slow mode counts from here
            self._outbox.append(out)
        self._held = kept

    def is_me(self, name: str) -> bool:
        """Whether `name` is ours (any spelling with the same key)."""
        return self.name is not None and name_key(name) == name_key(self.name)

    def ping(self) -> bool:
        """Queue a `ping` whose `pong` measures the round trip; False when not online."""
        if not self.online:
            return False
        ping_id = next(self._ping_ids)
        # Only the latest few are remembered: a pong that late is no measure.
        window = self.config.ping_window
        self._pings = {k: v for k, v in self._pings.items() if k > ping_id - window}
        self._pings[ping_id] = self._clock()
        self._outbox.append(Ping(t=ping_id))
        return True

    def _submit(self, out: Outgoing) -> Outgoing:
        if len(encode(out.frame())) > MAX_CLIENT_FRAME:
            # The server would answer too_long and hang up, and the resend
            # after reconnecting would do it again: refuse it here instead.
            out.status = SendStatus.FAILED
            out.error_code = ErrorCode.TOO_LONG
            out.error_message = f"a frame is at most {MAX_CLIENT_FRAME} bytes"
            return out
        self.pending[out.id] = out
        if self.online:
            # Released by `data_to_send()`, when it is written: a send token
            # taken earlier, while the writer waits its turn (a busy screen),
            # would let several go out together, over the server's burst.
            self._held.append(out)
        return out

    def _ask(
        self,
        kind: RequestKind,
        frame: Callable[[str], Struct],
        *,
        room: str | None = None,
        with_: str | None = None,
        name: str | None = None,
        action: str | None = None,
    ) -> str | None:
        # Only sends wait for a connection (their ids make a late copy
        # harmless); a request refused here is for the screen to explain.
        if not self.online:
            return None
        # What was typed before it goes before it (a `say` then `/part`),
        # as far as the pacing lets it.
        self._release()
        request = self._track(kind, room=room, with_=with_, name=name, action=action)
        self._outbox.append(frame(request.id))
        return request.id

    def _track(
        self,
        kind: RequestKind,
        *,
        room: str | None = None,
        with_: str | None = None,
        name: str | None = None,
        action: str | None = None,
    ) -> Request:
        request = Request(self.new_id(), kind, room, with_, name, action)
        self.requests[request.id] = request
        while len(self.requests) > self.config.max_requests:
            # The oldest has waited longest: its answer, if any, is news now.
            del self.requests[next(iter(self.requests))]
        return request

    def _queue(self, frame: Struct) -> None:
        """A frame the protocol itself asks for (a `pong`): allowed before the
        welcome too, but never after `bye`."""
        if self.state in (SessionState.HELLO_SENT, SessionState.ONLINE):
            self._outbox.append(frame)


def _given(secret: str | None) -> str | UnsetType:
    """A password field as the frame wants it: absent when there is none."""
    return UNSET if secret is None else secret


def _room_key(room: str) -> str | None:
    """The key that tells rooms apart; None for a name no server would accept."""
    try:
        return normalize_room(room)
    except ProtocolError:
        return None


def _room_keys(rooms: list[str]) -> dict[str, str]:
    """Rooms by key, in order, the first spelling of each kept."""
    keyed: dict[str, str] = {}
    for room in rooms:
        key = _room_key(room)
        if key is not None:
            keyed.setdefault(key, room)
    return keyed


__all__ = [
    "Acked",
    "ClientSession",
    "Failed",
    "HelloRefused",
    "Outgoing",
    "Received",
    "Request",
    "RequestFailed",
    "RequestKind",
    "RttMeasured",
    "SendStatus",
    "ServerFrameTooLong",
    "SessionEvent",
    "SessionState",
    "Welcomed",
]
