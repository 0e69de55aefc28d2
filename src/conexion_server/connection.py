"""The asyncio driver of one peer's session: the transport and its TLS
handshake, the session's timers, a bounded output queue flushed once per
loop turn with the turn's broadcasts, and the close. What the bytes mean is
the session's business (`session.py`); this module only moves them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, cast

from conexion_protocol import LeftReason

from . import refusals
from .backplane import Backplane
from .config import ServerConfig
from .fanout import JSON, Reading, TurnFanout, interleave
from .guard import FailureBackoff, LogThrottle
from .hub import Audience
from .session import Session

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A")


class Host(Protocol):
    """What a connection needs from the server that accepted it."""

    config: ServerConfig
    backplane: Backplane
    backoff: FailureBackoff
    quiet: LogThrottle  # for log lines an attacker can repeat
    tls: ssl.SSLContext | None
    fanout: TurnFanout  # this loop turn's room broadcasts
    # Where every connection's reads land, one after another: a read is
    # handed on (and copied into the session's framer) before the next one.
    read_buffer: memoryview

    def admit(self, address: str) -> bool:
        """Count a connection from `address`; False when it is one too many."""
        ...

    def turned_away(self, conn: Connection) -> None:
        """`conn` was over its address's limit (for the log)."""
        ...

    def release(self, address: str) -> None: ...

    def opened(self, conn: Connection) -> None: ...

    def forget(self, conn: Connection) -> None: ...

    def defer(self, action: Callable[[A], None], arg: A) -> bool:
        """Hold `action(arg)` behind the pending commit; False: act now."""
        ...

    def mark_dirty(self, conn: Connection) -> None:
        """`conn` has output to flush at the end of this loop turn."""
        ...

    def kick_commit(self) -> None:
        """Lines were served: commit what they stored."""
        ...


class Connection(asyncio.BufferedProtocol):
    def __init__(self, host: Host, *, tls: ssl.SSLContext | None = None, irc: bool = False) -> None:
        self.host = host
        self._tls = tls  # this listener's TLS, if it speaks TLS
        self.config = host.config
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.address = "?"  # the peer's IP address, the unit of per-address limits
        self.session = Session(
            self,
            host.backplane,
            host.config,
            host.backoff,
            clock=self.loop.time,
            quiet=host.quiet,
            irc=irc,
        )
        self._admitted = False
        self._closed = False  # the transport is closed or aborted: nothing more goes out
        self._out: list[bytes] = []
        self._out_size = 0
        # Sends of this peer held behind a pending commit: while there are
        # any, even an urgent send waits its turn, so frames keep their order.
        self._held_out = 0
        # What the transport still held when this turn's first frame was
        # queued. It can only shrink before our flush, so checking the bound
        # against it errs on the safe side and saves a call per frame.
        self._buffered = 0
        self._max_output = self.config.max_output
        # The turn's room broadcasts (host.fanout) reach this peer at flush
        # time: in each audience it hears, from where it read up to (`read`)
        # on, minus its own messages (`_own`), with each of its own frames put
        # back where it was queued (`_marks`: how many broadcasts the turn
        # had made by then).
        self.read: dict[Audience, int] = {}
        self._marks: list[int] = []
        self._own: dict[Audience, list[int]] = {}
        self._timer: asyncio.TimerHandle | None = None  # the session's deadline
        self._hold: asyncio.TimerHandle | None = None  # a wrong password's backoff
        self._linger: asyncio.TimerHandle | None = None  # a closing socket's last chance
        # TLS: the handshake runs on the raw transport before anything else.
        self._handshake: asyncio.Task[None] | None = None
        self._early = bytearray()  # bytes that came before the handshake was done
        self._lost = False
        # Reading stopped by the server (too much waits for a commit), apart
        # from the session's own pauses, which `_paused` remembers.
        self._throttled = False
        self._paused = False

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
        session = self.session
        session.peer, session.address = self.peer, self.address
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune_socket(sock, self.config)
        self.host.opened(self)
        # Counted from the first moment, TLS handshake included, so that
        # handshakes cannot be used to get around the cap.
        self._admitted = self.host.admit(self.address)
        context = self._tls
        if not self._admitted:
            self._turn_away(tls=context is not None)
            return
        session.connected(tls=context is not None)
        if context is not None:
            # Not a byte for the plain protocol: the ClientHello must wait for
            # `start_tls`, which resumes reading (uvloop reads at once).
            self.transport.pause_reading()
            self._handshake = self.loop.create_task(self._start_tls(self.transport, context))

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
            self.session.note("handshake", "%s: TLS handshake failed (%s); closing", self.peer, why)
            wrapped, failed = None, True
        finally:
            self._handshake = None
        if wrapped is None and not self._closed and not failed:
            self.session.note(
                "handshake", "%s: TLS handshake failed (the peer hung up); closing", self.peer
            )
        if wrapped is None or self._closed:
            # Lost during the handshake (or stopped meanwhile).
            raw.abort()
            self.connection_lost(None)
            return
        self.transport = wrapped
        self.session.secured()
        early, self._early = bytes(self._early), bytearray()
        if early:
            self.data_received(early)

    def _turn_away(self, *, tls: bool) -> None:
        """Over the per-address limit: refused and closed at once, before any
        TLS handshake, so that one address never holds more sockets than its
        limit, however it behaves."""
        self.host.turned_away(self)
        words = self.session.turned_away(
            refusals.too_many_from_address(self.config.max_per_address)
        )
        self._closed = True
        transport = self.transport
        assert transport is not None
        if tls:
            transport.abort()  # nothing can be said before TLS is up
            return
        transport.write(words)
        transport.close()  # no linger: the words go out or not, the socket goes now

    def get_buffer(self, sizehint: int) -> memoryview:
        # One buffer for the whole server instead of the new bytes object
        # per read that a plain Protocol gets (asyncio asks for 256 KiB,
        # which the allocator may map and unmap on every read).
        return self.host.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.host.read_buffer[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        """`data` may be a view of the shared buffer: nothing keeps it."""
        if self._closed:
            return
        if self._handshake is not None:
            # TLS can hand over the first bytes before `start_tls` returns the
            # wrapped transport; they wait, so that a pause or a reply never
            # goes to the raw socket underneath.
            self._early += data
            return
        self.session.data_received(data)
        # Even a send whose answer had nowhere to go must get committed.
        self.host.kick_commit()
        if not self._throttled and self.host.too_much_uncommitted():
            self._throttle()

    def _throttle(self) -> None:
        gate = self.host.gate
        if gate is None or self.transport is None or self._closed:
            return
        self._throttled = True
        self.transport.pause_reading()
        gate.throttle(self._unthrottle)

    def _unthrottle(self) -> None:
        self._throttled = False
        if not self._closed and self.transport is not None and not self._paused:
            self.transport.resume_reading()

    def eof_received(self) -> bool | None:
        return True if self.session.eof_received() else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return  # a failed TLS handshake can report its loss twice
        self._lost = True
        self._closed = True
        for timer in (self._timer, self._linger, self._hold):
            if timer is not None:
                timer.cancel()
        if self._admitted:
            self._admitted = False
            self.host.release(self.address)
        self._discard_output()
        self.session.lost()
        self.host.forget(self)

    # -- PeerIO: what the session asks for ----------------------------------------

    def send(self, data: bytes, *, urgent: bool = False) -> None:
        """Queue bytes; they are written together at the end of this loop turn,
        or, while a commit is pending, once it is done. `urgent` bytes depend
        on no commit: they are queued at once (where the slow-peer bound
        applies) unless earlier output of this peer is held."""
        if urgent and not self._held_out:
            self._queue(data)
            return
        if self.host.defer(self._held_send, data):
            self._held_out += 1
            return
        self._queue(data)

    def _held_send(self, data: bytes) -> None:
        self._held_out -= 1
        self._queue(data)

    def deliver(self, data: bytes) -> None:
        """Queue a broadcast that its commit has already released."""
        self._queue(data)

    def pause_reading(self) -> None:
        assert self.transport is not None
        self._paused = True
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        assert self.transport is not None
        self._paused = False
        if not self._throttled:
            self.transport.resume_reading()

    def set_timer(self, when: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None if when is None else self.loop.call_at(when, self._on_timer)

    def next_turn(self) -> None:
        self.loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        if self._closed:
            return
        gate = self.host.gate
        if gate is not None and self.host.too_much_uncommitted():
            # The lines already read wait too, not only the socket: a peer's
            # read holds thousands, and serving them a share per turn would
            # let a batch grow far past the bound, and its commit with it.
            gate.throttle(self.next_turn)
            self.host.kick_commit()  # the commit that resumes it is under way
            return
        self.session.resume_turn()
        self.host.kick_commit()

    def hold(self, delay: float) -> None:
        if self._hold is not None:
            self._hold.cancel()
        self._hold = self.loop.call_later(delay, self._release)

    def wait_for(self, answer: Awaitable[T], done: Callable[[T | BaseException], None]) -> None:
        self.loop.create_task(self._await(answer, done))

    def close(self, reason: LeftReason, final: bytes) -> None:
        """Flush what is queued (and `final`), then close. While a commit is
        pending the whole close waits for it, so that the acks held for this
        peer still go out before the connection ends."""
        if self._handshake is not None:
            self.session.abort(reason)
            return
        if self.host.defer(self._held_close, (reason, final)):
            self._held_out += 1  # nothing may overtake the close
            return
        self._close(reason, final)

    def _held_close(self, args: tuple[LeftReason, bytes]) -> None:
        self._close(*args)

    def abort(self) -> None:
        """Cut the connection at once, discarding anything unsent."""
        if self._closed:
            return
        self._closed = True
        self._discard_output()
        assert self.transport is not None
        self.transport.abort()

    # -- timers and answers -------------------------------------------------------

    def _on_timer(self) -> None:
        self._timer = None
        if not self._closed:
            when = self.session.on_timer(self.loop.time())
            if when is not None and self._timer is None and not self._closed:
                self._timer = self.loop.call_at(when, self._on_timer)

    def _release(self) -> None:
        self._hold = None
        if self._closed or self.transport is None:
            return
        if self._out:
            self.host.mark_dirty(self)
        self.session.release()
        self.host.kick_commit()

    async def _await(self, answer: Awaitable[T], done: Callable[[T | BaseException], None]) -> None:
        try:
            outcome: T | BaseException = await answer
        except Exception as exc:
            outcome = exc
        done(outcome)
        self.host.kick_commit()

    # -- bytes out ----------------------------------------------------------

    @property
    def queued(self) -> int:
        """Bytes waiting for this peer: queued here plus the transport's buffer."""
        buffered = self.transport.get_write_buffer_size() if self.transport is not None else 0
        return self._out_size + buffered

    def _queue(self, data: bytes) -> None:
        # The fan-out's inner loop: once per frame per receiver.
        if self._closed:
            return
        out = self._out
        if not out:
            self.host.mark_dirty(self)
            self._buffered = self.transport.get_write_buffer_size()  # type: ignore[union-attr]
        out.append(data)
        self._marks.append(self.host.fanout.count)
        self._out_size += len(data)
        if self._out_size + self._buffered > self._max_output:
            self._too_slow()

    def skip_own(self, audience: Audience, index: int) -> None:
        """Broadcast `index` of `audience`'s stream is this peer's own message."""
        own = self._own.get(audience)
        if own is None:
            self._own[audience] = [index]
        else:
            own.append(index)

    def flush(self) -> None:
        """Write this peer's frames and the turn's broadcasts, in one write."""
        session = self.session
        if session.holding_output:
            return  # released later by `_release`
        pieces: list[bytes] | list[bytes | memoryview] = self._out
        member = session.member
        fanout = self.host.fanout
        if member is not None and fanout:
            readings = self._readings(member.hears, fanout)
            if readings:
                pieces = interleave(readings, self._out, self._marks)
        transport = self.transport
        if pieces and transport is not None and not transport.is_closing():
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            # A peer that has taken everything so far is not slow, even if
            # this flush is a whole commit's worth of broadcasts (which
            # max_uncommitted bounds); one that still holds output may not
            # pass the bound.
            buffered = transport.get_write_buffer_size()
            if buffered and buffered + len(data) > self._max_output:
                self._too_slow()
            else:
                transport.write(data)
        self._out.clear()
        self._marks.clear()
        self._own.clear()
        self._out_size = 0

    def _readings(self, hears: dict[Audience, int], fanout: TurnFanout) -> list[Reading]:
        """Where this peer reads in each audience stream it hears this turn."""
        streams = fanout.streams
        # Whichever is shorter: a member of many quiet rooms, or a busy
        # server's few streams.
        heard = (
            [(a, hears[a]) for a in streams if a in hears]
            if len(streams) < len(hears)
            else [(a, since) for a, since in hears.items() if a in streams]
        )
        readings = []
        handler = self.session.handler
        for audience, since in heard:
            stream = streams[audience]
            end = len(stream)
            start = max(self.read.get(audience, 0), stream.first_after(since))
            if start >= end:
                continue
            # A flush mid-turn (a close) does not repeat these.
            self.read[audience] = end
            form = JSON if handler is None else handler.form(audience.room)
            readings.append(Reading(stream, start, end, self._own.get(audience, _NONE), form))
        return readings

    def _too_slow(self) -> None:
        self.session.note(
            "slow", "%s (%s) is not reading; dropping it as slow", self.peer, self.session.who
        )
        self.session.abort(LeftReason.SLOW)

    def _discard_output(self) -> None:
        self._out.clear()
        self.read.clear()
        self._marks.clear()
        self._own.clear()
        self._out_size = 0

    # -- the close ------------------------------------------------------------

    def _close(self, reason: LeftReason, final: bytes) -> None:
        if self._closed:
            return
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        self.session.closing_now()
        if final:
            self._queue(final)  # not `send`: this runs in order, already released
        self.flush()
        self._closed = True
        self.session.ended(reason)
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
        self._linger = self.loop.call_later(self.config.linger, transport.abort)


_NONE: list[int] = []


def _tune_socket(sock: socket.socket, config: ServerConfig) -> None:
    """Low latency for small frames; keepalive so dead plain-text peers are found."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, config.keepalive_idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, config.keepalive_interval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, config.keepalive_count)
    except OSError:  # not every socket family supports every option
        pass
