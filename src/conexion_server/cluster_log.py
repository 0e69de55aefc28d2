"""A cluster's logs: the entries Redis's scripts append, decoded from their
stream fields, and applied to one instance's hub in log order. Pure: no
Redis and no asyncio here, so every rule of applying the logs is tested
without a Redis (`cluster.py` reads the streams and hands the entries in).

There are two kinds of log. The global one says who came, went or changed
name, which rooms were created, and carries DMs. Each room has its own,
with its messages, joins, parts and topics. The scripts in
`cluster_scripts` write these fields; the names are short because every
entry stays in Redis for as long as the history does.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from conexion_protocol import (
    UNSET,
    Ack,
    DirectMessage,
    LeftReason,
    Message,
    Reaction,
    Role,
    RoomInfo,
    Stored,
    format_ts,
    name_key,
    parse_room,
)

from .accounts import Account
from .actions import EditChange, ReactChange
from .backplane import Dispatch, Peer, close_banned, relay_dm
from .classroom import HandChange, SeenChange
from .hub import Hub, Member, Room
from .moderation import ROLE, BadField, DeleteChange, ModChange
from .store import ACTION_FLAG, ANNOUNCEMENT_FLAG

log = logging.getLogger(__name__)

# Field names of a log entry, and the kinds of entry.
KIND = "k"  # one of the kinds below
NAME = "n"  # who joined or left, the new name of a rename, a topic's setter, a room's name
PREVIOUS = "p"  # the old name of a rename
OWNER = "o"  # `instance/connection` of whoever made the change
MILLIS = "ms"  # Redis's clock when the change was made, in milliseconds
WHY = "w"  # a leave's reason
SENDER = "f"
ROOM = "r"
TEXT = "x"  # a message's text, or a topic
ACTION = "a"  # the message's flags (store.ACTION_FLAG, ANNOUNCEMENT_FLAG) as a number
RECIPIENT = "t"
SEQ = "s"  # a DM's seq (in the global log, where entry ids are not seqs)
USER = "u"  # who joined: "" a guest, "user" or "admin"; in a room: the owner it made
ADDRESS = "a"  # where a joining connection comes from
MOD_FIELD = "m."  # a moderation field in a room's meta hash (or the server's)

MESSAGE, DM, JOIN, LEAVE, RENAME, CREATED, TOPIC = "m", "d", "j", "l", "r", "c", "t"
MODERATED = "z"
HAND, SEEN, ERASED = "h", "v", "e"
EDITED, REACTED = "y", "+"
REPLY_TO, REPLY_FROM = "q", "qf"  # a reply's seq and its author
NAMES = "n"  # in a reaction's entry: who has that emoji now, JSON [[key, name], ...]
STATE = "w"  # in a reaction's entry: "1" given, "0" taken back


class LogError(ValueError):
    """A log entry that no script of ours could have written."""


# -- global entries ----------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Online:
    """Someone joined the chat (and with it `general`)."""

    name: str
    token: str
    ts: str
    account: str = ""  # "" a guest, "user" or "admin"
    address: str = ""


@dataclass(slots=True, frozen=True)
class Offline:
    """Someone's connection ended: they leave every room."""

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


@dataclass(slots=True, frozen=True)
class RoomCreated:
    name: str


@dataclass(slots=True, frozen=True)
class Sent:
    """A room message (from a room's log) or a DM (from the global log),
    with the connection that sent it."""

    frame: Stored
    token: str


# -- room entries --------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Entered:
    room: str  # key
    name: str
    token: str
    ts: str
    owner: str = ""  # the name key of the registered creator it made the owner


@dataclass(slots=True, frozen=True)
class HandMoved:
    change: HandChange
    token: str


@dataclass(slots=True, frozen=True)
class Erased:
    change: DeleteChange
    token: str


@dataclass(slots=True, frozen=True)
class Revised:
    change: EditChange
    token: str


@dataclass(slots=True, frozen=True)
class ReactionSet:
    change: ReactChange
    token: str


@dataclass(slots=True, frozen=True)
class Acknowledged:
    change: SeenChange


@dataclass(slots=True, frozen=True)
class Moderated:
    """A moderator's action, in a room's log or (the server's) the global one."""

    change: ModChange
    token: str  # the actor's connection


@dataclass(slots=True, frozen=True)
class Parted:
    room: str  # key
    name: str
    token: str
    reason: LeftReason
    ts: str


@dataclass(slots=True, frozen=True)
class TopicSet:
    room: str  # key
    topic: str
    by: str
    token: str
    ts: str


Entry = (
    Online
    | Offline
    | NameChanged
    | RoomCreated
    | Sent
    | Entered
    | Parted
    | TopicSet
    | Moderated
    | HandMoved
    | Acknowledged
    | Erased
    | Revised
    | ReactionSet
)

_change_decoder = msgspec.json.Decoder(ModChange)
_hand_decoder = msgspec.json.Decoder(HandChange)
_seen_decoder = msgspec.json.Decoder(SeenChange)
_delete_decoder = msgspec.json.Decoder(DeleteChange)
_edit_decoder = msgspec.json.Decoder(EditChange)
_react_decoder = msgspec.json.Decoder(ReactChange)
_reactors_decoder = msgspec.json.Decoder(list[tuple[str, str]] | dict[str, Any])


def reactor_names(raw: str) -> list[str]:
    """The names in a reaction list as REACT keeps it ([[key, name], ...];
    an empty one is `{}`, as Lua's JSON writes an empty table)."""
    pairs = _reactors_decoder.decode(raw)
    return [name for _, name in pairs] if isinstance(pairs, list) else []


_reactions_decoder = msgspec.json.Decoder(list[tuple[str, list[tuple[str, str]]]])


def decode_reactions(raw: str) -> list[Reaction]:
    """A message's reactions as a room's `reacts` hash keeps them."""
    return [
        Reaction(emoji, [name for _, name in pairs])
        for emoji, pairs in _reactions_decoder.decode(raw)
    ]


def encode_change(change: ModChange) -> str:
    return msgspec.json.encode(change).decode()


def _moderated(fields: dict[str, str], token: str) -> Moderated:
    try:
        return Moderated(_change_decoder.decode(fields[TEXT]), token)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(str(exc)) from exc


def mod_fields(meta: dict[str, str]) -> dict[str, str]:
    """The moderation fields of a room's meta hash (or the server's)."""
    return {k.removeprefix(MOD_FIELD): v for k, v in meta.items() if k.startswith(MOD_FIELD)}


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


def decode_global(entry_id: str, fields: dict[str, str]) -> Entry:
    """One entry of the global log; `LogError` for anything else."""
    try:
        kind = fields[KIND]
        token = fields.get(OWNER, "")
        if kind == CREATED:
            return RoomCreated(fields[NAME])
        ts = ts_of(fields[MILLIS])
        if kind == JOIN:
            return Online(fields[NAME], token, ts, fields.get(USER, ""), fields.get(ADDRESS, ""))
        if kind == LEAVE:
            return Offline(fields[NAME], token, LeftReason(fields.get(WHY, "lost")), ts)
        if kind == RENAME:
            return NameChanged(fields[PREVIOUS], fields[NAME], token, ts)
        if kind == MODERATED:
            return _moderated(fields, token)
        if kind == DM:
            frame = DirectMessage(
                seq=int(fields[SEQ]),
                ts=ts,
                from_=fields[SENDER],
                to=fields[RECIPIENT],
                text=fields[TEXT],
            )
            return Sent(frame, token)
    except (KeyError, ValueError) as exc:
        raise LogError(f"log entry {entry_id} is malformed: {exc!r}") from exc
    raise LogError(f"log entry {entry_id} has an unknown kind {kind!r}")


def decode_room(room: str, entry_id: str, fields: dict[str, str]) -> Entry:
    """One entry of the log of the room with key `room`."""
    try:
        kind = fields[KIND]
        token = fields.get(OWNER, "")
        ts = ts_of(fields[MILLIS])
        if kind == MESSAGE:
            flags = int(fields.get(ACTION) or 0)
            reply = fields.get(REPLY_TO)
            frame = Message(
                seq=seq_of(entry_id),
                ts=ts,
                room=fields[ROOM],
                from_=fields[SENDER],
                text=fields[TEXT],
                action=bool(flags & ACTION_FLAG),
                announcement=bool(flags & ANNOUNCEMENT_FLAG),
                reply_to=int(reply) if reply else UNSET,
                reply_from=fields[REPLY_FROM] if reply else UNSET,
            )
            return Sent(frame, token)
        if kind == EDITED:
            return Revised(_edit_decoder.decode(fields[TEXT]), token)
        if kind == REACTED:
            change = _react_decoder.decode(fields[TEXT])
            change.names = reactor_names(fields[NAMES])
            change.on = fields[STATE] == "1"
            return ReactionSet(change, token)
        if kind == JOIN:
            return Entered(room, fields[NAME], token, ts, fields.get(USER, ""))
        if kind == HAND:
            return HandMoved(_hand_decoder.decode(fields[TEXT]), token)
        if kind == SEEN:
            return Acknowledged(_seen_decoder.decode(fields[TEXT]))
        if kind == ERASED:
            return Erased(_delete_decoder.decode(fields[TEXT]), token)
        if kind == MODERATED:
            return _moderated(fields, token)
        if kind == LEAVE:
            return Parted(room, fields[NAME], token, LeftReason(fields.get(WHY, "part")), ts)
        if kind == TOPIC:
            return TopicSet(room, fields[TEXT], fields[NAME], token, ts)
    except (KeyError, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LogError(f"log entry {entry_id} of {room} is malformed: {exc!r}") from exc
    raise LogError(f"log entry {entry_id} of {room} has an unknown kind {kind!r}")


def decode_dm(entry_id: str, fields: dict[str, str]) -> DirectMessage:
    """One entry of a DM conversation's history."""
    try:
        return DirectMessage(
            seq=seq_of(entry_id),
            ts=ts_of(fields[MILLIS]),
            from_=fields[SENDER],
            to=fields[RECIPIENT],
            text=fields[TEXT],
        )
    except (KeyError, ValueError) as exc:
        raise LogError(f"DM entry {entry_id} is malformed: {exc!r}") from exc


def account_kind(account: Account | None) -> str:
    """How a join entry says what kind of account came in."""
    if account is None:
        return ""
    return "admin" if account.admin else "user"


def encode_account(account: Account) -> str:
    """An account as a value of the `{g}:accounts` hash."""
    return json.dumps(
        {
            "name": account.name,
            "hash": account.hash,
            "admin": account.admin,
            "temporary": account.temporary,
        }
    )


def decode_account(key: str, value: str | None) -> Account | None:
    if value is None:
        return None
    try:
        fields = json.loads(value)
        return Account(
            key,
            str(fields["name"]),
            str(fields["hash"]),
            admin=bool(fields.get("admin")),
            temporary=bool(fields.get("temporary")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LogError(f"the account of {key} is malformed: {exc!r}") from exc


def seq_of(entry_id: str) -> int:
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
    # (token, room key) of an enter, part or topic of ours now applied, and
    # for an enter the room as the peer finds it.
    settled: tuple[str, str] | None = None
    info: RoomInfo | None = None
    created: str | None = None  # the key of a room new to this replica (follow its log)


@dataclass(slots=True)
class _Later:
    """Room memberships a snapshot found for tokens whose arrival the global
    log has yet to show: they came online after the global snapshot."""

    rooms: list[Room] = field(default_factory=list)
    since: float = 0.0


class Replica:
    """One instance's copy of the chat (who is online, every room, recent
    history in its hub), kept by applying the logs in order to every member
    alike, its own and the other instances'. It delivers each entry to its
    own peers."""

    def __init__(
        self, hub: Hub, dispatch: Dispatch, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hub = hub
        self.dispatch = dispatch
        self._clock = clock
        # Joins of ours that Redis accepted but the log has not shown yet:
        # the peer is welcomed when its join entry is applied.
        self.joining: dict[str, Peer] = {}
        # Their accounts (None: a guest), known here from the login.
        self.accounts: dict[str, Account | None] = {}
        self.by_token: dict[str, Member] = {}
        self._later: dict[str, _Later] = {}

    # -- starting from snapshots ---------------------------------------------------

    def load_global(self, names: dict[str, str], owners: dict[str, str]) -> None:
        """Who is online (name key -> name, and who holds it)."""
        hub = self.hub
        for key, name in names.items():
            member = hub.new_member(name, key, None, owners.get(key, ""))
            hub.admit(member)
            self.by_token[member.token] = member

    def load_room(
        self, name: str, meta: dict[str, str], tokens: list[str], recent: list[Stored]
    ) -> Room:
        """A room as its snapshot found it: its topic, its members (tokens
        online by the global snapshot; the rest come in with their arrival),
        and its recent history, oldest first."""
        hub = self.hub
        room = self._room(name)
        room.topic = meta.get("topic", "")
        room.topic_by = meta.get("topic_by") or None
        millis = meta.get("topic_ts")
        room.topic_ts = ts_of(millis) if millis else None
        try:
            room.rules.apply(mod_fields(meta))
        except BadField as exc:
            raise LogError(f"{exc} of room {name}") from exc
        now = self._clock()
        for token in tokens:
            member = self.by_token.get(token)
            if member is None:
                later = self._later.setdefault(token, _Later(since=now))
                later.rooms.append(room)
            elif room.key not in member.rooms:
                hub.enter(member, room)
        for frame in recent:
            hub.relay(frame)
        return room

    def forget_stale(self, older_than: float) -> None:
        """Drop snapshot memberships of tokens that never came online."""
        cut = self._clock() - older_than
        for token in [t for t, later in self._later.items() if later.since < cut]:
            del self._later[token]

    # -- applying entries -------------------------------------------------------------

    def apply(self, entry: Entry) -> Applied:
        match entry:
            case Sent():
                self._sent(entry)
            case Online():
                return self._online(entry)
            case Offline():
                self._offline(entry)
            case NameChanged():
                return self._renamed(entry)
            case RoomCreated(name=name):
                key = parse_room(name)[1]
                if key not in self.hub.rooms:
                    self._room(name)
                    return Applied(created=key)
            case Entered():
                return self._entered(entry)
            case Parted():
                return self._parted(entry)
            case TopicSet():
                return self._topic(entry)
            case Moderated():
                return self._moderated(entry)
            case HandMoved(change=change, token=token):
                self.dispatch(self.hub.apply_hand(change))
                return Applied(settled=(token, change.room))
            case Acknowledged(change=change):
                self.dispatch(self.hub.apply_seen(change))
            case Erased(change=change, token=token):
                self.dispatch(self.hub.apply_delete(change, keep=False))
                return Applied(settled=(token, change.room))
            case Revised(change=change, token=token):
                self.dispatch(self.hub.apply_edit(change))
                return Applied(settled=(token, change.room))
            case ReactionSet(change=change, token=token):
                self.dispatch(self.hub.apply_react(change))
                return Applied(settled=(token, change.room))
        return Applied()

    def _room(self, name: str) -> Room:
        display, key = parse_room(name)
        room = self.hub.rooms.get(key)
        return room if room is not None else self.hub.create_room(display, key)

    def _sent(self, entry: Sent) -> None:
        hub, frame = self.hub, entry.frame
        origin = self.by_token.get(entry.token)
        if origin is not None and origin.peer is None:
            origin = None  # someone else's: every local member hears it
        if isinstance(frame, DirectMessage):
            relay_dm(hub.relay(frame, origin), origin, self.dispatch)
            return
        if name_key(frame.room) not in hub.rooms:
            self._room(frame.room)  # a room whose creation this replica missed
        self.dispatch(hub.relay(frame, origin))

    def _online(self, entry: Online) -> Applied:
        hub = self.hub
        key = name_key(entry.name)
        stale = hub.members.get(key)
        if stale is not None:  # missed its leave (a replica restart): replace it
            hub.remove(stale, LeftReason.LOST)
            self.by_token.pop(stale.token, None)
        pending = entry.token in self.joining
        peer = self.joining.pop(entry.token, None)
        orphan = None
        if peer is not None and peer.closing:
            orphan, peer = (key, entry.token), None
        member = hub.new_member(entry.name, key, peer, entry.token)
        member.account = self.accounts.pop(entry.token, None) or _remote_account(key, entry)
        member.address = peer.address if peer is not None else entry.address
        self.by_token[entry.token] = member
        welcome, deliveries = hub.admit(member, entry.ts)
        later = self._later.pop(entry.token, None)
        if later is not None:
            for room in later.rooms:
                if room.key not in member.rooms:
                    hub.enter(member, room)  # before this replica started: old news
        if peer is not None and welcome is not None:
            peer.welcomed(member, welcome)
        self.dispatch(deliveries)
        return Applied(joined=entry.token if pending else None, orphan=orphan)

    def _offline(self, entry: Offline) -> None:
        hub = self.hub
        member = self.by_token.pop(entry.token, None)
        if member is None or hub.members.get(member.key) is not member:
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
        member = self.by_token.get(entry.token)
        if member is None or hub.members.get(name_key(entry.old)) is not member:
            return Applied()
        self.dispatch(hub.apply_rename(member, entry.new, name_key(entry.new), entry.ts))
        return Applied(renamed=entry.token)

    def _entered(self, entry: Entered) -> Applied:
        hub = self.hub
        member = self.by_token.get(entry.token)
        room = hub.rooms.get(entry.room)
        if member is None or room is None:
            return Applied()  # its owner went away first; the room set is tidied by them
        if entry.owner:
            hub.apply_fields(room.key, {ROLE + entry.owner: Role.OWNER}, keep=False)
        info, deliveries = hub.enter(member, room, entry.ts)
        self.dispatch(deliveries)
        return Applied(settled=(entry.token, room.key), info=info)

    def _parted(self, entry: Parted) -> Applied:
        hub = self.hub
        member = self.by_token.get(entry.token)
        room = hub.rooms.get(entry.room)
        if member is None or room is None:
            return Applied()
        self.dispatch(hub.part(member, room, entry.reason, entry.ts))
        return Applied(settled=(entry.token, room.key))

    def _topic(self, entry: TopicSet) -> Applied:
        hub = self.hub
        room = hub.rooms.get(entry.room)
        if room is None:
            return Applied()
        self.dispatch(hub.apply_topic(room, entry.topic, entry.by, entry.ts))
        return Applied(settled=(entry.token, room.key))

    def _moderated(self, entry: Moderated) -> Applied:
        change = entry.change
        try:
            deliveries, banned = self.hub.apply_mod(change, keep=False)
        except BadField as exc:
            raise LogError(f"a moderation entry of {change.scope or 'the server'}: {exc}") from exc
        self.dispatch(deliveries)
        close_banned(banned)
        return Applied(settled=(entry.token, change.scope))


def _remote_account(key: str, entry: Online) -> Account | None:
    """What an instance knows of another's member's account: that it has
    one, and whether it is an admin (never its hash)."""
    if not entry.account:
        return None
    return Account(key, entry.name, "", admin=entry.account == "admin")
