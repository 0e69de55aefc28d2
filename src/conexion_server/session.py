"""One peer's protocol state, from its first byte to its leave: which mode it
speaks, which of its lines are served or held, its hello deadline and
heartbeat, the shared password, and how it ends. Sans-I/O: bytes and clock
readings come in; what must happen goes out through `PeerIO`, which the
asyncio driver (`connection.py`) implements and a test can record. No
asyncio, no sockets, no wording (the mode handlers own every word).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from types import CoroutineType
from typing import Protocol, TypeVar

from conexion_protocol import (
    FrameTooLong,
    LeftReason,
    LineFramer,
    Ping,
    ProtocolError,
    Struct,
    Welcome,
    encode,
)

from . import refusals
from .backplane import Backplane, Maybe
from .config import ServerConfig
from .guard import FailureBackoff, LogThrottle, password_ok
from .hub import Member, Outbound, Room
from .ircmode import IrcHandler
from .jsonmode import JsonHandler
from .textmode import TextHandler

log = logging.getLogger(__name__)
T = TypeVar("T")


# What a silent new connection is told: someone typed `nc HOST 8000` and
# sees nothing until they know to type a name.
GREETING = (
    b"* This is a Conexion chat server. Type your name and press Enter"
    b" (a JSON client sends a hello frame instead).\n"
)


class PeerState(StrEnum):
    HANDSHAKE = "handshake"  # TLS is being set up: no byte of the chat yet
    NAMING = "naming"  # connected, not yet in the chat (hello, or a text user's name)
    JOINED = "joined"  # a member of the chat
    # A close waits for a pending commit: nothing more is read, but what was
    # queued before it (and broadcasts already released) still goes out.
    ENDING = "ending"
    CLOSED = "closed"  # closed, aborted or lost: nothing more in or out


class Wait(StrEnum):
    """Why the peer's lines are not being served right now."""

    NONE = "none"
    BACKOFF = "backoff"  # a wrong password's answer is held back (output too)
    ANSWER = "answer"  # a request is with the backplane (a cluster's Redis)
    # The peer had its share of this loop turn (`max_lines_per_turn`); the
    # rest of its lines wait for the next, so one huge write cannot stall
    # everyone else.
    TURN = "turn"


class InputEnd(StrEnum):
    """What ends the input once the lines that wait have been served."""

    READ = "read"  # nothing: read on
    EOF = "eof"  # the peer half-closed
    TOO_LONG = "too_long"  # a line over the limit came


class PeerIO(Protocol):
    """What a session needs from its driver."""

    def send(self, data: bytes, *, urgent: bool = False) -> None:
        """Queue bytes for the peer, behind any pending commit; `urgent`
        bytes (a pong, a refusal) depend on no commit and go out at once
        unless this peer's earlier output is still held (order is kept)."""

    def deliver(self, data: bytes) -> None:
        """Queue a broadcast's bytes that a commit has already released."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self, reason: LeftReason, final: bytes) -> None:
        """Flush what is queued and `final`, then close; `session.ended`
        follows once that happens (maybe after a pending commit)."""

    def abort(self) -> None:
        """Cut the connection now, discarding anything unsent; `session.lost`
        follows."""

    def set_timer(self, when: float | None) -> None:
        """Call `session.on_timer` at `when` (the clock's time), instead of
        whatever was armed; None: nothing is due."""

    def hold(self, delay: float) -> None:
        """Call `session.release` after `delay` seconds."""

    def next_turn(self) -> None:
        """Call `session.resume_turn` on the next loop turn."""

    def wait_for(self, answer: Awaitable[T], done: Callable[[T | BaseException], None]) -> None:
        """Await `answer` and hand its value (or what it raised) to `done`."""


class Handler(Protocol):
    """A wire format's wording: JSON frames or plain-text lines."""

    json: bool
    current_room: str  # the room key a plain-text user's lines go to

    def handle(self, line: bytes) -> None: ...

    def form(self, room: Room | None) -> str:
        """How a broadcast to `room` (None: to no room) is spelled for this
        peer: one of fanout's forms."""
        ...

    def wire(self, out: Outbound) -> bytes:
        """A broadcast's bytes for this peer."""
        ...

    def render_error(self, error: ProtocolError) -> bytes: ...

    def too_long(self) -> bytes: ...

    def timed_out(self) -> bytes:
        """The last words to a peer that did not join in time."""
        ...

    def welcome(self, welcome: Welcome) -> None: ...


class Session:
    """One connection's state machine. `peer` and `address` name it in logs
    and for per-address limits; `clock` is the driver's monotonic clock."""

    def __init__(
        self,
        io: PeerIO,
        backplane: Backplane,
        config: ServerConfig,
        backoff: FailureBackoff,
        *,
        clock: Callable[[], float],
        quiet: LogThrottle | None = None,
        peer: str = "?",
        address: str = "?",
        irc: bool = False,
    ) -> None:
        self.io = io
        self.irc = irc  # an IRC listener's connection: it speaks IRC, whatever it sends
        self.backplane = backplane
        self.config = config
        self.backoff = backoff
        self.clock = clock
        self.quiet = quiet
        self.peer = peer
        self.address = address
        self.state = PeerState.NAMING
        self.wait = Wait.NONE
        self.input_end = InputEnd.READ
        self.framer = LineFramer(config.max_frame)
        self.handler: Handler | None = None
        self.member: Member | None = None
        # The reason the peer will be announced with when it goes: a drop
        # unless something says otherwise (a bye, a timeout, a slow peer).
        self.reason = LeftReason.LOST
        self._started = clock()
        self.last_heard = self._started
        self._pinged = False  # a ping of ours waits for any answer
        # When a silent new connection is greeted (see `greet_after`).
        self._greet_due: float | None = None
        self._held: list[bytes] = []  # lines read while the input waits
        # Sessions whose request is being served (a line in `handle`, or an
        # answer on its way) take actions that must come after the answer
        # (a DM to oneself comes after its ack).
        self._serving = False
        self._after: list[Callable[[], None]] = []

    # -- what the driver reports -----------------------------------------------

    def connected(self, *, tls: bool) -> None:
        """The socket is open; with TLS the handshake comes first."""
        if tls:
            self.state = PeerState.HANDSHAKE
            self.io.set_timer(self._hello_due)
        else:
            self.secured()

    def secured(self) -> None:
        """The byte stream is ready for the chat (after TLS, if any)."""
        self.state = PeerState.NAMING
        if self.config.greet_after > 0 and not self.irc:  # IRC clients speak first
            self._greet_due = self.clock() + self.config.greet_after
        self._arm(self.last_heard + self.config.idle_timeout)

    def turned_away(self, error: ProtocolError) -> bytes:
        """The peer is refused before it says anything (a per-address limit):
        the session is over, and these are the last words, if the driver can
        send any. The mode is not known yet, so they are a JSON `error`
        frame: one line that a JSON client parses and a person can read."""
        self.state = PeerState.CLOSED
        self.reason = LeftReason.ERROR
        return encode(error.to_frame())

    def data_received(self, data: bytes | memoryview) -> None:
        """What the peer sent; `data` is only read during the call."""
        if self.state in (PeerState.ENDING, PeerState.CLOSED):
            return
        if self.input_end is InputEnd.TOO_LONG:
            return
        self.last_heard = self.clock()
        self._greet_due = None  # it spoke first
        if self._pinged:
            # The answer to our ping. The next ping is due `ping_after` from
            # now, sooner than the idle deadline the timer waits for.
            self._pinged = False
            self._arm(self.last_heard + self.config.ping_after)
        if self.handler is None and data:
            self._choose_handler(bytes(data[:1]))
        try:
            lines = self.framer.feed(data)
        except FrameTooLong as exc:
            self._serve_lines(exc.lines)
            if self.wait is not Wait.NONE:
                # Lines before the long one still wait for their answers;
                # the refusal comes after them (see `_resume`).
                self.input_end = InputEnd.TOO_LONG
                self.io.pause_reading()
            else:
                self._refuse_too_long()
            return
        self._serve_lines(lines)

    def eof_received(self) -> bool:
        """The peer has nothing more to say (a dropped `nc`, or a script that
        piped its lines in): answer what it sent, then close. True while the
        connection must stay half-open for those answers."""
        if self.wait is not Wait.NONE:
            self.input_end = InputEnd.EOF
            return True
        self.close(self.reason)
        return False

    def ended(self, reason: LeftReason) -> None:
        """The driver has closed the connection (after its last words)."""
        self.reason = reason
        self._finish()

    def lost(self) -> None:
        """The connection is gone; the member leaves with the reason known."""
        self._held.clear()
        self._finish()

    def abort(self, reason: LeftReason) -> None:
        """Cut the peer off at once (a slow reader, a stalled handshake)."""
        if self.state is PeerState.CLOSED:
            return
        self.state = PeerState.CLOSED
        self.reason = reason
        self.io.abort()

    def on_timer(self, now: float) -> float | None:
        """Whatever is due at `now` (a greeting, a ping, a timeout); the
        next deadline."""
        greet = self._greet_due
        if greet is not None and now >= greet and self.state is PeerState.NAMING:
            self._greet_due = greet = None
            self.send(GREETING, urgent=True)
        due = self._on_timer(now)
        if greet is None or due is None or self.state is PeerState.CLOSED:
            return due
        return min(due, greet)

    def _on_timer(self, now: float) -> float | None:
        cfg = self.config
        if self.state is PeerState.CLOSED:
            return None
        hello_due = self._hello_due if self.member is None else None
        if hello_due is not None and now >= hello_due:
            if self.state is PeerState.HANDSHAKE:
                self.note(
                    "handshake",
                    "%s: TLS handshake not finished within %.0f s (a plain-TCP client?); closing",
                    self.peer,
                    cfg.hello_timeout,
                )
                self.abort(LeftReason.TIMEOUT)
            else:
                self.note(
                    "hello", "%s did not join within %.0f s; closing", self.peer, cfg.hello_timeout
                )
                self.close(LeftReason.TIMEOUT, self._timed_out())
            return None
        if self.state is PeerState.HANDSHAKE:
            return hello_due
        json = self.handler is not None and self.handler.json
        if self.member is not None and not json:
            return None  # joined plain-text users cannot answer pings; TCP keepalive finds them
        idle = now - self.last_heard
        if idle >= cfg.idle_timeout:
            self.note("silent", "%s (%s) silent for %.0f s; closing", self.peer, self.who, idle)
            self.close(LeftReason.TIMEOUT, self._timed_out())
            return None
        if json and idle >= cfg.ping_after and not self._pinged:
            self._pinged = True
            self.send_frame(Ping(t=int(now * 1000)))
        heartbeat = self.last_heard + (
            cfg.ping_after if json and not self._pinged else cfg.idle_timeout
        )
        return heartbeat if hello_due is None else min(heartbeat, hello_due)

    def resume_turn(self) -> None:
        """A new loop turn: serve the lines that waited for it."""
        if self.wait is Wait.TURN:
            self.wait = Wait.NONE
            if self.state is not PeerState.CLOSED:
                self._resume()

    def release(self) -> None:
        """The backoff after a wrong password is over."""
        if self.wait is Wait.BACKOFF:
            self.wait = Wait.NONE
            if self.state is not PeerState.CLOSED:
                self._resume()

    def note(self, kind: str, message: str, *args: object, level: int = logging.INFO) -> None:
        """Log a line an attacker could repeat at will: once per kind and
        address per period (`ServerConfig.log_every`), with a count of the
        ones left out."""
        held = self.quiet.allow(f"{kind}:{self.address}") if self.quiet is not None else 0
        if held is None:
            return
        if held:
            message += " (%d more like this from the address since the last such line)"
            args = (*args, held)
        log.log(level, message, *args)

    def closing_now(self) -> None:
        """The driver is closing the connection now: a backoff no longer
        holds its last words back, and the lines it held are never served."""
        if self.wait is Wait.BACKOFF:
            self.wait = Wait.NONE
            self._held.clear()

    # -- what the handlers and backplanes use ----------------------------------

    @property
    def closing(self) -> bool:
        """Closed or cut off: nothing more goes out."""
        return self.state is PeerState.CLOSED

    @property
    def reading(self) -> bool:
        """Lines from the peer are still served."""
        return self.state not in (PeerState.ENDING, PeerState.CLOSED)

    @property
    def holding_output(self) -> bool:
        """A wrong password's backoff holds this peer's output too."""
        return self.wait is Wait.BACKOFF

    @property
    def who(self) -> str:
        return self.member.name if self.member else "not joined"

    def send(self, data: bytes, *, urgent: bool = False) -> None:
        if not self.closing and data:
            self.io.send(data, urgent=urgent)

    def send_frame(self, frame: Struct, *, urgent: bool = False) -> None:
        self.send(encode(frame), urgent=urgent)

    def send_error(self, error: ProtocolError) -> None:
        assert self.handler is not None
        # A refusal depends on nothing stored: it need not wait for a commit.
        self.send(self.handler.render_error(error), urgent=True)

    def deliver(self, out: Outbound) -> None:
        """A broadcast, in this peer's wire format (never held again: the
        server releases broadcasts once their commit is done)."""
        handler = self.handler
        if handler is not None and not self.closing:
            data = handler.wire(out)
            if data:
                self.io.deliver(data)

    def close(self, reason: LeftReason, final: bytes = b"") -> None:
        """Leave the chat, say `final`, and close (after any pending commit)."""
        if not self.reading:
            return
        if self.state is PeerState.HANDSHAKE:
            self.abort(reason)  # nothing can be said before TLS is up
            return
        self.state = PeerState.ENDING
        self.io.close(reason, final)

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
            return
        self.wait = Wait.ANSWER
        self.io.pause_reading()

        def done(outcome: T | BaseException) -> None:
            self.wait = Wait.NONE
            try:
                if self.closing:
                    pass
                elif isinstance(outcome, ProtocolError):
                    on_refusal(outcome)
                elif isinstance(outcome, BaseException):
                    log.error("%s (%s): a request failed", self.peer, self.who, exc_info=outcome)
                    on_refusal(refusals.internal_failure())
                else:
                    on_answer(outcome)
            finally:
                self._run_after()
            if not self.closing:
                self._resume()

        self.io.wait_for(answer, done)

    def after_answer(self, action: Callable[[], None]) -> None:
        """Run `action` once the request being served has been answered (at
        once when none is)."""
        if self._serving or self.wait is Wait.ANSWER:
            self._after.append(action)
        else:
            action()

    def authenticate(self, given: str | None) -> bool:
        """True when no password is needed or `given` is right.

        A wrong one is counted against the peer's address, and everything
        this connection would send next (the caller's refusal first) is held
        back for the backoff delay while its input waits; other peers are
        not affected.
        """
        expected = self.config.password
        if expected is None:
            return True
        if password_ok(expected, given):
            self.backoff.succeeded(self.address)
            return True
        delay = self.backoff.failed(self.address)
        self._note_wrong_password(delay)
        if delay > 0:
            self.hold_back(delay)
        return False

    def login_failed(self) -> float:
        """A wrong account password from this peer: counted against its
        address like a wrong server password; the seconds to hold back."""
        delay = self.backoff.failed(self.address)
        self._note_wrong_password(delay)
        return delay

    def login_succeeded(self) -> None:
        self.backoff.succeeded(self.address)

    def hold_back(self, delay: float) -> None:
        """Hold everything this peer would be sent next (the answer to a
        wrong password first) and read nothing from it for `delay` seconds;
        nobody else waits."""
        self.wait = Wait.BACKOFF
        self.io.pause_reading()
        self.io.hold(delay)

    def _note_wrong_password(self, delay: float) -> None:
        # Never log the attempt itself: it may be a real password mistyped.
        self.note(
            "password",
            "%s: wrong password (%d in a row from this address); answering in %.1f s",
            self.peer,
            self.backoff.failures(self.address),
            delay,
        )

    def welcomed(self, member: Member, welcome: Welcome) -> None:
        """`member` has joined: the welcome goes before anything else it hears."""
        self.member = member
        self.state = PeerState.JOINED
        log.info("%s joined from %s", member.name, self.peer)
        assert self.handler is not None
        self.handler.welcome(welcome)

    # -- internals ----------------------------------------------------------------

    def _choose_handler(self, first_byte: bytes) -> None:
        # The protocol's rule: a connection whose first line starts with `{`
        # speaks JSON; anything else is a plain-text session.
        if self.irc:
            self.handler = IrcHandler(self, self.backplane, self.config)
        elif first_byte == b"{":
            self.handler = JsonHandler(self, self.backplane, self.config)
            # JSON peers are pinged sooner than the idle deadline.
            self._arm(self.last_heard + self.config.ping_after)
        else:
            self.handler = TextHandler(self, self.backplane, self.config)

    def _serve_lines(self, lines: list[bytes]) -> None:
        handler = self.handler
        budget = self.config.max_lines_per_turn
        for i, line in enumerate(lines):
            if not self.reading:
                break
            if i >= budget and self.wait is Wait.NONE:
                # This peer's share of the turn is used up.
                self.wait = Wait.TURN
                self.io.pause_reading()
                self.io.next_turn()
            if self.wait is not Wait.NONE:
                # A wrong password's backoff, an answer still to come, or
                # the turn's share used up: keep the rest for later.
                self._held.extend(lines[i:])
                break
            assert handler is not None
            self._serving = True
            try:
                handler.handle(line)
            finally:
                self._serving = False
            if self._after and self.wait is Wait.NONE:
                self._run_after()

    def _resume(self) -> None:
        """Go on with the lines that waited, then read again."""
        held, self._held = self._held, []
        self._serve_lines(held)
        if not self.reading or self.wait is not Wait.NONE:
            return  # still waiting (or done); the next answer comes back here
        if self.input_end is InputEnd.TOO_LONG:
            self._refuse_too_long()
        elif self.input_end is InputEnd.EOF:
            self.close(self.reason)
        else:
            self.io.resume_reading()

    def _run_after(self) -> None:
        after, self._after = self._after, []
        for action in after:
            action()

    def _refuse_too_long(self) -> None:
        if not self.closing and self.handler is not None:
            self.note(
                "too_long", "%s sent a line over %d bytes; closing", self.peer, self.framer.max_line
            )
            self.close(LeftReason.ERROR, self.handler.too_long())

    def _timed_out(self) -> bytes:
        return self.handler.timed_out() if self.handler is not None else b""

    @property
    def _hello_due(self) -> float:
        return self._started + self.config.hello_timeout

    def _arm(self, heartbeat: float) -> None:
        """Wake at `heartbeat`, or at the greeting or the hello deadline if
        one comes first."""
        due = heartbeat if self.member is not None else min(heartbeat, self._hello_due)
        if self._greet_due is not None:
            due = min(due, self._greet_due)
        self.io.set_timer(due)

    def _finish(self) -> None:
        self.state = PeerState.CLOSED
        self.wait = Wait.NONE
        member, self.member = self.member, None
        if member is not None:
            log.info("%s left (%s) from %s", member.name, self.reason, self.peer)
            self.backplane.leave(member, self.reason)
