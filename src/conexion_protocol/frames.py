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


class LeftReason(StrEnum):
    QUIT = "quit"
    LOST = "lost"
    TIMEOUT = "timeout"
    SLOW = "slow"
    ERROR = "error"
    KICKED = "kicked"


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
    password: str | UnsetType = UNSET


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


class Join(Struct, tag="join", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM


class Part(Struct, tag="part", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM


class History(Struct, tag="history", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM
    before: int | UnsetType = UNSET
    limit: HistoryLimit = DEFAULT_HISTORY_LIMIT


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


class HistoryReply(Struct, tag="history", **_FRAME_CONFIG):
    room: str
    messages: list[Message | DirectMessage]


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
    Ping,
    Pong,
    Error,
    Shutdown,
)

ClientFrame = Hello | Say | Dm | Nick | Who | Join | Part | History | Ping | Pong | Bye
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
    | Ping
    | Pong
    | Error
    | Shutdown
)
Stored = Message | DirectMessage
"""What a store keeps: a room message or a direct message."""
