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
MAX_REASON_LEN = 300  # a moderator's reason, code points after cleaning
MAX_SANCTION_MINUTES = 366 * 24 * 60  # a timed mute or ban: at most a year
MAX_SLOW_SECONDS = 3_600
MAX_EMOJI_LEN = 16  # code points of one reaction (a flag, a skin tone, a ZWJ family)
MAX_REACTIONS = 20  # different emoji on one message
MAX_SEARCH_LEN = 200  # code points of a search
MAX_SEARCH_LIMIT = 50
DEFAULT_SEARCH_LIMIT = 20
MAX_SEQ = 2**53 - 1  # every seq a server makes is below (JavaScript reads it exactly)

# What this protocol's extensions a server may announce in `welcome.features`.
FEATURE_ROOMS = "rooms"
FEATURE_ACCOUNTS = "accounts"
FEATURE_MODERATION = "moderation"
FEATURE_ACTIONS = "actions"  # replies, reactions, edits, deletes
FEATURE_SEARCH = "search"


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
    # Message actions.
    NO_SUCH_MESSAGE = "no_such_message"  # not in the room's history (or deleted)
    REACTION_LIMIT = "reaction_limit"  # the message has MAX_REACTIONS emoji already


class LeftReason(StrEnum):
    QUIT = "quit"
    LOST = "lost"
    TIMEOUT = "timeout"
    SLOW = "slow"
    ERROR = "error"
    KICKED = "kicked"
    PART = "part"  # left one room, still connected
    BANNED = "banned"


class ModAction(StrEnum):
    """What a `mod` request does to a person, and what `moderation` news says."""

    KICK = "kick"  # out of the room; may come back
    MUTE = "mute"  # may not speak in the room (for `minutes`, or until lifted)
    UNMUTE = "unmute"
    BAN = "ban"  # out of the room (or, with `server`, the chat) and kept out
    UNBAN = "unban"
    OP = "op"  # grant a role in the room (`role`: moderator, or owner)
    DEOP = "deop"
    INVITE = "invite"  # may enter the private room
    DELETE = "delete"  # audit only: a moderator deleted someone's message (`seq`)
    MODE = "mode"  # news only: the room's settings changed (see `mode`)
    CODE = "code"  # news only: the join code was changed


class Role(StrEnum):
    ADMIN = "admin"  # the whole server's (an account the operator marked)
    OWNER = "owner"  # a room's: its registered creator, or as granted
    MODERATOR = "moderator"


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
# A message's number as a request names it: the frame's shape bounds it, so
# that no integer a store cannot hold gets past decoding.
Seq = Annotated[int, Meta(ge=1, le=MAX_SEQ)]
SearchLimit = Annotated[int, Meta(ge=1, le=MAX_SEARCH_LIMIT)]

# gc=False: the cyclic collector does not track frames. They hold strings,
# numbers, lists and other frames, never anything that points back at them,
# so no cycle goes through one; and a server or a client holds many of them
# for a long time (history, a commit's worth, the log's 100,000), which every
# collection would otherwise walk.
_FRAME_CONFIG: dict[str, Any] = {"tag_field": "type", "omit_defaults": True, "gc": False}

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
    # Staff only: an announcement, which each member acknowledges (`seen`)
    # and whose count staff see.
    announce: bool = False
    reply_to: Seq | UnsetType = UNSET  # the seq (in the same room) this answers


class Dm(Struct, tag="dm", **_FRAME_CONFIG):
    """Client to server: a direct message. The server relays a `DirectMessage`."""

    id: MessageId
    to: str
    text: str


class Nick(Struct, tag="nick", **_FRAME_CONFIG):
    name: str
    id: MessageId | UnsetType = UNSET  # echoed on its error


class Who(Struct, tag="who", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM
    # Hear every join and leave of the room from now on, even when it is
    # larger than the server's presence limit.
    watch: bool = False
    id: MessageId | UnsetType = UNSET


class Join(Struct, tag="join", **_FRAME_CONFIG):
    room: str = DEFAULT_ROOM
    id: MessageId | UnsetType = UNSET
    code: str | UnsetType = UNSET  # a private room's join code


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


class Mod(Struct, tag="mod", **_FRAME_CONFIG):
    """A moderator's action on a person in a room (or, `server: true`, a ban
    from the whole chat)."""

    action: ModAction
    name: str
    room: str = DEFAULT_ROOM
    minutes: Annotated[int, Meta(ge=1, le=MAX_SANCTION_MINUTES)] | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    server: bool = False
    role: Role | UnsetType = UNSET  # for `op`: moderator (the default) or owner
    id: MessageId | UnsetType = UNSET


class RoomMode(Struct, omit_defaults=True):
    """A room's settings (not a frame of its own)."""

    moderated: bool = False  # only staff speak
    slow: int = 0  # seconds between two messages of one member; 0: off
    private: bool = False  # entered by invitation or join code only
    topic_lock: bool = False  # only staff set the topic


class Mode(Struct, tag="mode", **_FRAME_CONFIG):
    """Change some of a room's settings; those not given stay."""

    room: str = DEFAULT_ROOM
    moderated: bool | UnsetType = UNSET
    slow: Annotated[int, Meta(ge=0, le=MAX_SLOW_SECONDS)] | UnsetType = UNSET
    private: bool | UnsetType = UNSET
    topic_lock: bool | UnsetType = UNSET
    id: MessageId | UnsetType = UNSET


class Audit(Struct, tag="audit", **_FRAME_CONFIG):
    """The log of a room's moderation (owners and admins), or without
    `room`, the server's (admins)."""

    room: str | UnsetType = UNSET
    limit: HistoryLimit = DEFAULT_HISTORY_LIMIT
    id: MessageId | UnsetType = UNSET


class Code(Struct, tag="code", **_FRAME_CONFIG):
    """Show a private room's join code, or (`rotate`) make a new one."""

    room: str = DEFAULT_ROOM
    rotate: bool = False
    id: MessageId | UnsetType = UNSET


class Delete(Struct, tag="delete", **_FRAME_CONFIG):
    """Delete a message of a room: one's own, or (staff) anyone's."""

    room: str
    seq: int
    id: MessageId | UnsetType = UNSET


class Edit(Struct, tag="edit", **_FRAME_CONFIG):
    """Change the text of a message of a room: one's own, or (staff) anyone's."""

    room: str
    seq: Seq
    text: str
    id: MessageId | UnsetType = UNSET


class React(Struct, tag="react", **_FRAME_CONFIG):
    """Add (`on: true`) or take back (`on: false`) one's reaction to a
    message; without `on`, toggle it. A client that may resend says `on`:
    setting a state twice is the same as once, toggling is not."""

    room: str
    seq: Seq
    emoji: str
    on: bool | UnsetType = UNSET
    id: MessageId | UnsetType = UNSET


class Search(Struct, tag="search", **_FRAME_CONFIG):
    """Messages holding every word of `text`, newest first, in the rooms one
    is in and one's DMs (or only `room`, or only the DMs `with` one user).
    `before` is the `next` of the previous page."""

    text: str
    room: str | UnsetType = UNSET
    with_: str | UnsetType = field(default=UNSET, name="with")
    before: str | UnsetType = UNSET
    limit: SearchLimit = DEFAULT_SEARCH_LIMIT
    id: MessageId | UnsetType = UNSET


class Hand(Struct, tag="hand", **_FRAME_CONFIG):
    """Raise your hand in a room (with an optional question), or lower it
    (`down`). Staff may lower someone else's (`name` with `down`) or take
    the next one in the queue (`next`)."""

    room: str = DEFAULT_ROOM
    question: str | UnsetType = UNSET
    down: bool = False
    name: str | UnsetType = UNSET
    next: bool = False
    id: MessageId | UnsetType = UNSET


class Hands(Struct, tag="hands", **_FRAME_CONFIG):
    """Staff: the room's queue of raised hands."""

    room: str = DEFAULT_ROOM
    id: MessageId | UnsetType = UNSET


class Seen(Struct, tag="seen", **_FRAME_CONFIG):
    """I have seen the announcement `seq` of `room`."""

    room: str
    seq: int


class Ping(Struct, tag="ping", **_FRAME_CONFIG):
    t: Any = UNSET


class Pong(Struct, tag="pong", **_FRAME_CONFIG):
    t: Any = UNSET


class Bye(Struct, tag="bye", **_FRAME_CONFIG):
    reason: str | UnsetType = UNSET


# -- server to client ----------------------------------------------------------


class Reaction(Struct, omit_defaults=True):
    """One emoji on a message and who gave it, first first (not a frame)."""

    emoji: str
    names: list[str]


class Message(Struct, tag="message", **_FRAME_CONFIG):
    seq: int
    ts: str
    room: str
    from_: str = field(name="from")
    text: str
    action: bool = False
    announcement: bool = False
    # A tombstone: the message was deleted (its text is gone; `from` and
    # `ts` stay, so a client shows where it was).
    deleted: bool = False
    # A reply: the seq it answers in the same room, and who wrote that (so
    # that a client can show "↪ bob" before it has the original at hand).
    reply_to: int | UnsetType = UNSET
    reply_from: str | UnsetType = UNSET
    edited: bool = False  # `text` is not what was first sent
    reactions: list[Reaction] | UnsetType = UNSET  # in the order first given


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
    roles: dict[str, Role] | UnsetType = UNSET  # in `general`, of those in `users`
    # The send limit (messages a second, and the burst allowed): a client
    # paces its sends within it instead of meeting `rate_limited`.
    rate: float | UnsetType = UNSET
    burst: int | UnsetType = UNSET


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
    roles: dict[str, Role] | UnsetType = UNSET  # name -> role, for those who have one


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
    roles: dict[str, Role] | UnsetType = UNSET  # of those in `users` who have one
    mode: RoomMode | UnsetType = UNSET  # absent: all settings off
    muted: Moderation | UnsetType = UNSET  # the mute on you here, if any


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


class Moderation(Struct, tag="moderation", **_FRAME_CONFIG):
    """News of a moderator's action, to the room and to its target; also one
    entry of an `audit` answer."""

    action: ModAction
    by: str
    ts: str
    room: str | UnsetType = UNSET  # absent: the whole server (a server ban)
    name: str | UnsetType = UNSET  # whom it was done to
    reason: str | UnsetType = UNSET
    until: str | UnsetType = UNSET  # a timed mute or ban's end; absent: until lifted
    role: Role | UnsetType = UNSET  # granted or taken by `op` / `deop`
    mode: RoomMode | UnsetType = UNSET  # the room's settings after a `mode`
    seq: int | UnsetType = UNSET  # the message a `delete` took away


class Deleted(Struct, tag="deleted", **_FRAME_CONFIG):
    """Message `seq` of `room` was deleted by `by`: show a tombstone."""

    room: str
    seq: int
    by: str
    ts: str


class Edited(Struct, tag="edited", **_FRAME_CONFIG):
    """Message `seq` of `room` (written by `author`) now reads `text`,
    changed by `by`."""

    room: str
    seq: int
    text: str
    by: str
    author: str
    ts: str


class Reacted(Struct, tag="reacted", **_FRAME_CONFIG):
    """`by` added (`on`) or took back a reaction; `names` is everyone's with
    that emoji on the message now (empty: the emoji is gone from it). Sent
    to the room, or, when nothing changed (a resend), to the asker alone."""

    room: str
    seq: int
    emoji: str
    by: str
    on: bool
    names: list[str]
    author: str  # who wrote the message


class Found(Struct, tag="found", **_FRAME_CONFIG):
    """A page of `search` hits, newest first; `next` asks for the page after."""

    text: str
    hits: list[Message | DirectMessage]
    next: str | UnsetType = UNSET
    id: str | UnsetType = UNSET


class RaisedHand(Struct, omit_defaults=True):
    """One hand in a queue (not a frame of its own)."""

    name: str
    ts: str
    question: str | UnsetType = UNSET


class HandQueue(Struct, tag="hands", **_FRAME_CONFIG):
    """The room's raised hands, first come first: to its staff whenever it
    changes, and as the answer to `hands`."""

    room: str
    queue: list[RaisedHand]
    id: str | UnsetType = UNSET


class HandState(StrEnum):
    UP = "up"  # in the queue, at `position` (1 is next)
    TURN = "turn"  # taken by `by`: your turn
    DOWN = "down"  # lowered (by you, or by `by`), or you left the room


class HandNews(Struct, tag="hand", **_FRAME_CONFIG):
    """Where your own hand is."""

    room: str
    state: HandState
    position: int | UnsetType = UNSET
    by: str | UnsetType = UNSET


class SeenCount(Struct, tag="seen", **_FRAME_CONFIG):
    """To staff: how many of those in the room when announcement `seq` was
    made have acknowledged it."""

    room: str
    seq: int
    seen: int
    of: int


class AuditLog(Struct, tag="audit", **_FRAME_CONFIG):
    entries: list[Moderation]  # oldest first
    room: str | UnsetType = UNSET
    id: str | UnsetType = UNSET


class CodeInfo(Struct, tag="code", **_FRAME_CONFIG):
    room: str
    code: str
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
    Mod,
    Mode,
    Audit,
    Code,
    Delete,
    Edit,
    React,
    Search,
    Hand,
    Hands,
    Seen,
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
    Moderation,
    AuditLog,
    CodeInfo,
    Deleted,
    Edited,
    Reacted,
    Found,
    HandQueue,
    HandNews,
    SeenCount,
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
    | Mod
    | Mode
    | Audit
    | Code
    | Delete
    | Edit
    | React
    | Search
    | Hand
    | Hands
    | Seen
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
    | Moderation
    | AuditLog
    | CodeInfo
    | Deleted
    | Edited
    | Reacted
    | Found
    | HandQueue
    | HandNews
    | SeenCount
    | Ping
    | Pong
    | Error
    | Shutdown
)
Stored = Message | DirectMessage
"""What a store keeps: a room message or a direct message."""
