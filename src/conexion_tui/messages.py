"""The Textual messages the network worker posts to the app (through the event batcher). Data
only: they must not carry widgets, sockets or anything to call back.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from conexion_protocol import Welcome

from .client import ClientEvent, State


@dataclass
class NetEvents(Message):
    """Everything that arrived within one batch window, in order."""

    events: tuple[ClientEvent, ...]


@dataclass
class StatusUpdate(Message):
    """The connection's state and round-trip time. Only the latest matters,
    so a queued one is replaced by a newer one."""

    state: State
    detail: str
    rtt: float | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusUpdate)


@dataclass
class SessionStarted(Message):
    """`hello` was welcomed: the chat screen can open."""

    welcome: Welcome


@dataclass
class JoinFailed(Message):
    """`hello` failed: `code` is the server's error code, or `unreachable` /
    `closed`; `message` says why in words."""

    code: str
    message: str
