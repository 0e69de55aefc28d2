"""Conexion wire protocol v1: frame types, limits, the NDJSON codec and the
name/text rules. Pure functions and data only: no sockets, no clocks, no asyncio.

Both the server and the TUI import this module, so it is the single source of
truth for what travels on the wire.
"""

from __future__ import annotations

import time
import unicodedata
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

__all__ = [
    "DEFAULT_ROOM",
    "MAX_CLIENT_FRAME",
    "MAX_HISTORY_LIMIT",
    "MAX_ID_LEN",
    "MAX_NAME_LEN",
    "MAX_SERVER_FRAME",
    "MAX_TEXT_LEN",
    "PROTO_VERSION",
    "UNSET",
    "Ack",
    "Bye",
    "ClientFrame",
    "DirectMessage",
    "Dm",
    "Error",
    "ErrorCode",
    "FrameTooLong",
    "Hello",
    "History",
    "HistoryReply",
    "Join",
    "Joined",
    "Left",
    "LeftReason",
    "LineFramer",
    "Message",
    "Nick",
    "Part",
    "Ping",
    "Pong",
    "ProtocolError",
    "Renamed",
    "Say",
    "ServerFrame",
    "Shutdown",
    "Users",
    "Welcome",
    "Who",
    "clean_text",
    "decode_client",
    "decode_server",
    "encode",
    "format_ts",
    "name_key",
    "normalize_name",
    "normalize_room",
]

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

    Raised by validation anywhere; turned into an `error` frame in one place
    (the connection layer), with `id` echoed when the request carried one.
    """

    def __init__(self, code: ErrorCode, message: str, id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.id = id

    def to_frame(self) -> Error:
        return Error(code=self.code, message=self.message, id=self.id if self.id else UNSET)


class FrameTooLong(Exception):
    """A line grew past the framer's limit.

    `lines` holds the complete lines that came before it in the same feed, so
    that nothing the peer sent correctly is lost.
    """

    def __init__(self, size: int, lines: list[bytes]) -> None:
        super().__init__(f"line of {size}+ bytes")
        self.size = size
        self.lines = lines


# --------------------------------------------------------------------------
# Frames. Field constraints that are part of "the frame's shape" live in the
# types (a violation is `bad_frame`); the name and text rules have their own
# error codes and are checked by `normalize_name` / `clean_text`.

MessageId = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LEN)]
HistoryLimit = Annotated[int, Meta(ge=1, le=MAX_HISTORY_LIMIT)]

_FRAME_CONFIG: dict[str, Any] = {"tag_field": "type", "omit_defaults": True}


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


class Message(Struct, tag="message", **_FRAME_CONFIG):
    seq: int
    ts: str
    room: str
    from_: str = field(name="from")
    text: str
    action: bool = False


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


class DirectMessage(Struct, tag="dm", **_FRAME_CONFIG):
    """Server to client: a direct message (the client's `Dm`, stamped)."""

    seq: int
    ts: str
    from_: str = field(name="from")
    to: str
    text: str


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

_CLIENT_TYPES: dict[str, type[Struct]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (Hello, Say, Dm, Nick, Who, Join, Part, History, Ping, Pong, Bye)
}
_SERVER_TYPES: dict[str, type[Struct]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
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
}

# --------------------------------------------------------------------------
# Codec

_encoder = msgspec.json.Encoder()
_client_decoder = msgspec.json.Decoder(ClientFrame)
_server_decoder = msgspec.json.Decoder(ServerFrame)
_any_decoder = msgspec.json.Decoder()

# Everything msgspec (or the interpreter) can raise for hostile bytes.
_DECODE_ERRORS = (
    msgspec.DecodeError,
    msgspec.ValidationError,
    UnicodeDecodeError,
    RecursionError,
    ValueError,
)


def encode(frame: Struct) -> bytes:
    """One frame as one NDJSON line, newline included."""
    return _encoder.encode(frame) + b"\n"


def decode_client(line: bytes) -> ClientFrame:
    """Decode one line (without its newline) sent by a client.

    Raises `ProtocolError` with `bad_frame` or `unknown_type`; never anything
    else, whatever the bytes.
    """
    return _decode(line, _client_decoder, _CLIENT_TYPES)  # type: ignore[return-value]


def decode_server(line: bytes) -> ServerFrame:
    """Decode one line sent by a server; same error contract as `decode_client`."""
    return _decode(line, _server_decoder, _SERVER_TYPES)  # type: ignore[return-value]


def _decode(line: bytes, decoder: msgspec.json.Decoder, types: dict[str, type[Struct]]) -> Any:
    if line.endswith(b"\r"):
        line = line[:-1]
    try:
        return decoder.decode(line)  # fast path: a well-formed, known frame
    except _DECODE_ERRORS:
        pass
    # Slow path, only for bad input: find out precisely what is wrong.
    try:
        obj = _any_decoder.decode(line)
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame is not valid UTF-8") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_FRAME, "JSON nested too deeply") from None
    except _DECODE_ERRORS as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    raw_id = obj.get("id")
    frame_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID_LEN else None
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "field `type` must be a string", frame_id)
    cls = types.get(kind)
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {kind[:40]!r}", frame_id)
    try:
        return msgspec.convert(obj, cls, strict=True)
    except _DECODE_ERRORS as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"bad `{kind}` frame: {exc}", frame_id) from None


class LineFramer:
    """Splits a byte stream into lines without ever holding more than
    `max_line` bytes of an unfinished line.

    `max_line` counts the newline, as the protocol's frame limit does.
    """

    __slots__ = ("_buffer", "max_line")

    def __init__(self, max_line: int = MAX_CLIENT_FRAME) -> None:
        self.max_line = max_line
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held right now."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Complete lines (newline stripped) found in the stream so far.

        Raises `FrameTooLong` as soon as a line cannot fit, even before its
        newline arrives; callers stop reading the stream after that.
        """
        buf = self._buffer
        buf += data
        lines: list[bytes] = []
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            if end - start + 1 > self.max_line:
                del buf[:]
                raise FrameTooLong(end - start + 1, lines)
            lines.append(bytes(buf[start:end]))
            start = end + 1
        if start:
            del buf[:start]
        if len(buf) >= self.max_line:  # even a newline next would be one byte too many
            size = len(buf)
            del buf[:]
            raise FrameTooLong(size, lines)
        return lines


# --------------------------------------------------------------------------
# Names, rooms and text

_NAME_PUNCTUATION = frozenset("_-.")


def normalize_name(raw: str) -> str:
    """The NFC form of a valid name, or `ProtocolError(bad_name)` saying why."""
    name = unicodedata.normalize("NFC", raw)
    if not name:
        raise ProtocolError(ErrorCode.BAD_NAME, "a name cannot be empty")
    if len(name) > MAX_NAME_LEN:
        raise ProtocolError(ErrorCode.BAD_NAME, f"a name has at most {MAX_NAME_LEN} characters")
    first = unicodedata.category(name[0])
    if not (first[0] == "L" or first == "Nd"):
        raise ProtocolError(ErrorCode.BAD_NAME, "a name must start with a letter or a digit")
    for ch in name:
        cat = unicodedata.category(ch)
        if cat[0] in "LM" or cat == "Nd" or ch in _NAME_PUNCTUATION:
            continue
        what = "a space" if ch.isspace() else f"the character U+{ord(ch):04X}"
        raise ProtocolError(
            ErrorCode.BAD_NAME,
            f"a name may hold only letters, digits, marks and _ - . (not {what})",
        )
    scripts = {_confusable_script(ch) for ch in name if ch.isalpha()} - {None}
    if len(scripts) > 1:
        # One Cyrillic `а` in a Latin name is the classic impersonation; the
        # skeleton catches the known look-alikes, this catches the rest.
        mixed = " and ".join(sorted(s.title() for s in scripts if s is not None))
        raise ProtocolError(
            ErrorCode.BAD_NAME, f"a name cannot mix {mixed} letters (they look alike)"
        )
    return name


# Look-alike letters of the Greek and Cyrillic scripts (and a few Latin
# oddities), mapped to the Latin letter they are mistaken for. Applied after
# NFKD + casefold, so only lowercase forms appear; where a letter's capital
# and small forms resemble different Latin letters (Greek Ν/ν: N/v), the
# capital wins, because names are shown as typed and capitals are where the
# scripts overlap most. A compact, hand-checked subset of Unicode's
# confusables.txt (UTS #39) for the scripts our users mix up; see
# docs/protocol.md for the rule and its limits.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "г": "r", "е": "e", "з": "3", "і": "i", "ј": "j",
        "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q",
        "ԝ": "w", "ӏ": "l", "ь": "b", "ү": "y", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "γ": "y", "ε": "e", "ζ": "z", "η": "h", "ι": "i",
        "κ": "k", "μ": "m", "ν": "n", "ο": "o", "ρ": "p", "τ": "t", "υ": "y",
        "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
        # Latin letters that pass for plain ones
        "ı": "i", "ȷ": "j", "ɑ": "a",
    }
)  # fmt: skip

# Marks that draw nothing (grapheme joiner, variation selectors): a name
# that differs from another only by them looks the same.
_INVISIBLE_MARKS = dict.fromkeys(
    [0x034F, *range(0x180B, 0x180E), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)

_CONFUSABLE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def name_key(name: str) -> str:
    """The key that makes names unique, the name's "skeleton": NFKC (so a
    fullwidth Ａ is A), casefold, look-alike letters of other scripts mapped
    to the Latin letter they resemble, invisible marks dropped.

    Two names with the same key cannot both be online, and a DM to any
    spelling with the same key reaches the one holder.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    return unicodedata.normalize("NFC", decomposed.translate(_LOOKALIKES)).translate(
        _INVISIBLE_MARKS
    )


def _confusable_script(ch: str) -> str | None:
    """LATIN, GREEK or CYRILLIC for a letter of those scripts (fullwidth
    forms included), else None."""
    base = unicodedata.normalize("NFKD", ch)[:1] or ch
    label = unicodedata.name(base, "")
    for script in _CONFUSABLE_SCRIPTS:
        if label.startswith(script):
            return script
    return None


def normalize_room(raw: str) -> str:
    """A room name's canonical (casefolded) form, or `bad_frame`."""
    if not 0 < len(raw) <= MAX_ROOM_LEN or not all(
        ch.isalnum() or ch in _NAME_PUNCTUATION for ch in raw
    ):
        raise ProtocolError(
            ErrorCode.BAD_FRAME,
            f"a room name is 1 to {MAX_ROOM_LEN} letters, digits, _ - or .",
        )
    return raw.casefold()


# C0 and C1 controls (and DEL) except newline and tab.
_CONTROLS = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A)] + list(range(0x7F, 0xA0))
)


def clean_text(raw: str) -> str:
    """A message text with control characters removed, or `ProtocolError(bad_text)`."""
    text = raw.translate(_CONTROLS)
    if not text:
        raise ProtocolError(ErrorCode.BAD_TEXT, "the message is empty")
    if len(text) > MAX_TEXT_LEN:
        raise ProtocolError(
            ErrorCode.BAD_TEXT,
            f"the message is {len(text)} characters long; the limit is {MAX_TEXT_LEN}",
        )
    return text


def format_ts(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds: `2026-11-24T12:00:00.123Z`."""
    # Round to whole milliseconds first: truncating the float's fraction turns
    # 12:00:00.123 into .122, because .123 is not exact in binary.
    whole, millis = divmod(round(epoch * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
