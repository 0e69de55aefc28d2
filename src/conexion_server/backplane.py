"""How a change reaches the chat: the interface the request handlers use.

A single server decides everything at once in its hub (`LocalBackplane`).
A cluster (`cluster.RedisBackplane`) must first order the change in Redis, so
its answers are awaitables. The handlers pass every answer to
`Connection.then`, which runs the continuation at once for a plain value and,
for an awaitable, holds the connection's later lines until it is done; so one
connection's requests are answered in order either way, and a single server
pays nothing for the cluster's existence.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, TypeVar

from conexion_protocol import Ack, HistoryReply, LeftReason

if TYPE_CHECKING:
    from .connection import Connection
    from .hub import Hub, Member
    from .server import ChatServer

T = TypeVar("T")
Maybe = T | Awaitable[T]
"""A result now (single server) or later (cluster)."""


class Backplane(Protocol):
    """Each method checks what it can at once (raising `ProtocolError`), then
    applies the change or hands it on. Deliveries to other peers are the
    backplane's business; the return value is the answer for the asker."""

    def join(self, conn: Connection, raw_name: str) -> Maybe[None]:
        """On success, `conn.welcomed(member, welcome)` has been called."""
        ...

    def say(
        self, member: Member, text: str, *, id: str | None, room: str, action: bool
    ) -> Maybe[Ack]: ...

    def dm(self, member: Member, to: str, text: str, *, id: str | None) -> Maybe[tuple[Ack, str]]:
        """The ack and the recipient's name as the chat spells it."""
        ...

    def rename(self, member: Member, raw_name: str) -> Maybe[None]: ...

    def history(
        self, room: str, before: int | None, limit: int, member: Member
    ) -> Maybe[HistoryReply]: ...

    def leave(self, member: Member, reason: LeftReason) -> None:
        """Fire and forget: the connection is gone either way."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """After every connection is closed."""
        ...


class LocalBackplane:
    """One process: the hub decides, the server dispatches, nothing waits."""

    def __init__(self, server: ChatServer, hub: Hub) -> None:
        self.server = server
        self.hub = hub

    def join(self, conn: Connection, raw_name: str) -> None:
        member, welcome, deliveries = self.hub.join(raw_name, conn)
        conn.welcomed(member, welcome)
        self.server.dispatch(deliveries)

    def say(self, member: Member, text: str, *, id: str | None, room: str, action: bool) -> Ack:
        ack, deliveries = self.hub.say(member, text, id=id, room=room, action=action)
        self.server.dispatch(deliveries)
        return ack

    def dm(self, member: Member, to: str, text: str, *, id: str | None) -> tuple[Ack, str]:
        ack, deliveries = self.hub.dm(member, to, text, id=id)
        if deliveries and deliveries[0].to[0] is member:
            # A note to oneself: the ack comes first, as for any other DM.
            member.peer.after_answer(lambda: self.server.dispatch(deliveries))
        else:
            self.server.dispatch(deliveries)
        # A repeated id relays nothing; the recipient is then the one asked for.
        return ack, deliveries[0].to[0].name if deliveries else to

    def rename(self, member: Member, raw_name: str) -> None:
        self.server.dispatch(self.hub.rename(member, raw_name))

    def history(self, room: str, before: int | None, limit: int, member: Member) -> HistoryReply:
        return self.hub.history(room, before, limit, member)

    def leave(self, member: Member, reason: LeftReason) -> None:
        deliveries = self.hub.leave(member, reason)
        if not self.server.stopping:
            self.server.dispatch(deliveries)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
