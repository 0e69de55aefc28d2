"""Test peers that speak to a real server over loopback sockets: a JSON peer
and a plain-text peer, both with bounded waits so a bug fails fast."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any, Self

WAIT = 5.0  # seconds any single expectation may take before the test fails

_ids = itertools.count(1)


async def until(condition: Callable[[], object], timeout: float = WAIT) -> None:
    """Wait for server-side state that no frame announces (a closed socket's
    count, say), polling briefly; fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


class LinePeer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls,
        port: int,
        host: str = "127.0.0.1",
        rcvbuf: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> Self:
        """Open a connection; `rcvbuf` shrinks the socket's receive buffer
        (set before connecting, so the TCP window is small from the start);
        `tls` wraps it in TLS."""
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection(
                host,
                port,
                limit=16 * 1024 * 1024,
                ssl=tls,
                server_hostname=host if tls is not None else None,
            )
            return cls(reader, writer)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock, limit=16 * 1024 * 1024)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self, timeout: float = WAIT) -> bytes:
        """The next line, without its newline; fails on EOF or timeout."""
        async with asyncio.timeout(timeout):
            data = await self.reader.readline()
        if not data.endswith(b"\n"):
            raise EOFError(f"connection closed (partial: {data[:80]!r})")
        return data[:-1]

    async def closed(self, timeout: float = WAIT) -> bool:
        """True once the server has closed the connection (anything unread is skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    data = await self.reader.read(65536)
                except ConnectionError:
                    return True
                if not data:
                    return True

    async def silent(self, seconds: float = 0.2) -> bool:
        """True if nothing arrives for `seconds` (used sparingly, after a round trip)."""
        try:
            async with asyncio.timeout(seconds):
                data = await self.reader.readline()
        except TimeoutError:
            return True
        raise AssertionError(f"expected silence, got {data!r}")

    async def close(self) -> None:
        self.writer.close()
        # Over TLS, frames the server sent while we were closing (another
        # user's `left`, say) make the close_notify exchange fail: harmless.
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()

    def reset(self) -> None:
        """Drop the connection abruptly: an RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


class JsonPeer(LinePeer):
    name: str = ""

    async def send(self, **frame: Any) -> None:
        await self.send_raw(json.dumps(frame).encode() + b"\n")

    async def recv(self, timeout: float = WAIT) -> dict[str, Any]:
        return json.loads(await self.line(timeout))

    async def expect(self, type: str, timeout: float = WAIT) -> dict[str, Any]:
        """The next frame of `type`, skipping pings, joins and leaves of
        others, and moderation news (tests that mean it expect it)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)  # the outer bound is the one that counts
                if frame["type"] == type:
                    return frame
                if frame["type"] not in ("ping", "joined", "left", "pong", "moderation"):
                    raise AssertionError(f"expected {type}, got {frame}")

    async def hello(self, name: str) -> dict[str, Any]:
        await self.send(type="hello", name=name, proto=1)
        welcome = await self.recv()
        assert welcome["type"] == "welcome", welcome
        self.name = welcome["name"]
        return welcome

    async def say(self, text: str, id: str | None = None, **extra: Any) -> dict[str, Any]:
        """Send a `say` and return its `ack` (or the error)."""
        frame_id = id or f"t{next(_ids)}"
        await self.send(type="say", id=frame_id, text=text, **extra)
        reply = await self.expect_any("ack", "error")
        return reply

    async def sync(self, timeout: float = WAIT) -> list[dict[str, Any]]:
        """Round-trip a `ping` with a fresh token and return every frame that
        arrived before its `pong`: "what has the server sent me so far"
        without sleeping. Server pings are skipped."""
        token = f"sync-{next(_ids)}"
        await self.send(type="ping", t=token)
        before: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame["type"] == "pong" and frame.get("t") == token:
                    return before
                if frame["type"] != "ping":
                    before.append(frame)

    async def expect_any(self, *types: str, timeout: float = WAIT) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame["type"] in types:
                    return frame
                if frame["type"] not in ("ping", "joined", "left", "pong", "message", "moderation"):
                    raise AssertionError(f"expected one of {types}, got {frame}")


class TextPeer(LinePeer):
    async def text(self, timeout: float = WAIT) -> str:
        return (await self.line(timeout)).decode()

    async def until(self, predicate: str, timeout: float = WAIT) -> str:
        """Lines up to and including the first that contains `predicate`."""
        async with asyncio.timeout(timeout):
            while True:
                line = await self.text(timeout)
                if predicate in line:
                    return line

    async def type(self, line: str) -> None:
        await self.send_raw(line.encode() + b"\n")

    async def sync(self, timeout: float = WAIT) -> list[str]:
        """Ask `/who` and return the lines that arrived before its answer."""
        await self.type("/who")
        before: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                line = await self.text(timeout)
                if line.startswith("* ") and " online: " in line:
                    return before
                before.append(line)


class IrcPeer(LinePeer):
    """A raw IRC client: lines in and out, and the registration dance."""

    nick: str = ""

    async def send(self, line: str) -> None:
        await self.send_raw(line.encode() + b"\r\n")

    async def text(self, timeout: float = WAIT) -> str:
        return (await self.line(timeout)).decode().rstrip("\r\n")

    async def until(self, predicate: str, timeout: float = WAIT) -> list[str]:
        """Lines up to and including the first that contains `predicate`
        (answering the server's PINGs on the way)."""
        seen: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                line = await self.text(timeout)
                seen.append(line)
                if line.startswith("PING "):
                    await self.send("PONG " + line[5:])
                if predicate in line:
                    return seen

    async def register(
        self, nick: str, *, caps: tuple[str, ...] = (), password: str | None = None
    ) -> list[str]:
        """NICK and USER (with CAP REQ first when `caps`), up to the end of
        the `general` NAMES that follows the welcome."""
        if caps:
            await self.send("CAP LS 302")
            await self.until(" LS ")
            await self.send("CAP REQ :" + " ".join(caps))
            await self.until(" ACK ")
        if password is not None:
            await self.send(f"PASS {password}")
        await self.send(f"NICK {nick}")
        await self.send(f"USER {nick} 0 * :{nick}")
        if caps:
            await self.send("CAP END")
        lines = await self.until(" 366 ")
        self.nick = nick
        return lines
