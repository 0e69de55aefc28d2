"""One peer on the wire: framing, a bounded and batched writer, the heartbeat
and the close/leave lifecycle. What the lines mean is left to a handler
(`requests.JsonHandler` or `textmode.TextHandler`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from conexion_protocol import (
    Error,
    ErrorCode,
    FrameTooLong,
    LeftReason,
    LineFramer,
    Ping,
    ProtocolError,
    Struct,
    Welcome,
    encode,
)

from .backplane import Maybe
from .guard import password_ok
from .hub import Member, Outbound

if TYPE_CHECKING:
    from .server import ChatServer

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a closing connection may take to flush its last bytes before it is
# cut; a peer that stopped reading must not keep a socket alive.
LINGER_SECONDS = 5.0


class Handler(Protocol):
    json: bool

    def handle(self, line: bytes) -> None: ...

    def too_long(self) -> bytes: ...

    def welcome(self, welcome: Welcome) -> None: ...


class Connection(asyncio.Protocol):
    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.config = server.config
        self.loop = asyncio.get_running_loop()
        self.framer = LineFramer(self.config.max_frame)
        self.transport: asyncio.Transport | None = None
        self.handler: Handler | None = None
        self.member: Member | None = None
        self.peer = "?"
        self.address = "?"  # the peer's IP address, the unit of per-address limits
        self._admitted = False
        self.closing = False
        self.ending = False  # a close is held behind a commit; read no more
        self.reason = LeftReason.LOST
        self._out: list[bytes] = []
        self._out_size = 0
        # What the transport still held when this turn's first frame was
        # queued. It can only shrink before our flush, so checking the bound
        # against it errs on the safe side and saves a call per frame.
        self._buffered = 0
        self._max_output = self.config.max_output
        # The turn's room broadcasts (server.stream) reach this peer at flush
        # time: from `stream_from` on, minus its own (`_own`), with each of
        # its own frames put back where it was queued (`_marks`: the stream's
        # length then).
        self.stream_from = 0
        self._marks: list[int] = []
        self._own: list[int] = []
        self.last_heard = self.loop.time()
        self._pinged = False
        self._timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._hello_timer: asyncio.TimerHandle | None = None
        # While a wrong password's answer is held back, reading is paused and
        # lines already read wait here (at most one read's worth).
        self._hold: asyncio.TimerHandle | None = None
        self._held: list[bytes] = []
        # TLS: the handshake runs on the raw transport before anything else.
        self._handshake: asyncio.Task[None] | None = None
        self._early = bytearray()  # bytes that came before the handshake was done
        self._lost = False
        # A request the backplane answers later (a cluster): until it is done,
        # reading is paused and lines already read wait in `_held`, so that
        # requests are answered in the order they came.
        self._busy: asyncio.Task[None] | None = None
        self._eof = False  # the peer half-closed while lines were waiting
        self._too_long = False  # a line over the limit came while lines were waiting
        # What must reach this peer after the answer to its current request
        # (a DM to oneself comes after its ack).
        self._after: list[Callable[[], None]] = []

    # -- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not an asyncio.Transport subclass).
        self.transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        if peername:
            self.address = peername[0]
            self.peer = (
                f"[{peername[0]}]:{peername[1]}"
                if ":" in peername[0]
                else (f"{peername[0]}:{peername[1]}")
            )
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune_socket(sock)
        self.server.connections.add(self)
        # Counted from the first moment, TLS handshake included, so that
        # handshakes cannot be used to get around the cap.
        self._admitted = self.server.admit(self.address)
        self._hello_timer = self.loop.call_later(self.config.hello_timeout, self._hello_expired)
        context = self.server.tls
        if context is not None:
            # Not a byte for the plain protocol: the ClientHello must wait for
            # `start_tls`, which resumes reading (uvloop reads at once).
            self.transport.pause_reading()
            self._handshake = self.loop.create_task(self._start_tls(self.transport, context))
            return
        self._ready()

    async def _start_tls(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        """Wrap the raw transport in TLS; log and drop the peer if that fails.

        Done here rather than with `create_server(ssl=...)` because asyncio
        drops failed handshakes silently, and an operator wants to see a
        plain-TCP client (an `nc` without `openssl s_client`) in the log.
        """
        failed = False
        try:
            wrapped = await self.loop.start_tls(
                raw,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self.config.hello_timeout,
            )
        except (OSError, TimeoutError, EOFError) as exc:
            if isinstance(exc, ssl.SSLError) and exc.reason:
                why = exc.reason
            elif isinstance(exc, TimeoutError):
                why = "timed out"
            else:
                why = str(exc) or f"{type(exc).__name__}: the peer hung up"
            log.info("%s: TLS handshake failed (%s); closing", self.peer, why)
            wrapped, failed = None, True
        finally:
            self._handshake = None
        if wrapped is None and not self.closing and not failed:
            log.info("%s: TLS handshake failed (the peer hung up); closing", self.peer)
        if wrapped is None or self.closing:
            # Lost during the handshake (or stopped meanwhile).
            raw.abort()
            self.connection_lost(None)
            return
        self.transport = wrapped
        self._ready()
        early, self._early = bytes(self._early), bytearray()
        if early:
            self.data_received(early)

    def _ready(self) -> None:
        """The byte stream is usable (after TLS, if any): apply the cap, start
        the heartbeat."""
        if not self._admitted:
            # The mode is not known yet, so the refusal is a JSON error frame:
            # one line that a JSON client parses and a person can read.
            limit = self.config.max_per_address
            log.warning("%s: over %d connections from one address; refusing", self.peer, limit)
            refusal = Error(
                code=ErrorCode.SERVER_FULL,
                message=f"too many connections from your address (the limit is {limit})",
            )
            self.close(LeftReason.ERROR, encode(refusal))
            return
        self._arm_timer(self.config.idle_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.ending or self._too_long:
            return
        if self._handshake is not None:
            # TLS can hand over the first bytes before `start_tls` returns the
            # wrapped transport; they wait, so that a pause or a reply never
            # goes to the raw socket underneath.
            self._early += data
            return
        self.last_heard = self.loop.time()
        if self._pinged:
            # The answer to our ping. The timer waits for the idle deadline;
            # the next ping is due sooner, `ping_after` from now.
            self._pinged = False
            self._rearm(self.config.ping_after)
        if self.handler is None and data:
            self._choose_handler(data[:1])
        try:
            lines = self.framer.feed(data)
        except FrameTooLong as exc:
            self._handle_lines(exc.lines)
            if self._busy is not None or self._hold is not None:
                # Lines before the long one still wait for their answers;
                # the refusal comes after them (see `_resume`).
                self._too_long = True
                self.transport.pause_reading()  # type: ignore[union-attr]
            else:
                self._refuse_too_long()
            return
        self._handle_lines(lines)

    def _refuse_too_long(self) -> None:
        if not self.closing and self.handler is not None:
            log.info("%s sent a line over %d bytes; closing", self.peer, self.framer.max_line)
            self.close(LeftReason.ERROR, self.handler.too_long())

    def eof_received(self) -> bool | None:
        # The peer has nothing more to say (a dropped `nc`, or a script that
        # piped its lines in): answer what it sent, then close.
        if self._busy is not None or self._hold is not None:
            self._eof = True  # after the waiting lines are answered
            return True
        self.close(self.reason)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return  # a failed TLS handshake can report its loss twice
        self._lost = True
        for timer in (self._timer, self._linger, self._hello_timer, self._hold):
            if timer is not None:
                timer.cancel()
        self._held.clear()
        if self._admitted:
            self._admitted = False
            self.server.release(self.address)
        self.closing = True
        self._out.clear()
        self._leave(self.reason)
        self.server.forget(self)

    # -- lines in -----------------------------------------------------------

    def _choose_handler(self, first_byte: bytes) -> None:
        # The protocol's rule: a connection whose first line starts with `{`
        # speaks JSON; anything else is a plain-text session.
        from .requests import JsonHandler
        from .textmode import TextHandler

        if first_byte == b"{":
            self.handler = JsonHandler(self)
            self._rearm(self.config.ping_after)  # JSON peers are pinged sooner
        else:
            self.handler = TextHandler(self)

    def _handle_lines(self, lines: list[bytes]) -> None:
        handler = self.handler
        assert handler is not None or not lines
        for i, line in enumerate(lines):
            if self.closing or self.ending:
                break
            if self._hold is not None or self._busy is not None:
                # A wrong password's backoff, or an answer still to come:
                # keep the rest for later.
                self._held.extend(lines[i:])
                break
            handler.handle(line)  # type: ignore[union-attr]
        if self.server.gate is not None:
            # Even a send whose answer had nowhere to go must get committed.
            self.server.gate.kick()

    # -- the shared password --------------------------------------------------

    def authenticate(self, given: str | None) -> bool:
        """True when no password is needed or `given` is right.

        A wrong one is counted against the peer's address, and everything
        this connection would send next (the caller's refusal first) is held
        back for the backoff delay while its input is paused; other peers
        are not affected.
        """
        server = self.server
        if self.config.password is None:
            return True
        if password_ok(self.config.password, given):
            server.backoff.succeeded(self.address)
            return True
        delay = server.backoff.failed(self.address)
        # Never log the attempt itself: it may be a real password mistyped.
        log.info(
            "%s: wrong password (%d in a row from this address); answering in %.1f s",
            self.peer,
            server.backoff.failures(self.address),
            delay,
        )
        if delay > 0:
            self._hold_back(delay)
        return False

    def _hold_back(self, delay: float) -> None:
        assert self.transport is not None
        if self._hold is not None:
            self._hold.cancel()
        self.transport.pause_reading()
        self._hold = self.loop.call_later(delay, self._release)

    def _release(self) -> None:
        self._hold = None
        if self.closing or self.transport is None:
            return
        if self._out:
            self.server.mark_dirty(self)
        self._resume()

    def _resume(self) -> None:
        """Go on with the lines that waited, then read again."""
        assert self.transport is not None
        held, self._held = self._held, []
        self._handle_lines(held)
        if self.closing or self.ending or self._busy is not None or self._hold is not None:
            return  # still waiting (or done); the next release comes back here
        if self._too_long:
            self._refuse_too_long()
        elif self._eof:
            self.close(self.reason)
        else:
            self.transport.resume_reading()

    # -- answers that come later (a cluster) ---------------------------------

    def then(
        self,
        answer: Maybe[T],
        on_answer: Callable[[T], None],
        on_refusal: Callable[[ProtocolError], None],
    ) -> None:
        """Pass the backplane's `answer` to `on_answer`: at once for a value,
        or when an awaitable is done, holding this peer's later lines until
        then. A refusal that comes later goes to `on_refusal`."""
        if not isinstance(answer, CoroutineType):
            on_answer(answer)  # type: ignore[arg-type]
            if self._after:
                self._run_after()
            return
        assert self.transport is not None
        assert self._busy is None
        self.transport.pause_reading()
        self._busy = self.loop.create_task(self._await(answer, on_answer, on_refusal))

    @property
    def awaiting_answer(self) -> bool:
        """A request of this peer's is with the backplane (a cluster's Redis)."""
        return self._busy is not None

    def after_answer(self, action: Callable[[], None]) -> None:
        """Run `action` once the request being served has been answered."""
        self._after.append(action)

    def _run_after(self) -> None:
        after, self._after = self._after, []
        for action in after:
            action()

    async def _await(
        self,
        answer: Coroutine[object, object, T],
        on_answer: Callable[[T], None],
        on_refusal: Callable[[ProtocolError], None],
    ) -> None:
        try:
            value = await answer
        except ProtocolError as exc:
            if not self.closing:
                on_refusal(exc)
        except Exception:
            log.exception("%s (%s): a request failed", self.peer, self._who())
            if not self.closing:
                on_refusal(ProtocolError(ErrorCode.SERVER_FULL, "the server failed; try again"))
        else:
            if not self.closing:
                on_answer(value)
        finally:
            self._busy = None
            self._run_after()
        if not self.closing and self._hold is None:
            self._resume()

    def _hello_expired(self) -> None:
        self._hello_timer = None
        if self.closing or self.member is not None:
            return
        if self._handshake is not None:
            log.info(
                "%s: TLS handshake not finished within %.0f s (a plain-TCP client?); closing",
                self.peer,
                self.config.hello_timeout,
            )
            self.abort(LeftReason.TIMEOUT)
            return
        log.info("%s did not join within %.0f s; closing", self.peer, self.config.hello_timeout)
        if self.handler is None or self.handler.json:
            final = b""  # JSON peers see the close; nothing else is owed
        else:
            final = b"! no name given in time; bye\n"
        self.close(LeftReason.TIMEOUT, final)

    # -- bytes out ----------------------------------------------------------

    def deliver(self, out: Outbound) -> None:
        """Queue a broadcast in this peer's wire format. Called by the server
        once the broadcast may go out (after its commit), so it is not held
        again here."""
        handler = self.handler
        if handler is not None and not self.closing:
            data = out.json if handler.json else out.text
            if data:
                self._queue(data)

    def send_frame(self, frame: Struct) -> None:
        self.send(encode(frame))

    def send_error(self, error: ProtocolError) -> None:
        assert self.handler is not None
        if self.handler.json:
            self.send_frame(error.to_frame())
        else:
            self.send(f"! {error.message}\n".encode())

    @property
    def queued(self) -> int:
        """Bytes waiting for this peer: queued here plus the transport's buffer."""
        buffered = self.transport.get_write_buffer_size() if self.transport is not None else 0
        return self._out_size + buffered

    def send(self, data: bytes) -> None:
        """Queue bytes; they are written together at the end of this loop turn,
        or, while a commit is pending, once it is done."""
        if self.closing or not data:
            return
        if self.server.defer(lambda: self._queue(data)):
            return
        self._queue(data)

    def _queue(self, data: bytes) -> None:
        # The fan-out's inner loop: once per frame per receiver.
        if self.closing:
            return
        out = self._out
        if not out:
            self.server.mark_dirty(self)
            self._buffered = self.transport.get_write_buffer_size()  # type: ignore[union-attr]
        out.append(data)
        self._marks.append(len(self.server.stream))
        self._out_size += len(data)
        if self._out_size + self._buffered > self._max_output:
            log.warning("%s (%s) is not reading; dropping it as slow", self.peer, self._who())
            self.abort(LeftReason.SLOW)

    def skip_own(self, index: int) -> None:
        """The turn's broadcast `index` is this peer's own message."""
        self._own.append(index)

    def flush(self) -> None:
        """Write this peer's frames and the turn's broadcasts, in one write."""
        if self._hold is not None:
            return  # released later by `_release`
        stream, start, member = self.server.stream, self.stream_from, self.member
        end = len(stream)
        if member is not None and start < end:
            start = max(start, stream.first_after(member.since))
        pieces: list[bytes] | list[bytes | memoryview] = self._out
        if member is not None and start < end:
            json = self.handler is None or self.handler.json
            pieces = []
            for data, mark in zip(self._out, self._marks, strict=True):
                if mark > start:
                    pieces += stream.slices(start, mark, self._own, json)
                    start = mark
                pieces.append(data)
            pieces += stream.slices(start, end, self._own, json)
            self.stream_from = end  # a flush mid-turn (a close) does not repeat these
        transport = self.transport
        if pieces and transport is not None and not transport.is_closing():
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if transport.get_write_buffer_size() + len(data) > self._max_output:
                log.warning("%s (%s) is not reading; dropping it as slow", self.peer, self._who())
                self.abort(LeftReason.SLOW)
            else:
                transport.write(data)
        self._out.clear()
        self._marks.clear()
        self._own.clear()
        self._out_size = 0

    # -- lifecycle ------------------------------------------------------------

    def close(self, reason: LeftReason, final: bytes = b"") -> None:
        """Leave the chat, flush what is queued (and `final`), then close.

        While a commit is pending the whole close waits for it, so that the
        acks held for this peer still go out before the connection ends.
        """
        if self.closing or self.ending:
            return
        if self._handshake is not None:
            self.abort(reason)  # nothing can be said before TLS is up
            return
        if self.server.defer(lambda: self._close(reason, final)):
            self.ending = True
            return
        self._close(reason, final)

    def _close(self, reason: LeftReason, final: bytes) -> None:
        if self.closing:
            return
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        if final:
            self._queue(final)  # not `send`: this runs in order, already released
        self.flush()
        self.closing = True
        self.reason = reason
        self._leave(reason)
        transport = self.transport
        assert transport is not None
        if transport.can_write_eof():
            # Half-close and keep reading (and discarding) until the peer hangs
            # up: closing a socket with unread input makes the kernel send RST,
            # which can destroy our last words (a `too_long` error, say) before
            # a peer that is still sending reads them.
            try:
                transport.write_eof()
            except OSError:  # the peer is gone already; nothing left to say
                transport.abort()
                return
        else:
            transport.close()
        self._linger = self.loop.call_later(LINGER_SECONDS, transport.abort)

    def abort(self, reason: LeftReason) -> None:
        """Cut the connection at once, discarding anything unsent."""
        if self.closing:
            return
        self.closing = True
        self.reason = reason
        self._out.clear()
        self._marks.clear()
        self._own.clear()
        self._out_size = 0
        assert self.transport is not None
        self.transport.abort()

    def welcomed(self, member: Member, welcome: Welcome) -> None:
        """`member` has joined: send the welcome before anything else it hears."""
        self.joined(member)
        assert self.handler is not None
        self.handler.welcome(welcome)

    def joined(self, member: Member) -> None:
        self.member = member
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        log.info("%s joined from %s", member.name, self.peer)

    def _leave(self, reason: LeftReason) -> None:
        member, self.member = self.member, None
        if member is None:
            return
        log.info("%s left (%s) from %s", member.name, reason, self.peer)
        self.server.backplane.leave(member, reason)

    def _who(self) -> str:
        return self.member.name if self.member else "not joined"

    # -- heartbeat ----------------------------------------------------------
    # One timer per connection, re-armed lazily: traffic only updates
    # `last_heard`, and the timer, when it fires, works out what is due.

    def _arm_timer(self, delay: float) -> None:
        self._timer = self.loop.call_at(self.last_heard + delay, self._on_timer)

    def _rearm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._arm_timer(delay)

    def _on_timer(self) -> None:
        self._timer = None
        if self.closing:
            return
        cfg = self.config
        json = self.handler is not None and self.handler.json
        if not json and self.member is not None:
            return  # joined plain-text users cannot answer pings; TCP keepalive finds them
        idle = self.loop.time() - self.last_heard
        if idle >= cfg.idle_timeout:
            log.info("%s (%s) silent for %.0f s; closing", self.peer, self._who(), idle)
            final = b"" if json or self.handler is None else b"! no name given in time; bye\n"
            self.close(LeftReason.TIMEOUT, final)
            return
        if json and idle >= cfg.ping_after and not self._pinged:
            self._pinged = True
            self.send_frame(Ping(t=int(self.loop.time() * 1000)))
        self._arm_timer(cfg.ping_after if json and not self._pinged else cfg.idle_timeout)


def _tune_socket(sock: socket.socket) -> None:
    """Low latency for small frames; keepalive so dead plain-text peers are found."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 15)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4)
    except OSError:  # not every socket family supports every option
        pass
