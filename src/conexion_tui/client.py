"""The chat connection as a plain asyncio class: connect, `hello`, send with
ids, match `ack`s and `error`s, heartbeat and RTT, reconnect with backoff and
jitter, and resend what was never acknowledged.

No Textual here. The client reports what happens through one callback
(`on_event`) with the small event dataclasses below; the app turns those into
screen updates, and the tests read them straight from a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import random
import secrets
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from conexion_protocol import (
    MAX_CLIENT_FRAME,
    PROTO_VERSION,
    UNSET,
    Ack,
    Bye,
    Dm,
    Error,
    ErrorCode,
    FrameTooLong,
    Hello,
    History,
    LineFramer,
    Nick,
    Ping,
    Pong,
    ProtocolError,
    Renamed,
    Say,
    ServerFrame,
    Struct,
    Welcome,
    Who,
    decode_server,
    encode,
    format_address,
    name_key,
)

from . import CLIENT_ID
from .config import ClientConfig

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"  # JoinError code when no connection could be made
CLOSED = "closed"  # JoinError code when the server hung up during `hello`
TLS_FAILED = "tls_failed"  # JoinError code when the TLS handshake or certificate failed


class State(enum.StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # lost; a reconnect is scheduled
    CLOSED = "closed"  # we said bye, or were never connected


class SendStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class JoinError(Exception):
    """`hello` did not lead to a `welcome`: the server's error code and reason,
    or `unreachable` / `closed` with a description of the network failure."""

    def __init__(self, code: str, message: str, brief: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.brief = brief or message  # short enough for a status line


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
    status: SendStatus = SendStatus.PENDING
    written: int = 0  # how many times it went onto a socket
    seq: int | None = None
    ts: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    def frame(self) -> Struct:
        if self.to is not None:
            return Dm(id=self.id, to=self.to, text=self.text)
        return Say(id=self.id, text=self.text, action=self.action)


# -- events ------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class StateChanged:
    state: State
    detail: str = ""
    retry_in: float | None = None  # seconds until the next attempt, when offline


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
    users, history, shutdown, or an error that is not about one of our sends."""

    frame: ServerFrame


@dataclass(slots=True, frozen=True)
class Acked:
    out: Outgoing


@dataclass(slots=True, frozen=True)
class Failed:
    out: Outgoing


@dataclass(slots=True, frozen=True)
class RttMeasured:
    seconds: float


@dataclass(slots=True, frozen=True)
class ConnectionLost:
    reason: str
    at: float = field(default_factory=time.time)  # wall clock, for "lost at HH:MM"


ClientEvent = StateChanged | Welcomed | Received | Acked | Failed | RttMeasured | ConnectionLost


# -- the connection ------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Link:
    """One TCP connection that has been welcomed."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    framer: LineFramer
    backlog: list[bytes]  # lines that arrived in the same read as `welcome`


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verify the server against the system's trusted authorities, or only
    against `ca_file` (a PEM file) when one is given."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def describe_tls_error(exc: ssl.SSLError, host: str) -> str:
    """A certificate or handshake failure in plain words (the library's own
    words in brackets, for whoever has to fix the server)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or str(exc)
        code = exc.verify_code
        # OpenSSL's X509_V_ERR_* numbers: the ones a user can meet and act on.
        if code in (18, 19, 20, 21):  # self-signed, self-signed in chain, unknown issuer
            return (
                "the server's certificate is not signed by an authority this computer "
                f"trusts ({detail}); ask for the CA file and use --ca FILE"
            )
        if code == 10:
            return f"the server's certificate has expired ({detail})"
        if code == 9:
            return f"the server's certificate is not valid yet ({detail})"
        if code == 62 or "hostname" in detail.lower() or "ip address" in detail.lower():
            return f"the server's certificate is not for {host} ({detail})"
        return f"the server's certificate was refused ({detail})"
    reason = exc.reason or str(exc)
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNEXPECTED_EOF_WHILE_READING"):
        return (
            f"the server did not answer in TLS ({reason}); is it running without "
            "--tls-cert? Try without --tls"
        )
    return f"the TLS handshake failed ({reason})"


def describe_os_error(exc: BaseException) -> str:
    """A short human reason for a failed connect."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})" if exc.strerror else "unknown host"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


class ChatClient:
    """A connection to one server under one name.

    `join()` makes the first connection (one attempt, so the caller can show
    why it failed). `run()` then serves it, reconnecting by itself until
    `close()`. `say()`, `dm()`, `nick()` and `who()` never block: they queue,
    and the tasks inside `run()` write.
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_event: Callable[[ClientEvent], object],
        config: ClientConfig | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        # Kept in memory only, for reconnects; never logged or shown.
        self.password: str | None = None
        self.config = config or ClientConfig()
        self.name: str | None = None
        self.state = State.CLOSED
        self.rtt: float | None = None
        # Unacknowledged sends in the order they were typed; resent in order.
        self.pending: dict[str, Outgoing] = {}
        self._emit = on_event
        self._rng = rng or random.Random()
        self._clock = clock
        # A random token makes our ids unique per sender across restarts of
        # the client; the counter makes them unique within this run.
        self._id_prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._ping_ids = itertools.count(1)
        self._pings: dict[int, float] = {}
        self._link: _Link | None = None
        self._outbox: deque[Struct | Outgoing] = deque()
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._stopped = asyncio.Event()
        self._last_heard = 0.0
        self._running = False
        self._said_bye = False

    # -- public API ------------------------------------------------------

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def online(self) -> bool:
        """Connected, welcomed, and not on the way out."""
        return self.state is State.ONLINE and not self._closing.is_set()

    def new_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    async def join(self, name: str, password: str | None = None) -> Welcome:
        """Connect and say hello once; the welcome, or `JoinError` saying why not."""
        self.password = password
        self._set_state(State.CONNECTING, f"connecting to {self.address}")
        try:
            welcome, link = await self._open(name)
        except JoinError as exc:
            self._set_state(State.CLOSED, exc.message)
            raise
        self._adopt(welcome, link)
        return welcome

    async def run(self) -> None:
        """Serve the joined connection and reconnect after losses, until `close()`."""
        if self._link is None:
            raise RuntimeError("join() must succeed before run()")
        self._running = True
        try:
            while not self._closing.is_set():
                link = self._link
                if link is None:
                    link = await self._reconnect()
                    if link is None:
                        break
                reason = await self._serve(link)
                self._drop_link()
                if self._closing.is_set():
                    break
                self._set_state(State.OFFLINE, reason)
                self._emit(ConnectionLost(reason))
        finally:
            # Cancelled (the app is exiting some other way) or failed: still
            # say bye if we can, so others see a quit rather than a loss.
            self._say_bye()
            self._running = False
            self._drop_link()
            self._set_state(State.CLOSED, "disconnected")
            self._stopped.set()

    def say(self, text: str, *, action: bool = False) -> Outgoing:
        return self._submit(Outgoing(id=self.new_id(), text=text, action=action))

    def dm(self, to: str, text: str) -> Outgoing:
        return self._submit(Outgoing(id=self.new_id(), text=text, to=to))

    def nick(self, name: str) -> bool:
        """Ask for a new name; False when offline (nothing is queued)."""
        return self._send_now(Nick(name=name))

    def who(self) -> bool:
        return self._send_now(Who())

    def history(self, before: int | None, limit: int) -> bool:
        """Ask for up to `limit` messages older than `before` (the newest when
        None); the answer arrives as a `Received(HistoryReply)`."""
        frame = History(limit=limit) if before is None else History(before=before, limit=limit)
        return self._send_now(frame)

    async def close(self, reason: str | None = None) -> None:
        """Say `bye` and wait (at most `close_timeout`) for the server to hang
        up, which proves it got the bye; then stop `run()`."""
        if self._closing.is_set():
            return
        link = self._link
        self._say_bye(reason)
        self._closing.set()
        self._wake.set()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(self.config.close_timeout):
                if self._running:
                    await self._stopped.wait()  # run() ends at the server's EOF
                elif link is not None:
                    await link.writer.drain()
                    await link.reader.read()
        self._drop_link()  # after a timeout this also ends run(): its reader sees EOF
        if self._running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.close_timeout):
                    await self._stopped.wait()
        self._set_state(State.CLOSED, "disconnected")

    def _say_bye(self, reason: str | None = None) -> None:
        link = self._link
        if link is None or self._said_bye or not self.online:
            return
        self._said_bye = True
        # A plain write, no await: it goes out at once, ahead of any FIN,
        # even when called from a task that is being cancelled.
        with contextlib.suppress(OSError, RuntimeError):
            link.writer.write(encode(Bye(reason=reason) if reason else Bye()))

    # -- sending ---------------------------------------------------------

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
            self._outbox.append(out)
            self._wake.set()
        return out

    def _send_now(self, frame: Struct) -> bool:
        if not self.online:
            return False
        self._outbox.append(frame)
        self._wake.set()
        return True

    async def _writer(self, link: _Link) -> str:
        writer = link.writer
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closing.is_set():
                self._outbox.clear()  # nothing goes after bye
            while self._outbox:
                item = self._outbox.popleft()
                if isinstance(item, Outgoing):
                    if item.id not in self.pending:
                        continue  # answered meanwhile (an ack to an earlier copy)
                    item.written += 1
                    writer.write(encode(item.frame()))
                else:
                    writer.write(encode(item))
            await writer.drain()

    # -- receiving -------------------------------------------------------

    async def _reader(self, link: _Link) -> str:
        for line in link.backlog:
            self._handle_line(line)
        link.backlog = []
        while True:
            data = await link.reader.read(self.config.read_chunk)
            if not data:
                return "the server closed the connection"
            self._last_heard = self._clock()
            try:
                lines = link.framer.feed(data)
            except FrameTooLong as exc:
                for line in exc.lines:
                    self._handle_line(line)
                return f"the server sent a frame over {self.config.max_frame} bytes"
            for line in lines:
                self._handle_line(line)

    def _handle_line(self, line: bytes) -> None:
        try:
            frame = decode_server(line)
        except ProtocolError as exc:
            # Unknown types are a newer server talking; bad frames a broken one.
            # Neither is worth a reconnect.
            log.debug("ignoring server frame: %s", exc)
            return
        self._handle(frame)

    def _handle(self, frame: ServerFrame) -> None:
        match frame:
            case Ping(t=t):
                self._send_now(Pong(t=t))
            case Pong(t=t):
                sent = self._pings.pop(t, None) if isinstance(t, int) else None
                if sent is not None:
                    self.rtt = self._clock() - sent
                    self._emit(RttMeasured(self.rtt))
            case Ack(id=frame_id):
                out = self.pending.pop(frame_id, None)
                if out is not None:
                    out.status, out.seq, out.ts = SendStatus.SENT, frame.seq, frame.ts
                    self._emit(Acked(out))
            case Error(id=frame_id) if isinstance(frame_id, str) and frame_id in self.pending:
                out = self.pending.pop(frame_id)
                out.status = SendStatus.FAILED
                out.error_code, out.error_message = frame.code, frame.message
                self._emit(Failed(out))
            case Welcome():
                pass  # only valid as the answer to hello
            case Renamed(old=old, new=new):
                if self.name is not None and name_key(old) == name_key(self.name):
                    # Later reconnects must hello under the new name, or the
                    # server would not recognise our resent ids.
                    self.name = new
                self._emit(Received(frame))
            case _:
                self._emit(Received(frame))

    # -- heartbeat -------------------------------------------------------

    async def _heartbeat(self, link: _Link) -> str:
        cfg = self.config
        interval = cfg.first_ping
        while True:
            await asyncio.sleep(interval)
            interval = cfg.ping_interval
            if self._closing.is_set():
                continue  # waiting for the server to hang up after our bye
            silent = self._clock() - self._last_heard
            if silent >= cfg.dead_after:
                return f"no answer from the server for {silent:.0f} s"
            ping_id = next(self._ping_ids)
            self._pings = {k: v for k, v in self._pings.items() if k > ping_id - 10}
            self._pings[ping_id] = self._clock()
            self._send_now(Ping(t=ping_id))

    # -- connection lifecycle --------------------------------------------

    async def _open(self, name: str) -> tuple[Welcome, _Link]:
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None,
                )
        except ssl.SSLError as exc:
            why = describe_tls_error(exc, self.host)
            raise JoinError(
                TLS_FAILED, f"cannot connect securely to {self.address}: {why}", brief=why
            ) from None
        except (OSError, TimeoutError) as exc:
            why = describe_os_error(exc)
            hint = ". Is the server running?" if isinstance(exc, ConnectionRefusedError) else ""
            raise JoinError(
                UNREACHABLE, f"cannot reach {self.address}: {why}{hint}", brief=why
            ) from None
        framer = LineFramer(cfg.max_frame)
        try:
            hello = Hello(
                name=name,
                proto=PROTO_VERSION,
                client=CLIENT_ID,
                password=self.password if self.password is not None else UNSET,
            )
            writer.write(encode(hello))
            async with asyncio.timeout(cfg.hello_timeout):
                await writer.drain()
                while True:
                    data = await reader.read(cfg.read_chunk)
                    if not data:
                        # A TLS server hangs up on a plain hello at once.
                        hint = "; if it uses TLS, start with --tls" if self.tls is None else ""
                        raise JoinError(CLOSED, f"the server closed the connection{hint}")
                    lines = framer.feed(data)
                    for i, line in enumerate(lines):
                        try:
                            frame = decode_server(line)
                        except ProtocolError:
                            continue
                        if isinstance(frame, Welcome):
                            return frame, _Link(reader, writer, framer, lines[i + 1 :])
                        if isinstance(frame, Error):
                            raise JoinError(frame.code, frame.message)
                        if isinstance(frame, Ping):
                            writer.write(encode(Pong(t=frame.t)))
        except TimeoutError:
            writer.close()
            raise JoinError(CLOSED, "the server did not answer hello in time") from None
        except FrameTooLong:
            writer.close()
            raise JoinError(CLOSED, "the server sent a frame that is too long") from None
        except OSError as exc:
            writer.close()
            raise JoinError(CLOSED, f"connection failed: {describe_os_error(exc)}") from None
        except JoinError:
            writer.close()
            raise

    def _adopt(self, welcome: Welcome, link: _Link) -> tuple[int, int]:
        """Make a welcomed link current and queue every unacknowledged send on it."""
        self.name = welcome.name
        self._link = link
        self._last_heard = self._clock()
        self._pings.clear()
        resent = sum(1 for out in self.pending.values() if out.written)
        queued = len(self.pending) - resent
        # Frames queued for the old connection (pongs, pings, nicks) are stale.
        self._outbox = deque(self.pending.values())
        self._set_state(State.ONLINE, f"connected to {self.address}")
        self._wake.set()
        return resent, queued

    def _drop_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.writer.close()

    async def _serve(self, link: _Link) -> str:
        """Run reader, writer and heartbeat until one of them ends; say why."""
        tasks = [
            asyncio.create_task(self._reader(link)),
            asyncio.create_task(self._writer(link)),
            asyncio.create_task(self._heartbeat(link)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        reasons = [r for r in results if isinstance(r, str)]
        failures = [r for r in results if isinstance(r, OSError)]
        if failures:
            return f"connection failed: {describe_os_error(failures[0])}"
        unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, OSError)]
        if unexpected:
            raise unexpected[0]
        return reasons[0] if reasons else "connection closed"

    def backoff(self, attempt: int) -> float:
        """Seconds before reconnect attempt `attempt` (0-based): exponential,
        capped, with jitter so that many clients do not return in step."""
        cfg = self.config
        ceiling = min(cfg.backoff_max, cfg.backoff_base * (2 ** min(attempt, 30)))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def _reconnect(self) -> _Link | None:
        """Try again until welcomed or closed; None when closed."""
        assert self.name is not None
        last_error = ""
        for attempt in itertools.count():
            delay = self.backoff(attempt)
            waiting = f"retrying in {delay:.1f} s"
            detail = f"{last_error}; {waiting}" if last_error else waiting
            self._set_state(State.OFFLINE, detail, retry_in=delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
            if self._closing.is_set():
                return None
            self._set_state(State.CONNECTING, f"reconnecting to {self.address}")
            try:
                welcome, link = await self._open(self.name)
            except JoinError as exc:
                # name_taken here is usually our own ghost: the server has not
                # yet noticed that the old connection died. Waiting fixes it.
                log.info("reconnect attempt %d failed: %s", attempt + 1, exc)
                last_error = exc.brief
                continue
            if self._closing.is_set():
                link.writer.close()
                return None
            resent, queued = self._adopt(welcome, link)
            self._emit(Welcomed(welcome, reconnect=True, resent=resent, queued=queued))
            return link
        return None  # pragma: no cover - itertools.count() never ends

    def _set_state(self, state: State, detail: str = "", retry_in: float | None = None) -> None:
        self.state = state
        self._emit(StateChanged(state, detail, retry_in))


__all__ = [
    "CLOSED",
    "TLS_FAILED",
    "UNREACHABLE",
    "Acked",
    "ChatClient",
    "ClientEvent",
    "ConnectionLost",
    "ErrorCode",
    "Failed",
    "JoinError",
    "Outgoing",
    "Received",
    "RttMeasured",
    "SendStatus",
    "State",
    "StateChanged",
    "Welcomed",
]
