"""Every frame of protocol v1 as a msgspec Struct, with its error codes,
leave reasons and size limits. Data only: no codec, no validation rules
beyond a frame's shape, no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType, field

PROTO_VERSION = 1
DEFAULT_ROOM = "general"

MAX_CLIENT_FRAME = 65_536  # bytes, including the newline
MAX_SERVER_FRAME = 16 * 1024 * 1024  # what a client must accept
MAX_NAME_LEN = 24  # code points, after NFC
MAX_TEXT_LEN = 4_000  # code points, after control characters are removed
MAX_ID_LEN = 64
MAX_ROOM_LEN = 32
MAX_HISTORY_LIMIT = 200
DEFAULT_HISTORY_LIMIT = 50
MAX_TOPIC_LEN = 300  # code points, after cleaning

# What this protocol's extensions a server may announce in `welcome.features`.
FEATURE_ROOMS = "rooms"
FEATURE_ACCOUNTS = "accounts"
FEATURE_MODERATION = "moderation"


class ErrorCode(StrEnum):
    BAD_FRAME = "bad_frame"
    TOO_LONG = "too_long"
    UNKNOWN_TYPE = "unknown_type"
    NOT_JOINED = "not_joined"
    BAD_NAME = "bad_name"
    NAME_TAKEN = "name_taken"
    BAD_TEXT = "bad_text"
    BAD_PASSWORD = "bad_password"
    SERVER_FULL = "server_full"
    RATE_LIMITED = "rate_limited"
    NO_SUCH_USER = "no_such_user"
    NO_SUCH_ROOM = "no_such_room"
    UNSUPPORTED_PROTO = "unsupported_proto"
    # The rooms extension (see docs/protocol.md).
    NOT_IN_ROOM = "not_in_room"
    ROOM_LIMIT = "room_limit"
    FORBIDDEN = "forbidden"
    # Accounts and moderation.
    LOGIN_REQUIRED = "login_required"  # the name is registered: give its password
    BAD_LOGIN = "bad_login"  # a wrong account password
    ACCOUNT_REQUIRED = "account_required"  # this server lets in registered names only
    WEAK_PASSWORD = "weak_password"
    NOT_REGISTERED = "not_registered"  # a role or a ban needs an account
    MUTED = "muted"
    BANNED = "banned"
    MODERATED = "moderated"  # only staff speak in this room
    SLOW_MODE = "slow_mode"
    PRIVATE_ROOM = "private_room"  # join by invitation or code only


class LeftReason(StrEnum):
    QUIT = "quit"
    LOST = "lost"
    TIMEOUT = "timeout"
    SLOW = "slow"
    ERROR = "error"
    KICKED = "kicked"
    PART = "part"  # left one room, still connected
    BANNED = "banned"


class ProtocolError(Exception):
    """A request that failed with a protocol error code.

    Raised by validation anywhere; turned into an `error` frame (or a `!`
    line for a plain-text user) in one place, with `id` echoed when the
    request carried one.
    """

    def __init__(self, code: ErrorCode, message: str, id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.id = id
        # Seconds the answer is held back (a wrong password's backoff); the
        # server's business, never sent.
        self.hold = 0.0

    def to_frame(self) -> Error:
        return Error(code=self.code, message=self.message, id=self.id if self.id else UNSET)


# Field constraints that are part of "the frame's shape" live in the types
# (a violation is `bad_frame`); the name and text rules have their own error
# codes and are checked by the functions in `names`.

MessageId = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LEN)]
HistoryLimit = Annotated[int, Meta(ge=1, le=MAX_HISTORY_LIMIT)]

_FRAME_CONFIG: dict[str, Any] = {"tag_field": "type", "omit_defaults": True}

# -- client to server ----------------------------------------------------------


class Hello(Struct, tag="hello", **_FRAME_CONFIG):
    name: str
    proto: int
    client: str | UnsetType = UNSET
    password: str | UnsetType = UNSET  # the server's shared password
    account_password: str | UnsetType = UNSET  # a registered name's own


class Register(Struct, tag="register", **_FRAME_CONFIG):
    """Register the name one has, with this password."""

    password: str
    id: MessageId | UnsetType = UNSET


class ChangePassword(Struct, tag="password", **_FRAME_CONFIG):
    old: str
    new: str
    id: MessageId | UnsetType = UNSET


class Say(Struct, tag="say", **_FRAME_CONFIG):
    id: MessageId
    text: str
    room: str = DEFAULT_ROOM
    action: bool = False


class Dm(Struct, tag="dm", **_FRAME_CONFIG):
    """Client to server: a direct message. The server relays a `DirectMessage`."""

    id: MessageId
    to: str
    text: str


class Nick(Struct, tag="nick", **_FRAME_CONFIG):
    name: str


class Who(Struct, tag="who", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM
    # Hear every join and leave of the room from now on, even when it is
    # larger than the server's presence limit.
    watch: bool = False
    id: MessageId | UnsetType = UNSET


class Join(Struct, tag="join", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM
    id: MessageId | UnsetType = UNSET


class Part(Struct, tag="part", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM
    id: MessageId | UnsetType = UNSET


class History(Struct, tag="history", **_FRAME_CONFIG):
    """Older messages of a room, or (with `with`) of the DMs with one user;
    neither given means `general`."""

    room: str | UnsetType = UNSET
    before: int | UnsetType = UNSET
    limit: HistoryLimit = DEFAULT_HISTORY_LIMIT
    with_: str | UnsetType = field(default=UNSET, name="with")
    id: MessageId | UnsetType = UNSET


class Rooms(Struct, tag="rooms", **_FRAME_CONFIG):
    """Ask for the list of rooms."""

    id: MessageId | UnsetType = UNSET


class Topic(Struct, tag="topic", **_FRAME_CONFIG):
    """Show a room's topic, or set it when `topic` is given ("" clears it)."""

    room: str = DEFAULT_ROOM
    topic: str | UnsetType = UNSET
    id: MessageId | UnsetType = UNSET


class Ping(Struct, tag="ping", **_FRAME_CONFIG):
    t: Any = UNSET


class Pong(Struct, tag="pong", **_FRAME_CONFIG):
    t: Any = UNSET


class Bye(Struct, tag="bye", **_FRAME_CONFIG):
    reason: str | UnsetType = UNSET


# -- server to client ----------------------------------------------------------


class Message(Struct, tag="message", **_FRAME_CONFIG):
    seq: int
    ts: str
    room: str
    from_: str = field(name="from")
    text: str
    action: bool = False


class DirectMessage(Struct, tag="dm", **_FRAME_CONFIG):
    """Server to client: a direct message (the client's `Dm`, stamped)."""

    seq: int
    ts: str
    from_: str = field(name="from")
    to: str
    text: str


class Welcome(Struct, tag="welcome", **_FRAME_CONFIG):
    proto: int
    name: str
    server: str
    users: list[str]
    rooms: list[str]
    # Room messages, and the reader's own DMs (sent or received), oldest first.
    history: list[Message | DirectMessage]
    motd: str | UnsetType = UNSET
    # How many are in `general`; `users` may hold only the first of them.
    user_count: int | UnsetType = UNSET
    features: list[str] | UnsetType = UNSET
    registered: bool = False  # logged in to an account
    admin: bool = False  # a server admin
    # The account's password is one the operator made: choose another.
    temporary_password: bool = False


class Registered(Struct, tag="registered", **_FRAME_CONFIG):
    """The name is yours now; or (`changed`) its password is new."""

    name: str
    changed: bool = False


class Ack(Struct, tag="ack", **_FRAME_CONFIG):
    id: str
    seq: int
    ts: str


class Joined(Struct, tag="joined", **_FRAME_CONFIG):
    name: str
    ts: str
    room: str | UnsetType = UNSET


class Left(Struct, tag="left", **_FRAME_CONFIG):
    name: str
    ts: str
    reason: str
    room: str | UnsetType = UNSET


class Renamed(Struct, tag="renamed", **_FRAME_CONFIG):
    old: str
    new: str
    ts: str


class Users(Struct, tag="users", **_FRAME_CONFIG):
    room: str
    users: list[str]
    id: str | UnsetType = UNSET  # the `who` request's


class HistoryReply(Struct, tag="history", **_FRAME_CONFIG):
    """A page of a room's history (`room`) or of the DMs with one user (`with`)."""

    messages: list[Message | DirectMessage]
    room: str | UnsetType = UNSET
    with_: str | UnsetType = field(default=UNSET, name="with")
    id: str | UnsetType = UNSET  # the `history` request's


class RoomInfo(Struct, tag="room", **_FRAME_CONFIG):
    """The answer to `join`: the room as the newcomer finds it."""

    room: str
    topic: str
    users: list[str]  # sorted; at most the first page when the room is large
    user_count: int
    history: list[Message]  # its recent messages, oldest first
    topic_by: str | UnsetType = UNSET
    topic_ts: str | UnsetType = UNSET
    created: bool = False  # this join made the room
    id: str | UnsetType = UNSET  # the `join` request's


class RoomSummary(Struct, omit_defaults=True):
    """One room in a `rooms` list (not a frame of its own: no `type`)."""

    room: str
    topic: str
    members: int


class RoomList(Struct, tag="rooms", **_FRAME_CONFIG):
    rooms: list[RoomSummary]
    id: str | UnsetType = UNSET  # the `rooms` request's


class TopicInfo(Struct, tag="topic", **_FRAME_CONFIG):
    """A room's topic: the answer to asking (with the request's `id`, if it
    had one), or news that it was set (never an `id`)."""

    room: str
    topic: str
    by: str | UnsetType = UNSET
    ts: str | UnsetType = UNSET
    id: str | UnsetType = UNSET


class Error(Struct, tag="error", **_FRAME_CONFIG):
    code: str
    message: str
    id: str | UnsetType = UNSET


class Shutdown(Struct, tag="shutdown", **_FRAME_CONFIG):
    message: str


CLIENT_FRAMES: tuple[type[Struct], ...] = (
    Hello,
    Say,
    Dm,
    Nick,
    Who,
    Join,
    Part,
    History,
    Rooms,
    Topic,
    Register,
    ChangePassword,
    Ping,
    Pong,
    Bye,
)
SERVER_FRAMES: tuple[type[Struct], ...] = (
    Welcome,
    Message,
    Ack,
    DirectMessage,
    Joined,
    Left,
    Renamed,
    Users,
    HistoryReply,
    RoomInfo,
    RoomList,
    TopicInfo,
    Registered,
    Ping,
    Pong,
    Error,
    Shutdown,
)

ClientFrame = (
    Hello
    | Say
    | Dm
    | Nick
    | Who
    | Join
    | Part
    | History
    | Rooms
    | Topic
    | Register
    | ChangePassword
    | Ping
    | Pong
    | Bye
)
ServerFrame = (
    Welcome
    | Message
    | Ack
    | DirectMessage
    | Joined
    | Left
    | Renamed
    | Users
    | HistoryReply
    | RoomInfo
    | RoomList
    | TopicInfo
    | Registered
    | Ping
    | Pong
    | Error
    | Shutdown
)
Stored = Message | DirectMessage
"""What a store keeps: a room message or a direct message."""
