"""The asyncio driver of a `ClientSession`: connect (TCP, TLS, timeouts), reader, writer and
heartbeat tasks, reconnect with backoff, close with `bye`. No protocol bookkeeping and no Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from conexion_protocol import (
    DEFAULT_ROOM,
    ErrorCode,
    ModAction,
    Role,
    Struct,
    Welcome,
    format_address,
)

from .config import ClientConfig
from .session import (
    Acked,
    ClientSession,
    Failed,
    HelloRefused,
    Outgoing,
    Received,
    Request,
    RequestFailed,
    RequestKind,
    RttMeasured,
    SendStatus,
    ServerFrameTooLong,
    SessionState,
    Welcomed,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

UNREACHABLE = "unreachable"  # JoinError code when no connection could be made
CLOSED = "closed"  # JoinError code when the server hung up during `hello`
TLS_FAILED = "tls_failed"  # JoinError code when the TLS handshake or certificate failed

# OpenSSL's X509_V_ERR_* numbers: the ones a user can meet and act on.
_CERT_UNTRUSTED = (18, 19, 20, 21)  # self-signed, self-signed in chain, unknown issuer (x2)
_CERT_EXPIRED = 10
_CERT_NOT_YET_VALID = 9
_CERT_WRONG_HOST = 62
# 2**30 times any base delay is already far past any `backoff_max`; the cap
# only keeps the float from overflowing after days of failed attempts.
_BACKOFF_DOUBLINGS = 30


class State(enum.StrEnum):
    """The connection as the user sees it (the session's state, plus the
    driver's own: connecting, or waiting to retry)."""

    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # lost; a reconnect is scheduled
    CLOSED = "closed"  # we said bye, or were never connected


class JoinError(Exception):
    """`hello` did not lead to a `welcome`: the server's error code and reason,
    or `unreachable` / `closed` with a description of the network failure.
    `ask_user`: a password is missing or wrong, so trying again as we are
    would fail the same way."""

    def __init__(self, code: str, message: str, brief: str = "", *, ask_user: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.brief = brief or message  # short enough for a status line
        self.ask_user = ask_user


# How a host name becomes the addresses to try: `loop.getaddrinfo` by default.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def _getaddrinfo(host: str, port: int) -> list[str]:
    """Every address `host` stands for (a name may have several: a cluster
    behind one DNS name), in the resolver's order, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# -- events of the driver (the session's own are in session.py) ----------------


@dataclass(slots=True, frozen=True)
class StateChanged:
    state: State
    detail: str = ""
    retry_in: float | None = None  # seconds until the next attempt, when offline


@dataclass(slots=True, frozen=True)
class ConnectionLost:
    reason: str
    at: float = field(default_factory=time.time)  # wall clock, for "lost at HH:MM"


@dataclass(slots=True, frozen=True)
class Barred:
    """A reconnect was refused in a way that trying again cannot change (a
    ban from the whole chat): the client stops, and says why."""

    code: str
    message: str


@dataclass(slots=True, frozen=True)
class LoginNeeded:
    """A reconnect was refused for its password (`bad_password`, or the
    account's `login_required` / `bad_login`): the client waits, without
    retrying, until `log_in()` gives it one (or `close()`)."""

    code: str
    message: str


ClientEvent = (
    StateChanged
    | Welcomed
    | Received
    | Acked
    | Failed
    | RequestFailed
    | RttMeasured
    | ConnectionLost
    | LoginNeeded
    | Barred
)

# Refusals of a reconnect's `hello` that no retry can cure: the client stops.
_FINAL = frozenset({ErrorCode.BANNED})


@dataclass(slots=True, eq=False)
class _Link:
    """One TCP connection that has been welcomed."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


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
        if code in _CERT_UNTRUSTED:
            return (
                "the server's certificate is not signed by an authority this computer "
                f"trusts ({detail}); ask for the CA file and use --ca FILE"
            )
        if code == _CERT_EXPIRED:
            return f"the server's certificate has expired ({detail})"
        if code == _CERT_NOT_YET_VALID:
            return f"the server's certificate is not valid yet ({detail})"
        lowered = detail.lower()
        if code == _CERT_WRONG_HOST or "hostname" in lowered or "ip address" in lowered:
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
    `close()`. `say()`, `dm()`, `nick()`, `who()` and the room requests never block: they queue
    in the session, and the tasks inside `run()` write. Everything learnt is
    reported through `on_event` as a `ClientEvent`, in the order it happened.
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
        more: Sequence[tuple[str, int]] = (),
        resolve: Resolver | None = None,
    ) -> None:
        # The servers to try, in order: (host, port) first, then `more` (the
        # other instances of a cluster); each host may stand for several
        # addresses (DNS). A failure moves on to the next; the one that
        # answered is tried first next time.
        self.servers: list[tuple[str, int]] = list(dict.fromkeys([(host, port), *more]))
        self._resolve = resolve or _getaddrinfo
        self.host = host
        self.port = port
        self.tls = tls
        self.config = config or ClientConfig()
        self.session = ClientSession(self.config, clock=clock)
        self.state = State.CLOSED
        self._emit = on_event
        self._rng = rng or random.Random()
        self._clock = clock
        self._link: _Link | None = None
        self._wake = asyncio.Event()  # the session has something to write
        self._leave_now = asyncio.Event()  # close() was called: cut the backoff wait short
        self._login_given = asyncio.Event()  # log_in() or close() ended a wait for a password
        self._stopped = asyncio.Event()  # run() has returned
        self._last_heard = 0.0  # clock reading of the last byte from the server
        self._running = False
        self._waiting_for_login = False
        self._barred = ""  # why reconnecting stopped for good (a ban), if it did

    # -- public API ------------------------------------------------------

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    # Our name, the password and the pending sends live in the session; these
    # keep the client's attributes working as they did.

    @property
    def name(self) -> str | None:
        return self.session.name

    @name.setter
    def name(self, name: str | None) -> None:
        self.session.name = name

    @property
    def password(self) -> str | None:
        return self.session.password

    @password.setter
    def password(self, password: str | None) -> None:
        self.session.password = password

    @property
    def waiting_for_login(self) -> bool:
        """A reconnect waits for `log_in()` (after a `LoginNeeded`)."""
        return self._waiting_for_login

    @property
    def pending(self) -> dict[str, Outgoing]:
        return self.session.pending

    @property
    def rtt(self) -> float | None:
        return self.session.rtt

    @property
    def online(self) -> bool:
        """Connected, welcomed, and not on the way out."""
        return self.session.online

    @property
    def _leaving(self) -> bool:
        return self.session.state in (SessionState.CLOSING, SessionState.CLOSED)

    def new_id(self) -> str:
        return self.session.new_id()

    async def join(
        self,
        name: str,
        password: str | None = None,
        *,
        account_password: str | None = None,
        rooms: Sequence[str] | None = None,
    ) -> Welcome:
        """Connect and say hello once; the welcome, or `JoinError` saying why not.

        `password` is the server's, `account_password` a registered name's
        own; both stay in the session (memory only) for reconnects.
        `rooms` are the rooms to be in once welcomed (remembered from an
        earlier run): the session joins those the welcome lacks and parts
        those it has that are not among them. None keeps the welcome's.
        """
        self.session.password = password
        self.session.account_password = account_password
        self.session.restore = list(rooms) if rooms is not None else None
        self._set_state(State.CONNECTING, f"connecting to {self.address}")
        try:
            welcomed, link = await self._open(name)
        except JoinError as exc:
            self._set_state(State.CLOSED, exc.message)
            raise
        self._adopt(link)
        return welcomed.welcome

    async def run(self) -> None:
        """Serve the joined connection and reconnect after losses, until `close()`."""
        if self._link is None:
            raise RuntimeError("join() must succeed before run()")
        self._running = True
        try:
            while not self._leaving:
                link = self._link
                if link is None:
                    link = await self._reconnect()
                    if link is None:
                        break
                reason = await self._serve(link)
                self._drop_link()
                if self._leaving:
                    break
                self._set_state(State.OFFLINE, reason)
                self._emit(ConnectionLost(reason))
        finally:
            # Cancelled (the app is exiting some other way) or failed: still
            # say bye if we can, so others see a quit rather than a loss.
            self._say_bye()
            self._running = False
            self._drop_link()
            self._set_state(State.CLOSED, self._barred or "disconnected")
            self._stopped.set()

    def say(
        self,
        text: str,
        *,
        action: bool = False,
        room: str = DEFAULT_ROOM,
        announce: bool = False,
        reply_to: int | None = None,
    ) -> Outgoing:
        return self._woken(
            self.session.say(text, action=action, room=room, announce=announce, reply_to=reply_to)
        )

    def dm(self, to: str, text: str) -> Outgoing:
        return self._woken(self.session.dm(to, text))

    def nick(self, name: str) -> bool:
        """Ask for a new name; False when offline (nothing is queued)."""
        return self._woken(self.session.nick(name))

    # The requests below return the id their answer or error will carry, or
    # None when offline (nothing is queued).

    def who(self, room: str = DEFAULT_ROOM, *, watch: bool = False) -> str | None:
        return self._woken(self.session.who(room, watch=watch))

    def history(
        self,
        before: int | None,
        limit: int,
        *,
        room: str | None = None,
        with_: str | None = None,
    ) -> str | None:
        """Ask for up to `limit` messages older than `before` (the newest when
        None) of `room` or of the DMs with `with_`; the answer arrives as a
        `Received(HistoryReply)`."""
        return self._woken(self.session.history(before, limit, room=room, with_=with_))

    def join_room(self, room: str, code: str | None = None) -> str | None:
        """Enter (or create) `room`, with a private room's `code` if given;
        answered by a `Received(RoomInfo)`."""
        return self._woken(self.session.join(room, code))

    def part(self, room: str) -> str | None:
        """Leave `room`; our own `Received(Left)` confirms it."""
        return self._woken(self.session.part(room))

    def list_rooms(self) -> str | None:
        return self._woken(self.session.list_rooms())

    def topic(self, room: str, topic: str | None = None) -> str | None:
        """Ask for `room`'s topic, or set it."""
        return self._woken(self.session.topic(room, topic))

    def register(self, password: str) -> str | None:
        """Make our name an account; answered by a `Received(Registered)`."""
        return self._woken(self.session.register(password))

    def change_password(self, old: str, new: str) -> str | None:
        """Change our account's password; answered by a `Received(Registered)`."""
        return self._woken(self.session.change_password(old, new))

    def request(
        self, kind: RequestKind, frame: Callable[[str], Struct], *, room: str | None = None
    ) -> str | None:
        """A message action (`edit`, `react`, `delete`, `search`), see `ClientSession.request`."""
        return self._woken(self.session.request(kind, frame, room=room))

    # Moderation and the classroom tools: the server checks every rank and
    # answers with news (`moderation`, `deleted`, `hand`, `hands`) or an error.

    def moderate(
        self,
        action: ModAction,
        name: str,
        room: str = DEFAULT_ROOM,
        *,
        minutes: int | None = None,
        reason: str | None = None,
        server: bool = False,
        role: Role | None = None,
    ) -> str | None:
        return self._woken(
            self.session.moderate(
                action, name, room, minutes=minutes, reason=reason, server=server, role=role
            )
        )

    def set_mode(self, room: str, **settings: bool | int) -> str | None:
        return self._woken(self.session.set_mode(room, **settings))  # type: ignore[arg-type]

    def join_code(self, room: str, *, rotate: bool = False) -> str | None:
        return self._woken(self.session.join_code(room, rotate=rotate))

    def audit(self, room: str | None, limit: int) -> str | None:
        return self._woken(self.session.audit(room, limit))

    def delete(self, room: str, seq: int) -> str | None:
        return self._woken(self.session.delete(room, seq))

    def hand(
        self,
        room: str,
        *,
        question: str | None = None,
        down: bool = False,
        name: str | None = None,
        next_: bool = False,
    ) -> str | None:
        return self._woken(
            self.session.hand(room, question=question, down=down, name=name, next_=next_)
        )

    def hands(self, room: str) -> str | None:
        return self._woken(self.session.hands(room))

    def seen(self, room: str, seq: int) -> bool:
        return self._woken(self.session.seen(room, seq))

    def log_in(self, *, account_password: str | None = None, password: str | None = None) -> None:
        """The password(s) a reconnect waits for after `LoginNeeded` (None
        keeps the one we have); it tries again at once."""
        if account_password is not None:
            self.session.account_password = account_password
        if password is not None:
            self.session.password = password
        self._login_given.set()

    async def close(self, reason: str | None = None) -> None:
        """Say `bye` and wait (at most `close_timeout`) for the server to hang
        up, which proves it got the bye; then stop `run()`."""
        if self._leaving:
            return
        link = self._link
        self._say_bye(reason)
        self._leave_now.set()
        self._login_given.set()
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
        """Close the session; when it was online, write its `bye` at once."""
        self.session.close(reason)
        data = self.session.data_to_send()
        link = self._link
        if link is None or not data:
            return
        # A plain write, no await: it goes out at once, ahead of any FIN,
        # even when called from a task that is being cancelled.
        with contextlib.suppress(OSError, RuntimeError):
            link.writer.write(data)

    def _woken(self, result: _T) -> _T:
        self._wake.set()  # whatever the session queued, the writer takes
        return result

    # -- the tasks of one connection -------------------------------------

    async def _writer(self, link: _Link) -> str:
        writer = link.writer
        while True:
            # Held sends (a room's slow mode) go when their time comes, or
            # earlier if something else wakes us.
            delay = self.session.next_release()
            if delay is None:
                await self._wake.wait()
            elif delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
            self._wake.clear()
            data = self.session.data_to_send()
            if data:
                writer.write(data)
            await writer.drain()

    async def _reader(self, link: _Link) -> str:
        while True:
            # First what came in with the welcome, then each read.
            for event in iter(self.session.next_event, None):
                if isinstance(event, ServerFrameTooLong):
                    return f"the server sent a frame over {event.limit} bytes"
                if not isinstance(event, HelloRefused | Welcomed):  # answers to hello: not here
                    self._emit(event)
            if self.session.has_data_to_send:
                self._wake.set()  # a pong to the server's ping
            data = await link.reader.read(self.config.read_chunk)
            if not data:
                return "the server closed the connection"
            self._last_heard = self._clock()
            self.session.receive_data(data)

    async def _heartbeat(self, link: _Link) -> str:
        cfg = self.config
        interval = cfg.first_ping
        while True:
            await asyncio.sleep(interval)
            interval = cfg.ping_interval
            if not self.session.online:
                continue  # waiting for the server to hang up after our bye
            silent = self._clock() - self._last_heard
            if silent >= cfg.dead_after:
                return f"no answer from the server for {silent:.0f} s"
            self._woken(self.session.ping())

    # -- connection lifecycle --------------------------------------------

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the first server (and address of its name) that
        takes one, starting with the one that worked last; the failure of
        the last one tried, as a `JoinError`, when none does."""
        failure: JoinError | None = None
        for host, port in list(self.servers):
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                why = describe_os_error(exc)
                failure = JoinError(
                    UNREACHABLE, f"cannot reach {format_address(host, port)}: {why}", brief=why
                )
                continue
            for address in addresses or [host]:
                self.host, self.port = host, port
                try:
                    async with asyncio.timeout(self.config.connect_timeout):
                        connection = await asyncio.open_connection(
                            address,
                            port,
                            ssl=self.tls,
                            server_hostname=host if self.tls is not None else None,
                        )
                except ssl.SSLError as exc:
                    why = describe_tls_error(exc, host)
                    failure = JoinError(
                        TLS_FAILED, f"cannot connect securely to {self.address}: {why}", brief=why
                    )
                except (OSError, TimeoutError) as exc:
                    why = describe_os_error(exc)
                    refused = isinstance(exc, ConnectionRefusedError)
                    hint = ". Is the server running?" if refused else ""
                    failure = JoinError(
                        UNREACHABLE, f"cannot reach {self.address}: {why}{hint}", brief=why
                    )
                else:
                    # Sticky: the next reconnect starts where this one worked.
                    at = self.servers.index((host, port))
                    self.servers = self.servers[at:] + self.servers[:at]
                    return connection
            if len(self.servers) > 1:
                log.info("%s: %s; trying the next server", format_address(host, port), failure)
        assert failure is not None
        if len(self.servers) > 1:
            tried = ", ".join(format_address(h, p) for h, p in self.servers)
            failure = JoinError(
                failure.code, f"{failure.message} (tried {tried})", brief=failure.brief
            )
        raise failure

    async def _open(self, name: str | None) -> tuple[Welcomed, _Link]:
        """One connection and its `hello`, up to the welcome (the session's
        lines after it stay queued for the reader)."""
        cfg = self.config
        reader, writer = await self._connect()
        session = self.session
        if self._leaving:  # close() was called during the connect
            writer.close()
            raise JoinError(CLOSED, "closed before the hello")
        session.connection_made(name)
        # A wrong account password's answer is held back on purpose.
        wait = cfg.hello_timeout if session.account_password is None else cfg.login_timeout
        try:
            writer.write(session.data_to_send())
            async with asyncio.timeout(wait):
                await writer.drain()
                while True:
                    data = await reader.read(cfg.read_chunk)
                    if not data:
                        # A TLS server hangs up on a plain hello at once.
                        hint = "; if it uses TLS, start with --tls" if self.tls is None else ""
                        raise JoinError(CLOSED, f"the server closed the connection{hint}")
                    session.receive_data(data)
                    welcomed = self._hello_answer()
                    if reply := session.data_to_send():
                        writer.write(reply)  # pongs, and after a welcome the resends
                    if welcomed is not None:
                        return welcomed, _Link(reader, writer)
                    if session.state is not SessionState.HELLO_SENT:
                        raise JoinError(CLOSED, "closed while waiting for the welcome")
        except TimeoutError:
            self._abandon(writer)
            raise JoinError(CLOSED, "the server did not answer hello in time") from None
        except OSError as exc:
            self._abandon(writer)
            raise JoinError(CLOSED, f"connection failed: {describe_os_error(exc)}") from None
        except JoinError:
            self._abandon(writer)
            raise

    def _hello_answer(self) -> Welcomed | None:
        """The welcome among the events so far; JoinError for a refusal."""
        for event in iter(self.session.next_event, None):
            match event:
                case Welcomed():
                    return event
                case HelloRefused(code=code, message=message, ask_user=ask_user):
                    raise JoinError(code, message, ask_user=ask_user)
                case ServerFrameTooLong():
                    raise JoinError(CLOSED, "the server sent a frame that is too long")
        return None

    def _abandon(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        self.session.connection_lost()

    def _adopt(self, link: _Link) -> None:
        """Make a welcomed link current; the session has queued every unacknowledged send."""
        self._link = link
        self._last_heard = self._clock()
        self._set_state(State.ONLINE, f"connected to {self.address}")
        self._wake.set()

    def _drop_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.writer.close()
            self.session.connection_lost()

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
        ceiling = min(cfg.backoff_max, cfg.backoff_base * (2 ** min(attempt, _BACKOFF_DOUBLINGS)))
        return ceiling * self._rng.uniform(1.0 - cfg.backoff_jitter, 1.0)

    async def _reconnect(self) -> _Link | None:
        """Try again until welcomed or closed; None when closed."""
        last_error = ""
        at_once = False  # the user just gave a password: no backoff
        attempts = itertools.count()
        while True:
            if not at_once:
                delay = self.backoff(next(attempts))
                waiting = f"retrying in {delay:.1f} s"
                detail = f"{last_error}; {waiting}" if last_error else waiting
                self._set_state(State.OFFLINE, detail, retry_in=delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._leave_now.wait()
            at_once = False
            if self._leaving:
                return None
            self._set_state(State.CONNECTING, f"reconnecting to {self.address}")
            try:
                welcomed, link = await self._open(None)
            except JoinError as exc:
                if self._leaving:
                    return None  # close() was called while we waited for the welcome
                # name_taken here is usually our own ghost: the server has not
                # yet noticed that the old connection died. Waiting fixes it.
                log.info("reconnecting failed: %s", exc)
                last_error = exc.brief
                if exc.code in _FINAL:
                    # Banned: every retry would be refused the same way.
                    self._barred = "banned from this chat"  # the dialog and log say the rest
                    self._emit(Barred(exc.code, exc.message))
                    self.session.close()
                    return None
                if exc.ask_user:
                    # The same password again would only lengthen the
                    # server's backoff for the account: wait for a new one.
                    if not await self._wait_for_login(exc):
                        return None
                    at_once = True
                continue
            self._adopt(link)
            self._emit(welcomed)
            return link

    async def _wait_for_login(self, refusal: JoinError) -> bool:
        """Report `LoginNeeded` and wait for `log_in()`; False if closed meanwhile."""
        self._login_given.clear()
        self._waiting_for_login = True
        self._set_state(State.OFFLINE, f"{refusal.brief}; waiting for a password")
        self._emit(LoginNeeded(refusal.code, refusal.message))
        try:
            await self._login_given.wait()
        finally:
            self._waiting_for_login = False
        return not self._leaving

    def _set_state(self, state: State, detail: str = "", retry_in: float | None = None) -> None:
        self.state = state
        self._emit(StateChanged(state, detail, retry_in))


__all__ = [
    "CLOSED",
    "TLS_FAILED",
    "UNREACHABLE",
    "Acked",
    "Barred",
    "ChatClient",
    "ClientEvent",
    "ConnectionLost",
    "ErrorCode",
    "Failed",
    "JoinError",
    "LoginNeeded",
    "Outgoing",
    "Received",
    "Request",
    "RequestFailed",
    "RequestKind",
    "RttMeasured",
    "SendStatus",
    "State",
    "StateChanged",
    "Welcomed",
]
