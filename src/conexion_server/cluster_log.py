"""A cluster's log: the entries Redis's scripts append (messages, DMs,
joins, leaves, renames), decoded from their stream fields, and applied to
one instance's hub in log order. Pure: no Redis and no asyncio here, so every
rule of applying the log is tested without a Redis (`cluster.py` reads the
stream and hands the entries in).

The scripts in `cluster_scripts` write these fields; the names are short
because every entry stays in Redis for as long as the history does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from conexion_protocol import Ack, DirectMessage, LeftReason, Message, Stored, format_ts, name_key

from .backplane import Dispatch, Peer, relay_dm
from .hub import Hub

log = logging.getLogger(__name__)

# Field names of a log entry, and the kinds of entry.
KIND = "k"  # one of the kinds below
NAME = "n"  # who joined or left, or the new name of a rename
PREVIOUS = "p"  # the old name of a rename
OWNER = "o"  # `instance/connection` of whoever made the change
MILLIS = "ms"  # Redis's clock when the change was made, in milliseconds
WHY = "w"  # a leave's reason
SENDER = "f"
ROOM = "r"
TEXT = "x"
ACTION = "a"  # "1" for /me
RECIPIENT = "t"

MESSAGE, DM, JOIN, LEAVE, RENAME = "m", "d", "j", "l", "r"


class LogError(ValueError):
    """A log entry that no script of ours could have written."""


@dataclass(slots=True, frozen=True)
class Sent:
    """A room message or a DM, with the connection that sent it."""

    frame: Stored
    token: str


@dataclass(slots=True, frozen=True)
class Arrived:
    name: str
    token: str
    ts: str


@dataclass(slots=True, frozen=True)
class Departed:
    name: str
    token: str
    reason: LeftReason
    ts: str


@dataclass(slots=True, frozen=True)
class NameChanged:
    old: str
    new: str
    token: str
    ts: str


Entry = Sent | Arrived | Departed | NameChanged


def ts_of(millis: str) -> str:
    """A wire timestamp from Redis's milliseconds."""
    return format_ts(int(millis) / 1000)


def receipt(id: str, seen: str) -> Ack:
    """The ack of a remembered send id, which a script stores as "<seq> <ms>"."""
    try:
        seq, millis = seen.split(" ")
        return Ack(id=id, seq=int(seq), ts=ts_of(millis))
    except ValueError as exc:
        raise LogError(f"a remembered send id holds {seen!r}") from exc


def decode(entry_id: str, fields: dict[str, str]) -> Entry:
    """One stream entry as what it records; `LogError` for anything else."""
    try:
        kind = fields[KIND]
        token = fields.get(OWNER, "")
        ts = ts_of(fields[MILLIS])
        if kind == MESSAGE:
            frame: Stored = Message(
                seq=_seq(entry_id),
                ts=ts,
                room=fields[ROOM],
                from_=fields[SENDER],
                text=fields[TEXT],
                action=fields.get(ACTION) == "1",
            )
            return Sent(frame, token)
        if kind == DM:
            frame = DirectMessage(
                seq=_seq(entry_id),
                ts=ts,
                from_=fields[SENDER],
                to=fields[RECIPIENT],
                text=fields[TEXT],
            )
            return Sent(frame, token)
        if kind == JOIN:
            return Arrived(fields[NAME], token, ts)
        if kind == LEAVE:
            return Departed(fields[NAME], token, LeftReason(fields.get(WHY, "lost")), ts)
        if kind == RENAME:
            return NameChanged(fields[PREVIOUS], fields[NAME], token, ts)
    except (KeyError, ValueError) as exc:
        raise LogError(f"log entry {entry_id} is malformed: {exc!r}") from exc
    raise LogError(f"log entry {entry_id} has an unknown kind {kind!r}")


def _seq(entry_id: str) -> int:
    """A message's `seq`: its entry id is `<seq>-0`."""
    return int(entry_id.partition("-")[0])


@dataclass(slots=True, frozen=True)
class Applied:
    """What applying one entry settled for the instance's pending requests."""

    joined: str | None = None  # the token of a join of ours that is now in
    renamed: str | None = None  # the token of a rename of ours that is now in
    # (name key, token) of a join of ours whose peer went away meanwhile: its
    # leave must be logged too.
    orphan: tuple[str, str] | None = None


class Replica:
    """One instance's copy of the chat (the user list and recent history in
    its hub), kept by applying the log in order to every member alike, its
    own and the other instances'. It delivers each entry to its own peers."""

    def __init__(self, hub: Hub, dispatch: Dispatch) -> None:
        self.hub = hub
        self.dispatch = dispatch
        # Joins of ours that Redis accepted but the log has not shown yet:
        # the peer is welcomed when its join entry is applied.
        self.joining: dict[str, Peer] = {}

    def load(self, names: dict[str, str], owners: dict[str, str], recent: list[Stored]) -> None:
        """Start from a snapshot: who is online (name key -> name, and who
        holds it) and the recent history, oldest first."""
        hub = self.hub
        for key, name in names.items():
            hub.admit(hub.new_member(name, key, None, owners.get(key, "")))
        for frame in recent:
            hub.relay(frame)

    def apply(self, entry: Entry) -> Applied:
        match entry:
            case Sent():
                self._sent(entry)
            case Arrived():
                return self._arrived(entry)
            case Departed():
                self._departed(entry)
            case NameChanged():
                return self._renamed(entry)
        return Applied()

    def _sent(self, entry: Sent) -> None:
        hub, frame = self.hub, entry.frame
        origin = hub.local.get(name_key(frame.from_))
        if origin is not None and origin.token != entry.token:
            origin = None
        deliveries = hub.relay(frame, origin)
        if isinstance(frame, DirectMessage):
            relay_dm(deliveries, origin, self.dispatch)
        else:
            self.dispatch(deliveries)

    def _arrived(self, entry: Arrived) -> Applied:
        hub = self.hub
        key = name_key(entry.name)
        stale = hub.members.get(key)
        if stale is not None:  # missed its leave (a replica restart): replace it
            hub.remove(stale, LeftReason.LOST)
        pending = entry.token in self.joining
        peer = self.joining.pop(entry.token, None)
        orphan = None
        if peer is not None and peer.closing:
            orphan, peer = (key, entry.token), None
        member = hub.new_member(entry.name, key, peer, entry.token)
        welcome, deliveries = hub.admit(member)
        if peer is not None and welcome is not None:
            peer.welcomed(member, welcome)
        self.dispatch(deliveries)
        return Applied(joined=entry.token if pending else None, orphan=orphan)

    def _departed(self, entry: Departed) -> None:
        hub = self.hub
        member = hub.members.get(name_key(entry.name))
        if member is None or member.token != entry.token:
            return
        peer = member.peer
        self.dispatch(hub.remove(member, entry.reason, entry.ts))
        if peer is not None and not peer.closing:
            # The cluster gave this instance up for dead while it was cut
            # off; its users must come back in (the TUI reconnects).
            log.warning("%s was dropped by the cluster; closing its connection", member.name)
            peer.close(LeftReason.LOST)

    def _renamed(self, entry: NameChanged) -> Applied:
        hub = self.hub
        member = hub.members.get(name_key(entry.old))
        if member is None or member.token != entry.token:
            return Applied()
        self.dispatch(hub.apply_rename(member, entry.new, name_key(entry.new), entry.ts))
        return Applied(renamed=entry.token)
