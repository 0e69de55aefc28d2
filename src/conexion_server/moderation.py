"""What moderation leaves behind in a room (or the whole server): roles,
mutes, bans, invitations, the room's settings and its join code; and who
outranks whom.

The state is kept as flat fields, text to text, which is the form the stores
keep (SQLite rows, a Redis hash) and the cluster's log carries. A change is a
set of fields to write (None deletes one), and `Rules.apply` is the one place
that reads them, whether they come from this server's own decision, from the
store at start, or from another instance's log entry. Pure data and rules:
no I/O, no clock of its own (times are given).

Fields:

    role:KEY     owner | moderator        (accounts only)
    mute:KEY     a Sanction (JSON)        a name key
    mute@ADDR    a Sanction (JSON)        a guest's address
    ban:KEY, ban@ADDR                     the same, for bans
    invite:KEY   "1"
    mode         a RoomMode (JSON)
    code         the join code
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import msgspec

from conexion_protocol import (
    UNSET,
    Mod,
    ModAction,
    Mode,
    Moderation,
    Role,
    RoomMode,
    UnsetType,
    format_ts,
    name_key,
)

from . import refusals

ROLE = "role:"
MUTE = "mute"
BAN = "ban"
INVITE = "invite:"
MODE = "mode"
CODE = "code"
BY_KEY = ":"
BY_ADDRESS = "@"

# Join codes: read out in a classroom and typed, so letters that are not
# mistaken for others.
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class Rank(IntEnum):
    """Who may act on whom: only on someone of a lower rank."""

    GUEST = 0
    MEMBER = 1  # registered
    MODERATOR = 2
    OWNER = 3
    ADMIN = 4


class Sanction(msgspec.Struct, omit_defaults=True):
    """A mute or a ban: by whom, when, why and until when (wall-clock
    seconds; None until lifted)."""

    by: str
    ts: str
    name: str  # the target, as it was called
    until: float | None = None
    reason: str = ""

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


_sanction_decoder = msgspec.json.Decoder(Sanction)
_mode_decoder = msgspec.json.Decoder(RoomMode)


def encode_sanction(sanction: Sanction) -> str:
    return msgspec.json.encode(sanction).decode()


def encode_mode(mode: RoomMode) -> str:
    return msgspec.json.encode(mode).decode()


def sanction_field(kind: str, key: str = "", address: str = "") -> str:
    """The field of a mute or ban (`kind`) on a name key, or on an address."""
    return f"{kind}{BY_ADDRESS}{address}" if address else f"{kind}{BY_KEY}{key}"


def new_code() -> str:
    return "-".join("".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)) for _ in range(2))


class BadField(ValueError):
    """A stored or relayed field this server cannot read."""


@dataclass(slots=True)
class Rules:
    """One room's moderation state (or the server's: only bans)."""

    roles: dict[str, Role] = field(default_factory=dict)  # name key -> role
    mutes: dict[str, Sanction] = field(default_factory=dict)  # field -> sanction
    bans: dict[str, Sanction] = field(default_factory=dict)
    invites: set[str] = field(default_factory=set)  # name keys
    mode: RoomMode = field(default_factory=RoomMode)
    code: str = ""

    def apply(self, changes: Mapping[str, str | None]) -> None:
        """Write `changes` (None deletes a field); raise BadField for one
        that cannot be read, having applied those before it."""
        for name, value in changes.items():
            try:
                self._apply(name, value)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                raise BadField(f"moderation field {name!r}: {exc}") from exc

    def _apply(self, name: str, value: str | None) -> None:
        if name.startswith(ROLE):
            key = name.removeprefix(ROLE)
            if value is None:
                self.roles.pop(key, None)
            else:
                self.roles[key] = Role(value)
        elif name.startswith((MUTE + BY_KEY, MUTE + BY_ADDRESS)):
            _set(self.mutes, name, value)
        elif name.startswith((BAN + BY_KEY, BAN + BY_ADDRESS)):
            _set(self.bans, name, value)
        elif name.startswith(INVITE):
            key = name.removeprefix(INVITE)
            if value is None:
                self.invites.discard(key)
            else:
                self.invites.add(key)
        elif name == MODE:
            self.mode = RoomMode() if value is None else _mode_decoder.decode(value)
        elif name == CODE:
            self.code = value or ""
        else:
            raise ValueError("unknown field")

    def sanction(
        self, kind: str, key: str, address: str, *, guest: bool, now: float
    ) -> Sanction | None:
        """The mute or ban (`kind`) in force on a name key, or on a guest's
        address: registered people are never caught by an address."""
        table = self.mutes if kind == MUTE else self.bans
        found = table.get(sanction_field(kind, key))
        if (found is None or not found.active(now)) and guest and address:
            found = table.get(sanction_field(kind, address=address))
        return found if found is not None and found.active(now) else None

    def expired(self, now: float) -> dict[str, None]:
        """Deletions for the sanctions that have run out (kept tidy at
        start; a run-out sanction is ignored in any case)."""
        return {
            name: None
            for table in (self.mutes, self.bans)
            for name, sanction in table.items()
            if not sanction.active(now)
        }


def _set(table: dict[str, Sanction], name: str, value: str | None) -> None:
    if value is None:
        table.pop(name, None)
    else:
        table[name] = _sanction_decoder.decode(value)


# -- decisions: who may do what to whom, and what it changes ------------------------------


class Effect(StrEnum):
    """What an action does to its target besides the fields it writes."""

    NONE = ""
    KICK = "kick"  # leaves the room
    BAN = "ban"  # leaves the room (and is kept out by its fields)
    SERVER_BAN = "server_ban"  # its connection is closed


class DeleteChange(msgspec.Struct, omit_defaults=True):
    """A message of a room deleted: by its author, or (with `news`, which
    the audit keeps) by staff."""

    room: str  # key
    seq: int
    by: str
    ts: str
    news: Moderation | None = None


class ModChange(msgspec.Struct, omit_defaults=True):
    """One decided action: the fields it writes in a scope (a room's key, or
    "" for the whole server), the news of it, and its effect on the target.
    A single server applies it at once; a cluster sends it through its log."""

    scope: str
    changes: dict[str, str | None]
    news: Moderation
    actor: str = ""  # name keys
    target: str = ""
    effect: Effect = Effect.NONE


@dataclass(slots=True, frozen=True)
class Person:
    """Someone as a decision sees them: the actor, or the target (who may be
    offline)."""

    name: str
    key: str
    rank: Rank
    address: str = ""  # where a guest connects from, if online
    online: bool = False
    in_room: bool = False


def _what(rank: Rank) -> str:
    return {
        Rank.ADMIN: "an admin",
        Rank.OWNER: "an owner of the room",
        Rank.MODERATOR: "a moderator of the room",
    }.get(rank, "a member")


def decide_mod(
    mod: Mod,
    rules: Rules,
    *,
    scope: str,
    room: str,
    actor: Person,
    target: Person,
    now: float,
    ts: str,
    reason: str,
) -> ModChange:
    """The change `mod` makes in `scope` (`room` is its name as shown, "" for
    the server), or a refusal: the actor must be staff there and outrank the
    target; roles only for registered people; ... (see docs/protocol.md)."""
    action = mod.action
    if action in (ModAction.MODE, ModAction.CODE):
        raise refusals.not_a_person_action(action)
    if scope == "" and action not in (ModAction.BAN, ModAction.UNBAN):
        raise refusals.server_wide_bans_only()
    needed = Rank.ADMIN if scope == "" else Rank.MODERATOR
    role = mod.role if isinstance(mod.role, str) else Role.MODERATOR
    if action == ModAction.OP and role == Role.OWNER:
        needed = Rank.OWNER
    if actor.rank < needed:
        if needed == Rank.ADMIN:
            raise refusals.not_admin()
        raise refusals.not_owner(room) if needed == Rank.OWNER else refusals.not_staff(room)
    if target.key == actor.key:
        raise refusals.not_yourself()
    if target.rank >= actor.rank:
        raise refusals.outranked(target.name, _what(target.rank))
    shown_room = room or UNSET
    news = Moderation(action=action, by=actor.name, ts=ts, room=shown_room, name=target.name)
    if reason:
        news.reason = reason
    changes: dict[str, str | None] = {}
    effect = Effect.NONE
    guest = target.rank == Rank.GUEST
    match action:
        case ModAction.KICK:
            if not target.in_room:
                raise refusals.not_here(target.name, room)
            effect = Effect.KICK
        case ModAction.MUTE | ModAction.BAN:
            kind = MUTE if action == ModAction.MUTE else BAN
            until = now + mod.minutes * 60 if isinstance(mod.minutes, int) else None
            if until is not None:
                news.until = format_ts(until)
            sanction = encode_sanction(Sanction(actor.name, ts, target.name, until, reason))
            changes[sanction_field(kind, target.key)] = sanction
            if guest and target.address:
                # A guest can take another name; its address stays.
                changes[sanction_field(kind, address=target.address)] = sanction
            if action == ModAction.BAN:
                effect = Effect.SERVER_BAN if scope == "" else Effect.BAN
        case ModAction.UNMUTE | ModAction.UNBAN:
            kind = MUTE if action == ModAction.UNMUTE else BAN
            changes[sanction_field(kind, target.key)] = None
            # And every address it was caught by, online now or not.
            table = rules.mutes if kind == MUTE else rules.bans
            for name, sanction in table.items():
                if name.startswith(kind + BY_ADDRESS) and name_key(sanction.name) == target.key:
                    changes[name] = None
        case ModAction.OP:
            if role not in (Role.MODERATOR, Role.OWNER):
                raise refusals.no_grantable_role(role)
            if guest:
                raise refusals.roles_need_accounts(target.name)
            changes[ROLE + target.key] = role
            news.role = role
        case ModAction.DEOP:
            if target.rank not in (Rank.MODERATOR, Rank.OWNER):
                raise refusals.no_role_to_take(target.name, room)
            changes[ROLE + target.key] = None
            news.role = Role.OWNER if target.rank == Rank.OWNER else Role.MODERATOR
        case ModAction.INVITE:
            changes[INVITE + target.key] = "1"
    return ModChange(scope, changes, news, actor.key, target.key, effect)


def decide_mode(
    frame: Mode, rules: Rules, *, scope: str, room: str, actor: Person, ts: str
) -> ModChange:
    """The settings `frame` changes (staff only); a private room gets a
    join code the first time."""
    if actor.rank < Rank.MODERATOR:
        raise refusals.not_staff(room)
    old = rules.mode
    mode = RoomMode(
        moderated=old.moderated if isinstance(frame.moderated, UnsetType) else frame.moderated,
        slow=old.slow if isinstance(frame.slow, UnsetType) else frame.slow,
        private=old.private if isinstance(frame.private, UnsetType) else frame.private,
        topic_lock=old.topic_lock if isinstance(frame.topic_lock, UnsetType) else frame.topic_lock,
    )
    changes: dict[str, str | None] = {MODE: encode_mode(mode)}
    if mode.private and not rules.code:
        changes[CODE] = new_code()
    news = Moderation(action=ModAction.MODE, by=actor.name, ts=ts, room=room, mode=mode)
    return ModChange(scope, changes, news, actor.key)


def decide_code(rules: Rules, *, scope: str, room: str, actor: Person, ts: str) -> ModChange:
    """A new join code for a private room (owners and admins)."""
    if actor.rank < Rank.OWNER:
        raise refusals.not_owner(room)
    if not rules.mode.private:
        raise refusals.not_private(room)
    news = Moderation(action=ModAction.CODE, by=actor.name, ts=ts, room=room)
    return ModChange(scope, {CODE: new_code()}, news, actor.key)
