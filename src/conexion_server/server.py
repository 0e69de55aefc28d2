"""Listening, fan-out flushing, and the server's lifecycle (start, signals,
graceful stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable

from .config import ServerConfig
from .connection import Connection
from .guard import FailureBackoff
from .hub import Delivery, Hub, Outbound
from .protocol import Shutdown

log = logging.getLogger(__name__)


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
        self.hub = hub or Hub(self.config.hub)
        self.connections: set[Connection] = set()
        self.stopping = False
        self._server: asyncio.Server | None = None
        self._dirty: list[Connection] = []
        self._closed = asyncio.Event()
        self._drained = asyncio.Event()
        cfg = self.config
        self.backoff = FailureBackoff(
            cfg.password_delays, cfg.password_forget, cfg.password_max_addresses
        )
        # Open connections per IP address, for `max_per_address`.
        self.per_address: dict[str, int] = {}
        self.tls: ssl.SSLContext | None = None

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
        # Each connection starts TLS itself (see Connection._start_tls).
        self.tls = ssl_context(cfg)
        self._server = await loop.create_server(
            lambda: Connection(self),
            cfg.host,
            cfg.port,
            reuse_address=True,
            backlog=1024,
        )
        for host, port in self.addresses:
            log.info("listening on %s:%d", host, port)

    # -- per-address accounting ------------------------------------------------

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
        for delivery in deliveries:
            out = delivery.out
            for member in delivery.to:
                member.peer.deliver(out)

    def mark_dirty(self, conn: Connection) -> None:
        """Note a connection with queued output; all of them are flushed once,
        at the end of this loop turn, so a burst of frames costs one write per
        peer instead of one per frame."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._flush)
        self._dirty.append(conn)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if self.stopping and not self.connections:
            self._drained.set()

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # -- lifecycle ------------------------------------------------------------

    async def stop(self, message: str = "the server is shutting down") -> None:
        """Tell everyone, flush, close every connection, and stop listening."""
        if self.stopping:
            await self._closed.wait()
            return
        self.stopping = True
        log.info("stopping: %d connections", len(self.connections))
        if self._server is not None:
            self._server.close()
        out = Outbound(Shutdown(message=message))
        for conn in list(self.connections):
            conn.deliver(out)
            conn.close(conn.reason)
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
        self._closed.set()

    async def __aenter__(self) -> ChatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(config: ServerConfig, on_ready: Callable[[ChatServer], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop gracefully."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with ChatServer(config) as server:
            if on_ready is not None:
                on_ready(server)
            await stop.wait()
            log.info("signal received")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
