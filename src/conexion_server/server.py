"""Listening, fan-out flushing, and the server's lifecycle (start, signals,
graceful stop)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import ssl
import sys
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from conexion_protocol import Shutdown

from . import accounts
from .backplane import Backplane, LocalBackplane, Logins
from .config import ServerConfig
from .connection import Connection
from .fanout import TurnFanout
from .guard import FailureBackoff, LogThrottle
from .hub import Delivery, Hub, Outbound
from .sqlite_store import Retention, SqliteStore
from .store import CommitBatch, DurableStore, Store, StoreError

log = logging.getLogger(__name__)

A = TypeVar("A")

# What a failed accept says when the process or the system is out of room.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class CommitGate:
    """Holds back every byte the server sends until what was stored before it
    is committed, so an `ack`, a relayed message, a `welcome` or a `history`
    reply never shows something a crash could still lose.

    Group commit: everything appended while one transaction is being written
    goes into the next one, so there is one fsync per batch, never one per
    message, and none on the event loop (the writer is a thread). Held
    actions run in the order they were held, which keeps each peer's frames
    in `seq` order.
    """

    def __init__(self, store: DurableStore, on_failure: Callable[[BaseException], None]) -> None:
        self.store = store
        # (the writes it waits for, an action, its argument): a bound method
        # and its argument, not a closure, since there are two a message.
        self._held: deque[tuple[int, Callable[[Any], None], Any]] = deque()
        self._committed = store.writes()
        self._taken = self._committed  # the writes of batches taken so far
        self._task: asyncio.Task[None] | None = None
        # Peers that stopped reading while too much waited for a commit,
        # and are resumed once it is done.
        self._throttled: list[Callable[[], None]] = []
        self._on_failure = on_failure
        self.failed: BaseException | None = None

    @property
    def holding(self) -> bool:
        return bool(self._held) or self.store.writes() > self._committed

    @property
    def backlog(self) -> int:
        """Writes accepted and not yet on their way to the disk: the commit
        in flight does not count, so that reading goes on while it is
        written, and the next batch builds up meanwhile."""
        return self.store.writes() - max(self._committed, self._taken)

    def throttle(self, resume: Callable[[], None]) -> None:
        """Call `resume` once the commit in flight is done."""
        self._throttled.append(resume)

    def defer(self, action: Callable[[A], None], arg: A) -> None:
        """Run `action(arg)` once everything stored so far is committed."""
        if self.failed is not None:
            return  # nothing more goes out after a failed commit
        self._held.append((self.store.writes(), action, arg))
        if self._task is None:
            self.kick()

    def kick(self) -> None:
        if self._task is None and self.store.has_pending() and self.failed is None:
            self._task = asyncio.get_running_loop().create_task(self._commit_loop())

    async def _commit_loop(self) -> None:
        store = self.store
        try:
            # Yield once so that everything accepted in this loop turn (all the
            # lines of every peer that was readable) lands in the same batch.
            await asyncio.sleep(0)
            writing = self._start(store.take_batch())
            while writing is not None:
                batch, written = writing
                try:
                    await written
                except Exception as exc:  # disk full, I/O error: stop acking at all
                    self._fail(exc)
                    return
                finally:
                    store.done(batch)
                self._committed = max(self._committed, batch.upto)
                # The next batch goes to the writer before this one's sends
                # are released: the writer works while the loop sends.
                writing = self._start(store.take_batch()) if store.has_pending() else None
                self._release()
                self._resume_readers()
                if writing is None and store.has_pending():  # stored by a released action
                    writing = self._start(store.take_batch())
        finally:
            self._task = None

    def _start(self, batch: CommitBatch) -> tuple[CommitBatch, asyncio.Future[None]]:
        """Hand `batch` to the writer thread."""
        self._taken = batch.upto
        loop = asyncio.get_running_loop()
        return batch, loop.run_in_executor(None, self.store.write, batch)

    def _resume_readers(self) -> None:
        throttled, self._throttled = self._throttled, []
        for resume in throttled:
            resume()

    def _fail(self, exc: Exception) -> None:
        log.critical("cannot commit to %s: %s", self.store.path, exc)
        self.failed = exc
        self._held.clear()
        self._on_failure(exc)

    def _release(self) -> None:
        held = self._held
        while held and held[0][0] <= self._committed:
            _, action, arg = held.popleft()
            try:
                action(arg)
            except Exception:
                # One peer's broken send must not hold back everyone else's.
                log.exception("a held send failed")

    async def drain(self) -> None:
        """Commit what is pending and run what is held (shutdown)."""
        while self.failed is None and (self._task is not None or self.store.has_pending()):
            self.kick()
            if self._task is not None:
                await asyncio.wait({self._task})
        self._release()


def open_store(config: ServerConfig) -> Store | None:
    """The store `config.db` asks for; None for the hub's in-memory default
    (also a cluster's: there the history lives in Redis)."""
    if config.db is None or config.db == ":memory:" or config.cluster:
        return None
    hub = config.hub
    retention = Retention(keep_days=config.keep_days, keep_messages=config.keep_messages)
    return SqliteStore(
        config.db,
        hub.id_ttl,
        hub.max_ids,
        retention=retention,
        busy_timeout=config.db_busy_timeout,
    )


def ssl_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The server's TLS context, or None for plain TCP. Raises OSError or
    ssl.SSLError when the certificate or key cannot be loaded."""
    if not config.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


class ChatServer:
    def __init__(self, config: ServerConfig | None = None, hub: Hub | None = None) -> None:
        self.config = config or ServerConfig()
        self.hub = hub or Hub(self.config.hub, open_store(self.config))
        store = self.hub.store
        self.gate: CommitGate | None = (
            CommitGate(store, self._commit_failed)  # type: ignore[arg-type]
            if store.durable
            else None
        )
        self.backplane: Backplane
        logins = Logins(self.hub, _verify, _make_hash)
        if self.config.cluster:
            from .cluster import RedisBackplane  # only a cluster needs redis

            self.backplane = RedisBackplane(self.hub, self.dispatch, logins, self.config)
        else:
            self.backplane = LocalBackplane(
                self.hub, self.dispatch, logins, stopping=lambda: self.stopping
            )
        self.failure: BaseException | None = None
        self.failed = asyncio.Event()
        self.connections: set[Connection] = set()
        self.stopping = False
        self._server: asyncio.Server | None = None
        self._dirty: list[Connection] = []
        self._flush_due = False
        # Room broadcasts of this loop turn (see fanout.py).
        self.fanout = TurnFanout()
        self.read_buffer = memoryview(bytearray(self.config.read_size))
        self._arrivals_timer: asyncio.TimerHandle | None = None
        self._previous_handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None
        self._previous_handler = None
        self._closed = asyncio.Event()
        self._drained = asyncio.Event()
        cfg = self.config
        self.backoff = FailureBackoff(
            cfg.password_delays, cfg.password_forget, cfg.password_max_addresses
        )
        # Warnings an attacker could repeat at will: one per kind per period.
        self.quiet = LogThrottle(cfg.log_every)
        # Open connections per IP address, for `max_per_address`.
        self.per_address: dict[str, int] = {}
        self.tls: ssl.SSLContext | None = None
        self._irc_servers: dict[str, asyncio.Server] = {}  # "irc", "irc-tls"

    def irc_port(self, kind: str = "irc") -> int:
        """The port an IRC listener took (`irc` or `irc-tls`)."""
        return int(self._irc_servers[kind].sockets[0].getsockname()[1])

    @property
    def addresses(self) -> list[tuple[str, int]]:
        assert self._server is not None
        return [sock.getsockname()[:2] for sock in self._server.sockets]

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        # Running out of descriptors makes asyncio log a traceback for every
        # failed accept; one line per period says it (accepting resumes by
        # itself a moment later). The handler stays for the loop's life:
        # asyncio's retries can still fire after this server stops.
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._on_loop_error)
        # Each connection starts TLS itself (see Connection._start_tls).
        self.tls = ssl_context(cfg)
        await self.backplane.start()
        self._server = await loop.create_server(
            lambda: Connection(self, tls=self.tls),
            cfg.host,
            cfg.port,
            reuse_address=True,
            backlog=cfg.backlog,
        )
        listeners = {"irc": (cfg.irc_port, None), "irc-tls": (cfg.irc_tls_port, self.tls)}
        for kind, (port, tls) in listeners.items():
            if port is None:
                continue
            if kind == "irc-tls" and tls is None:
                raise OSError("--irc-tls-port needs --tls-cert and --tls-key")
            self._irc_servers[kind] = await loop.create_server(
                lambda tls=tls: Connection(self, tls=tls, irc=True),
                cfg.host,
                port,
                reuse_address=True,
                backlog=cfg.backlog,
            )
        for host, port in self.addresses:
            log.debug("listening on %s:%d", host, port)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if (
            isinstance(exc, OSError)
            and exc.errno in _OUT_OF_RESOURCES
            and "accept" in str(context.get("message", ""))
        ):
            held = self.quiet.allow("accept")
            if held is not None:
                more = f" ({held} more failed accepts since the last such line)" if held else ""
                log.error(
                    "cannot accept new connections: %s; trying again in a moment%s",
                    exc.strerror or exc,
                    more,
                )
            return
        handle = context.get("handle")
        if self.stopping and isinstance(exc, ValueError) and "_start_serving" in repr(handle):
            # A retry asyncio scheduled after a failed accept, firing after
            # the listening socket was closed: nothing is wrong.
            return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    # -- what connections ask of the server -----------------------------------

    def opened(self, conn: Connection) -> None:
        self.connections.add(conn)

    def turned_away(self, conn: Connection) -> None:
        held = self.quiet.allow(f"over:{conn.address}")
        if held is not None:
            more = f" ({held} more since the last such line)" if held else ""
            log.warning(
                "%s: over %d connections from one address; refused%s",
                conn.peer,
                self.config.max_per_address,
                more,
            )

    def kick_commit(self) -> None:
        if self.gate is not None:
            self.gate.kick()

    def too_much_uncommitted(self) -> bool:
        gate = self.gate
        return gate is not None and gate.backlog > self.config.max_uncommitted

    def admit(self, address: str) -> bool:
        """Count a new connection from `address`; False when it is one too many."""
        count = self.per_address.get(address, 0)
        if count >= self.config.max_per_address:
            return False
        self.per_address[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self.per_address.get(address, 0) - 1
        if count > 0:
            self.per_address[address] = count
        else:
            self.per_address.pop(address, None)

    # -- fan-out --------------------------------------------------------------

    def dispatch(self, deliveries: list[Delivery]) -> None:
        # One held action per fan-out, not one per receiver.
        if deliveries and not self.defer(self._dispatch, deliveries):
            self._dispatch(deliveries)
        if self._arrivals_timer is None:
            self._arm_arrivals()

    def _arm_arrivals(self) -> None:
        """Wake when the next quiet arrival is due to be announced."""
        due = self.hub.next_arrival()
        if due is not None and not self.stopping:
            loop = asyncio.get_running_loop()
            self._arrivals_timer = loop.call_at(due, self._announce_arrivals)

    def _announce_arrivals(self) -> None:
        self._arrivals_timer = None
        deliveries = self.hub.announce_due(asyncio.get_running_loop().time())
        if deliveries:
            self.dispatch(deliveries)
        else:
            self._arm_arrivals()

    def _dispatch(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            out = delivery.out
            audience = delivery.audience
            if audience is not None:
                # Everyone in the audience but `skip`: once into its stream.
                index = self.fanout.append(audience, out, delivery.mark)
                skip = delivery.skip
                if skip is not None and skip.peer is not None:
                    skip.peer.io.skip_own(audience, index)
                self._schedule_flush()
            else:
                for member in delivery.targets or ():
                    member.peer.deliver(out)

    def mark_dirty(self, conn: Connection) -> None:
        """Note a connection with queued output; all of them are flushed once,
        at the end of this loop turn, so a burst of frames costs one write per
        peer instead of one per frame."""
        self._schedule_flush()
        self._dirty.append(conn)

    def _schedule_flush(self) -> None:
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def defer(self, action: Callable[[A], None], arg: A) -> bool:
        """Hold `action(arg)` behind the pending commit; False when nothing
        is pending, and the caller should act now."""
        gate = self.gate
        if gate is None or not gate.holding:
            return False
        gate.defer(action, arg)
        return True

    def _commit_failed(self, exc: BaseException) -> None:
        self.failure = exc
        self.failed.set()

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if self.stopping and not self.connections:
            self._drained.set()

    def _flush(self) -> None:
        self._flush_due = False
        dirty, self._dirty = self._dirty, []
        fanout = self.fanout
        if fanout:
            # Every listener of an audience with broadcasts reads them, once;
            # flushing one twice (it was also dirty) finds nothing the second
            # time. Nobody in a quiet room is visited.
            listeners: dict[int, Connection] = {}
            for audience in fanout.streams:
                for member in audience.members.values():
                    conn = member.peer.io
                    listeners[id(conn)] = conn
            for conn in listeners.values():
                conn.flush()
                conn.read.clear()  # the next turn's streams start empty
            fanout.clear()
        for conn in dirty:
            conn.flush()

    # -- lifecycle ------------------------------------------------------------

    async def stop(self, message: str = "the server is shutting down") -> None:
        """Tell everyone, flush, close every connection, and stop listening."""
        if self.stopping:
            await self._closed.wait()
            return
        self.stopping = True
        if self._arrivals_timer is not None:
            self._arrivals_timer.cancel()
        log.info("stopping: %d connections", len(self.connections))
        if self._server is not None:
            self._server.close()
        for listener in self._irc_servers.values():
            listener.close()
        if self.gate is not None:
            # What was accepted is committed, and its acks sent, before goodbye.
            await self.gate.drain()
            self._flush()
        out = Outbound(Shutdown(message=message))
        for conn in list(self.connections):
            session = conn.session
            session.deliver(out)
            session.close(session.reason)
            if conn.transport is not None:
                # No lingering for the peer to hang up first: the process is
                # exiting. The transport still flushes before it closes.
                conn.transport.close()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.shutdown_grace):
                    await self._drained.wait()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
        await self.backplane.stop()
        close = getattr(self.hub.store, "close", None)
        if close is not None:
            close()
        self._closed.set()

    async def __aenter__(self) -> ChatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _verify(hashed: str, password: str) -> bool:
    # scrypt takes tens of milliseconds: never on the event loop.
    return await asyncio.to_thread(accounts.verify, hashed, password)


async def _make_hash(password: str) -> str:
    return await asyncio.to_thread(accounts.hash_password, password)


def tune_collector() -> None:
    """Python's cyclic garbage collector, tuned for a server: everything
    loaded at start (modules, the stored state) is frozen out of its passes,
    and the older generations are collected less often. Each message makes
    short-lived objects by the dozen, and a durable server holds a commit's
    worth of them at once; with the defaults a third of its time went to
    collections that found nothing (see docs/performance.md). Reference
    counting frees almost everything anyway."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 50, 100)


# How long the event loop may keep the GIL while the writer thread waits for
# it (Python's default is 5 ms). A commit is a few SQLite calls, and each
# gives the GIL up and must take it back; behind a busy loop every one of
# them waited up to the whole interval, and the writer spent half its time
# waiting (docs/performance.md). Only a waiting thread makes the loop let go,
# so a server without a writer is not interrupted more often.
WRITER_SWITCH_INTERVAL = 0.0005


def tune_threads(server: ChatServer) -> None:
    """A durable server's writer thread gets the GIL back sooner."""
    if server.gate is not None:
        sys.setswitchinterval(WRITER_SWITCH_INTERVAL)


async def serve(config: ServerConfig, on_ready: Callable[[ChatServer], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop gracefully."""
    loop = asyncio.get_running_loop()
    log.debug("event loop: %s", "uvloop" if "uvloop" in type(loop).__module__ else "asyncio")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with ChatServer(config) as server:
            tune_collector()
            tune_threads(server)
            if on_ready is not None:
                on_ready(server)
            failed = asyncio.ensure_future(server.failed.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            failed.cancel()
            stopped.cancel()
            if server.failure is not None:
                raise StoreError(f"cannot commit: {server.failure}") from server.failure
            log.info("signal received")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
