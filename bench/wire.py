"""The load generator's side of each protocol: joining, sending a stamped line,
and finding the stamp in a received line. Kept minimal so that the generator
spends its CPU on reading, not parsing."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

STREAM_LIMIT = 1 << 24


async def next_line(reader: asyncio.StreamReader, last: bytes = b"") -> bytes:
    """The next line of a handshake. A refused join (an `error`, or a hang-up)
    raises ConnectionError, so that the caller retries as a client would,
    rather than spinning on EOF."""
    line = await reader.readline()
    if not line:
        raise ConnectionError(f"the server closed the connection; last line: {last[:200]!r}")
    if line.startswith(b'{"type":"error"'):
        raise ConnectionError(f"the server refused the join: {line[:200]!r}")
    return line


class Wire(ABC):
    """One protocol as the generator speaks it."""

    async def join(self, port: int, name: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=STREAM_LIMIT)
        try:
            await self.handshake(reader, writer, name)
        except ConnectionError:
            writer.close()  # a refused join: the caller may retry on a new connection
            raise
        return reader, writer

    @abstractmethod
    async def handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
    ) -> None:
        """Register `name` and enter the room; return once the server confirmed."""

    @abstractmethod
    def say(self, seq: int, text: bytes) -> bytes:
        """The bytes that post `text` to the room."""

    @abstractmethod
    def stamp(self, line: bytes) -> float | None:
        """The send time carried by a relayed chat line, or None for other lines."""

    acks = False  # whether the server confirms each send (so ack latency means something)
    # How a relayed chat line, an ack and a refusal begin (or, for IRC, what
    # a relayed line holds), for the counting reader (`--count`); every wire
    # names its delivery mark, and one without acks or refusals never sees
    # these.
    delivery_mark = b"\x00no deliveries\x00"
    ack_mark = b"\x00no acks\x00"
    refusal_mark = b"\x00no refusals\x00"

    def count(self, lines: bytes) -> tuple[int, int, int]:
        """Relayed chat lines, acks and refusals in `lines` (whole lines),
        found by C-speed searches instead of a look at each line."""
        return (
            lines.count(self.delivery_mark),
            lines.count(self.ack_mark),
            lines.count(self.refusal_mark),
        )

    def last_line(self, lines: bytes, mark: bytes) -> bytes | None:
        """The last of `lines` holding `mark`, for one latency sample."""
        at = lines.rfind(mark)
        if at < 0:
            return None
        start = lines.rfind(b"\n", 0, at) + 1
        return lines[start : lines.index(b"\n", at)]

    def ack(self, line: bytes) -> int | None:
        """The `seq` argument of the send this line acknowledges, or None."""
        return None

    def refusal(self, line: bytes) -> bool:
        """Whether this line refuses a send (only servers with acks say so)."""
        return False


class JsonWire(Wire):
    async def handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
    ) -> None:
        writer.write(b'{"type":"hello","proto":1,"name":"%s"}\n' % name.encode())
        line = b""
        while not (line := await next_line(reader, line)).startswith(b'{"type":"welcome"'):
            pass

    acks = True
    delivery_mark = b'{"type":"message"'
    ack_mark = b'{"type":"ack"'
    refusal_mark = b'{"type":"error"'

    def say(self, seq: int, text: bytes) -> bytes:
        return b'{"type":"say","id":"%d","text":"%s"}\n' % (seq, text)

    def say_in(self, room: str, seq: int, stamp: float) -> bytes:
        """A stamped message to `room` (the rooms scenario)."""
        return b'{"type":"say","id":"%d","text":"%r","room":"%s"}\n' % (
            seq,
            stamp,
            room.encode(),
        )

    def enter(self, room: str) -> bytes:
        return b'{"type":"join","room":"%s"}\n' % room.encode()

    def leave(self, room: str) -> bytes:
        return b'{"type":"part","room":"%s"}\n' % room.encode()

    def ack(self, line: bytes) -> int | None:
        if not line.startswith(b'{"type":"ack"'):
            return None
        start = line.index(b'"id":"') + 6
        return int(line[start : line.index(b'"', start)])

    def refusal(self, line: bytes) -> bool:
        return line.startswith(b'{"type":"error"')

    def stamp(self, line: bytes) -> float | None:
        if not line.startswith(b'{"type":"message"'):
            return None
        start = line.index(b'"text":"') + 8
        return float(line[start : line.index(b'"', start)])


class IrcWire(Wire):
    async def handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
    ) -> None:
        writer.write(b"NICK %s\r\nUSER %s 0 * :%s\r\n" % ((name.encode(),) * 3))
        line = b""
        while b" 001 " not in (line := await next_line(reader, line)):
            pass
        writer.write(b"JOIN #general\r\n")
        while b" 366 " not in (line := await next_line(reader, line)):
            pass

    delivery_mark = b" PRIVMSG #general :"

    def say(self, seq: int, text: bytes) -> bytes:
        return b"PRIVMSG #general :%s\r\n" % text

    def stamp(self, line: bytes) -> float | None:
        at = line.find(b" PRIVMSG #general :")
        if at < 0:
            return None
        return float(line[at + 19 :].rstrip(b"\r"))


def wire_for(kind: str) -> Wire:
    return IrcWire() if kind == "irc" else JsonWire()
