"""Shared fixtures: a real conexion server on an ephemeral loopback port."""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import settings

from conexion_server.config import ServerConfig
from conexion_server.connection import Connection
from conexion_server.hub import HubConfig
from conexion_server.server import ChatServer
from tests.peers import JsonPeer, TextPeer
from tests.redis_server import RedisServer

ServerFactory = Callable[..., Awaitable[ChatServer]]

# Property tests draw the same examples on every run: CI never fails on an
# example nobody has seen. `pytest --hypothesis-profile=default` explores anew.
settings.register_profile("repeatable", derandomize=True)
settings.load_profile("repeatable")


# -- clusters: the same tests against two instances on one Redis ----------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; each cluster uses its own key prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def deployment() -> str:
    """What `make_server` starts: one process here; tests/server/conftest.py
    runs the protocol tests against a cluster of two instances as well."""
    return "single"


class ClusterUnderTest:
    """Instances of one chat that look like one server to a test: each read
    of `port` gives the next instance's port, as a load balancer would, so
    consecutive peers land on different instances."""

    def __init__(self, instances: list[ChatServer]) -> None:
        self.instances = instances
        self._turn = itertools.cycle(instances)
        self.config = instances[0].config

    @property
    def port(self) -> int:
        return next(self._turn).port

    def irc_port(self, kind: str = "irc") -> int:
        return next(self._turn).irc_port(kind)

    @property
    def connections(self) -> set[Connection]:
        return set().union(*(server.connections for server in self.instances))

    @property
    def per_address(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for server in self.instances:
            for address, count in server.per_address.items():
                counts[address] = counts.get(address, 0) + count
        return counts

    @property
    def hub(self) -> ClusterUnderTest:
        return self  # names() and find() below answer for the whole cluster

    def names(self) -> list[str]:
        return self.instances[0].hub.names()

    def find(self, name: str) -> Any:
        """The member as the instance it is connected to sees it."""
        for server in self.instances:
            member = server.hub.find(name)
            if member is not None and member.peer is not None:
                return member
        return None

    async def stop(self) -> None:
        for server in self.instances:
            await server.stop()


_prefixes = itertools.count(1)


@pytest.fixture
async def make_server(
    request: pytest.FixtureRequest, deployment: str
) -> AsyncIterator[ServerFactory]:
    """Start servers with custom options: `await make_server(rate=100, ping_after=0.2)`.

    Keyword arguments go to ServerConfig, or to HubConfig when they name one
    of its fields. Every server is stopped at the end of the test. When the
    test runs against a cluster, each call starts two instances on the
    session's Redis and returns them as one `ClusterUnderTest`.
    """
    redis: RedisServer | None = None
    if deployment == "cluster":
        marker = request.node.get_closest_marker("single_server")
        if marker is not None:
            pytest.skip(f"single server only: {marker.args[0]}")
        redis = request.getfixturevalue("redis_server")
    servers: list[ChatServer] = []
    hub_fields = set(HubConfig.__dataclass_fields__)
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    server_errors: list[dict[str, Any]] = []

    def record(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # An exception escaping a server callback is a bug even when the
        # connection's peer never notices (asyncio only logs it).
        if isinstance(context.get("protocol"), Connection) or "conexion_server" in repr(
            context.get("handle")
        ):
            server_errors.append(context)
        if previous_handler is not None:
            previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(record)

    async def start(**options: object) -> ChatServer:
        hub_opts = {k: v for k, v in options.items() if k in hub_fields}
        # Arrivals are announced at once unless a test is about their quiet
        # start: the other tests wait for `joined` frames.
        hub_opts.setdefault("quiet_arrival", 0.0)
        srv_opts = {k: v for k, v in options.items() if k not in hub_fields}
        srv_opts.setdefault("port", 0)  # a given port is for restarting on the same one
        # Nor are silent connections greeted, unless a test is about it.
        srv_opts.setdefault("greet_after", 0.0)
        config = ServerConfig(host="127.0.0.1", hub=HubConfig(**hub_opts), **srv_opts)
        if redis is not None:
            config = replace(config, cluster=redis.url, cluster_prefix=f"t{next(_prefixes)}:")
            instances = [ChatServer(config) for _ in range(2)]
            for instance in instances:
                await instance.start()
                servers.append(instance)
            return ClusterUnderTest(instances)  # type: ignore[return-value]
        server = ChatServer(config)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
    loop.set_exception_handler(previous_handler)
    assert not server_errors, f"exceptions escaped the server: {server_errors}"


@pytest.fixture
async def server(make_server: ServerFactory) -> ChatServer:
    """A server with default limits except a generous rate (tests send fast)."""
    return await make_server(rate=1000.0, burst=1000)


@pytest.fixture
async def peers(server: ChatServer) -> AsyncIterator[Callable[..., Awaitable[JsonPeer]]]:
    """`await peers("ana")`: a JSON peer that has joined as ana (closed afterwards)."""
    opened: list[JsonPeer] = []

    async def join(name: str | None = None) -> JsonPeer:
        peer = await JsonPeer.connect(server.port)
        opened.append(peer)
        if name is not None:
            await peer.hello(name)
        return peer

    yield join
    for peer in opened:
        await peer.close()


@pytest.fixture
async def text_peers(server: ChatServer) -> AsyncIterator[Callable[..., Awaitable[TextPeer]]]:
    """`await text_peers("bob")`: a plain-text peer that has chosen the name bob."""
    opened: list[TextPeer] = []

    async def join(name: str | None = None) -> TextPeer:
        peer = await TextPeer.connect(server.port)
        opened.append(peer)
        if name is not None:
            await peer.type(name)
            await peer.until(" online: ")
        return peer

    yield join
    for peer in opened:
        await peer.close()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await connect(server, "ana")`: a peer on any server (one from `make_server`).

    A JSON peer by default, a plain-text one with `text=True`; with `name=None`
    it only connects. Extra keywords go to `connect` (e.g. `rcvbuf`). Every
    peer is closed at the end of the test.
    """
    opened: list[JsonPeer | TextPeer] = []

    async def open_peer(
        server: ChatServer, name: str | None = None, *, text: bool = False, **options: Any
    ) -> JsonPeer | TextPeer:
        kind = TextPeer if text else JsonPeer
        peer = await kind.connect(server.port, **options)
        opened.append(peer)
        if name is not None:
            if isinstance(peer, TextPeer):
                await peer.type(name)
                await peer.until(" online: ")
            else:
                await peer.hello(name)
        return peer

    yield open_peer
    for peer in opened:
        await peer.close()


# -- TLS: certificates made on the spot with trustme, never downloaded -----------


@dataclass(frozen=True)
class TlsFiles:
    """A CA, a server certificate for 127.0.0.1 and localhost signed by it,
    as files (what `--tls-cert`, `--tls-key` and `--ca` take)."""

    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def server_options(self) -> dict[str, str]:
        return {"tls_cert": str(self.cert_file), "tls_key": str(self.key_file)}


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(ca, folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(files.ca_file)
    cert.cert_chain_pems[0].write_to_path(files.cert_file)
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(files.cert_file, append=True)
    cert.private_key_pem.write_to_path(files.key_file)
    return files
