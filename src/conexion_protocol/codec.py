"""The NDJSON codec: one frame per line, encoded once, decoded with a typed
fast path and precise errors for bad input; and a bounded line framer.
No sockets here: bytes in, frames or lines out.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from .frames import (
    CLIENT_FRAMES,
    MAX_CLIENT_FRAME,
    MAX_ID_LEN,
    SERVER_FRAMES,
    ClientFrame,
    ErrorCode,
    ProtocolError,
    ServerFrame,
)

_CLIENT_TYPES: dict[str, type[Struct]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in CLIENT_FRAMES
}
_SERVER_TYPES: dict[str, type[Struct]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in SERVER_FRAMES
}

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


class FrameTooLong(Exception):
    """A line grew past the framer's limit.

    `lines` holds the complete lines that came before it in the same feed, so
    that nothing the peer sent correctly is lost.
    """

    def __init__(self, size: int, lines: list[bytes]) -> None:
        super().__init__(f"line of {size}+ bytes")
        self.size = size
        self.lines = lines


def encode(frame: Struct) -> bytes:
    """One frame as one NDJSON line, newline included."""
    return _encoder.encode(frame) + b"\n"


def decode_client(line: bytes) -> ClientFrame:
    """Decode one line (without its newline) sent by a client.

    Raises `ProtocolError` with `bad_frame` or `unknown_type`; never anything
    else, whatever the bytes.
    """
    return _decode(line, _client_decoder, _CLIENT_TYPES)  # type: ignore[no-any-return]


def decode_server(line: bytes) -> ServerFrame:
    """Decode one line sent by a server; same error contract as `decode_client`."""
    return _decode(line, _server_decoder, _SERVER_TYPES)  # type: ignore[no-any-return]


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

    def feed(self, data: bytes | memoryview) -> list[bytes]:
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
