"""The chat itself: members, rooms, each conversation's `seq`, history,
idempotent sends, rate limits and fan-out decisions, and every rule that may
refuse a change, shared by a single server and a cluster. No sockets and no
asyncio here: the hub returns what must be sent to whom, and the I/O layer
sends it.
"""

from __future__ import annotations

import bisect
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import msgspec

from conexion_protocol import (
    DEFAULT_ROOM,
    DEFAULT_SEARCH_LIMIT,
    FEATURE_ACCOUNTS,
    FEATURE_ACTIONS,
    FEATURE_MODERATION,
    FEATURE_ROOMS,
    FEATURE_SEARCH,
    MAX_HISTORY_LIMIT,
    MAX_REACTIONS,
    MAX_REASON_LEN,
    MAX_SEARCH_LEN,
    PROTO_VERSION,
    UNSET,
    Ack,
    AuditLog,
    CodeInfo,
    Deleted,
    DirectMessage,
    Edited,
    Found,
    Hand,
    HandNews,
    HandQueue,
    HandState,
    HistoryReply,
    Joined,
    Left,
    LeftReason,
    Message,
    Mod,
    ModAction,
    Mode,
    Moderation,
    ProtocolError,
    Reacted,
    Registered,
    Renamed,
    Role,
    RoomInfo,
    RoomList,
    RoomMode,
    RoomSummary,
    SeenCount,
    Stored,
    Struct,
    TopicInfo,
    Users,
    Welcome,
    clean_text,
    clean_topic,
    encode,
    format_ts,
    name_key,
    normalize_name,
    parse_room,
)

from . import SERVER_ID, ircformat, refusals, textformat
from .accounts import Account, password_problem
from .actions import (
    EditChange,
    ReactChange,
    clean_emoji,
    has_reacted,
    reactors,
    toggled,
    with_reactors,
    with_text,
)
from .classroom import Classroom, HandChange, HandOp, Raised, SeenChange, decide_hand
from .config import AccountsPolicy, HubConfig, Registration, RoomCreation
from .guard import FailureBackoff
from .moderation import (
    BAN,
    MUTE,
    ROLE,
    BadField,
    DeleteChange,
    Effect,
    ModChange,
    Person,
    Rank,
    Rules,
    Sanction,
    decide_code,
    decide_mod,
    decide_mode,
)
from .search import Query, search_terms
from .store import (
    MemoryStore,
    Receipt,
    RoomRecord,
    Store,
    StoreError,
    by_time,
    dm_conversation,
    seq_floor,
)

__all__ = [
    "Audience",
    "Delivery",
    "Hub",
    "HubConfig",
    "Member",
    "Outbound",
    "Room",
    "TokenBucket",
]


class Outbound:
    """A frame to deliver, encoded at most once per wire format however many
    peers receive it."""

    __slots__ = ("_away", "_irc", "_irc_time", "_text", "frame", "json")

    def __init__(self, frame: Struct) -> None:
        self.frame = frame
        self.json = encode(frame)
        self._text: bytes | None = None
        self._away: bytes | None = None
        self._irc: bytes | None = None
        self._irc_time: bytes | None = None

    @property
    def text(self) -> bytes:
        """The plain-text rendering for someone talking in the frame's room
        (empty when text users see nothing)."""
        if self._text is None:
            rendered = textformat.render(self.frame)
            self._text = rendered.encode() if rendered else b""
        return self._text

    @property
    def irc(self) -> bytes:
        """The IRC lines (see ircformat)."""
        if self._irc is None:
            self._irc = ircformat.render(self.frame)
        return self._irc

    @property
    def irc_time(self) -> bytes:
        """The same with IRCv3 `time` tags, for clients that asked for them."""
        if self._irc_time is None:
            self._irc_time = ircformat.tagged(self.irc, ircformat.frame_time(self.frame))
        return self._irc_time

    @property
    def text_away(self) -> bytes:
        """The same for someone whose current room is another: a message
        names its room."""
        if self._away is None:
            if isinstance(self.frame, Message):
                self._away = textformat.render_message(self.frame, away=True).encode()
            else:
                self._away = self.text
        return self._away


@dataclass(slots=True, eq=False)
class Audience:
    """The local members who hear one kind of a room's broadcasts: everyone
    in it (messages, topics), or those who watch its joins and leaves."""

    members: dict[str, Member] = field(default_factory=dict)
    room: Room | None = None


@dataclass(slots=True)
class Delivery:
    """A frame and who receives it: the members in `targets`, or, when
    `targets` is None, every member of `audience` but `skip`. The audience
    form costs nothing per receiver; the server fans it out."""

    out: Outbound
    targets: list[Member] | None = None
    audience: Audience | None = None
    skip: Member | None = None
    # Room events are numbered in the order the hub made them; a member
    # hears those made after it joined the audience (`Member.hears`),
    # however late the server sends them (after a commit, say).
    mark: int = 0

    @property
    def to(self) -> list[Member]:
        if self.targets is not None:
            return self.targets
        audience = self.audience
        assert audience is not None
        return [
            m
            for m in audience.members.values()
            if m is not self.skip and m.hears.get(audience, self.mark) < self.mark
        ]


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def refund(self) -> None:
        """Give back the token of a send that stored nothing."""
        self.tokens = min(float(self.burst), self.tokens + 1.0)


@dataclass(slots=True, eq=False)
class Member:
    """Someone who has joined the chat. `peer` belongs to the I/O layer; the
    hub only hands it back inside deliveries. In a cluster, people on other
    instances are members too (so that user lists are the cluster's) with
    no peer."""

    name: str
    key: str
    peer: Any
    bucket: TokenBucket
    # Which connection on which instance this is; only a cluster sets it.
    token: str = ""
    renames: TokenBucket | None = None  # its name changes, rate-limited apart
    account: Account | None = None  # None: a guest
    address: str = ""  # where a local member connects from (a guest's bans attach to it)
    rooms: dict[str, Room] = field(default_factory=dict)  # room key -> room
    # What a local member hears: each audience, with the mark of the event
    # that made it a listener (it hears only what came after).
    hears: dict[Audience, int] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Room:
    key: str
    name: str  # as it was created
    topic: str = ""
    topic_by: str | None = None
    topic_ts: str | None = None
    members: dict[str, Member] = field(default_factory=dict)  # everyone in it
    roster: list[Member] = field(default_factory=list)  # the same, sorted by key
    everyone: Audience = field(default_factory=Audience)  # its local members
    watchers: Audience = field(default_factory=Audience)  # local members who watch
    rules: Rules = field(default_factory=Rules)  # roles, mutes, bans, settings
    classroom: Classroom = field(default_factory=Classroom)  # hands, announcements
    # When each local member last spoke here (slow mode), on the hub's clock.
    last_said: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.everyone.room = self.watchers.room = self

    def names(self, limit: int | None = None) -> list[str]:
        roster = self.roster if limit is None else self.roster[:limit]
        return [m.name for m in roster]

    def record(self) -> RoomRecord:
        return RoomRecord(self.key, self.name, self.topic, self.topic_by, self.topic_ts)


@dataclass(slots=True, frozen=True)
class _Arrival:
    due: float  # on the hub's clock
    ts: str  # when it joined, for the announcement


class Hub:
    """The chat's state and rules.

    Each change comes in two steps: a check (`check_name`, `check_text`,
    `check_enter`, ...) that may refuse it, and an apply step (`admit`,
    `enter`, `part`, `relay`, `remove`, `apply_rename`, `apply_topic`) that
    changes the state and says who must hear of it. A single server does
    both at once (`join`, `say`, `enter_room`, ...). In a cluster the order
    of changes comes from the shared log, so every instance runs only the
    apply steps, for its own users and everyone else's alike.
    """

    def __init__(
        self,
        config: HubConfig | None = None,
        store: Store | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or HubConfig()
        self.store = store or MemoryStore(
            self.config.history_size, self.config.id_ttl, self.config.max_ids
        )
        self._clock = clock
        self._wallclock = wallclock
        self.members: dict[str, Member] = {}
        # The members connected here, who receive deliveries; in a single
        # server, everyone.
        self.local: dict[str, Member] = {}
        self.rooms: dict[str, Room] = {}
        self._room_events = 0  # the last Delivery.mark given
        # Arrivals not announced yet (see `quiet_arrival`), oldest first.
        self._arrivals: dict[Member, _Arrival] = {}
        cfg = self.config
        # Wrong account passwords in a row, per account, wherever they come from.
        self.login_failures = FailureBackoff(
            cfg.login_delays, cfg.login_forget, cfg.max_clients, clock=clock
        )
        # The whole server's moderation: its bans.
        self.server_rules = Rules()
        for record in self.store.rooms():
            self._add_room(record)
        for name in (DEFAULT_ROOM, *self.config.rooms):
            display, key = parse_room(name)
            if key not in self.rooms:
                self.create_room(display, key)
        self.load_moderation(self.store.moderation_state())

    def load_moderation(self, state: dict[str, dict[str, str]]) -> None:
        """Moderation fields as a store (or a cluster's snapshot) keeps them;
        those of a room that is gone are ignored. A field this server cannot
        read is a StoreError: better no start than a ban forgotten."""
        for scope, fields in state.items():
            rules = self.server_rules if scope == "" else None
            if rules is None:
                room = self.rooms.get(scope)
                if room is None:
                    continue
                rules = room.rules
            try:
                rules.apply(fields)
            except BadField as exc:
                raise StoreError(f"{exc} of {scope or 'the server'}") from exc

    # -- queries ---------------------------------------------------------

    @property
    def general(self) -> Room:
        return self.rooms[DEFAULT_ROOM]

    def names(self) -> list[str]:
        """Everyone in `general`, in case-insensitive order."""
        return self.general.names()

    def who(self, raw_room: str = DEFAULT_ROOM) -> Users:
        room = self.check_room(raw_room)
        users = Users(room=room.name, users=room.names())
        roles = self.roles_in(room, room.roster)
        if roles:
            users.roles = roles
        return users

    def rank(self, member: Member, rules: Rules) -> Rank:
        """Where `member` stands in a room (by its `rules`) or, with the
        server's rules, in the chat."""
        return self.rank_of(member.key, member.account, rules)

    @staticmethod
    def rank_of(key: str, account: Account | None, rules: Rules) -> Rank:
        if account is None:
            return Rank.GUEST
        if account.admin:
            return Rank.ADMIN
        role = rules.roles.get(key)
        if role == Role.OWNER:
            return Rank.OWNER
        if role == Role.MODERATOR:
            return Rank.MODERATOR
        return Rank.MEMBER

    def roles_in(self, room: Room, members: list[Member]) -> dict[str, Role]:
        """The role of each of `members` who has one in `room`."""
        found: dict[str, Role] = {}
        roles = room.rules.roles
        for member in members:
            account = member.account
            if account is not None and account.admin:
                found[member.name] = Role.ADMIN
            elif roles:
                role = roles.get(member.key)
                if role is not None and account is not None:
                    found[member.name] = role
        return found

    def room_list(self) -> RoomList:
        rooms = sorted(self.rooms.values(), key=_by_key)
        return RoomList(
            rooms=[RoomSummary(room=r.name, topic=r.topic, members=len(r.members)) for r in rooms]
        )

    def topic_info(self, raw_room: str) -> TopicInfo:
        room = self.check_room(raw_room)
        return self._topic_frame(room)

    def history(
        self, raw_room: str, before: int | None, limit: int, member: Member
    ) -> HistoryReply:
        """A page of a room's messages before `before`, oldest first."""
        room = self.check_member_of(member, raw_room)
        return HistoryReply(room=room.name, messages=self.store.before(room.key, before, limit))

    def dm_history(
        self, other: str, before: int | None, limit: int, member: Member
    ) -> HistoryReply:
        """A page of the DMs between `member` and `other`, oldest first."""
        key = name_key(other)
        holder = self.members.get(key)
        shown = holder.name if holder is not None else other
        messages = self.store.before(dm_conversation(member.key, key), before, limit)
        return HistoryReply(with_=shown, messages=messages)

    def find(self, name: str) -> Member | None:
        return self.members.get(name_key(name))

    def seq_floor(self) -> int:
        """Where `seq` starts when nothing is known of a conversation's past:
        the time now in microseconds, so that a store (or a Redis) that lost
        its counter never hands out a `seq` given before."""
        return seq_floor(self._wallclock())

    def now(self) -> str:
        """The wall-clock time as a wire timestamp."""
        return format_ts(self._wallclock())

    # -- checks: may refuse, change nothing ------------------------------

    @staticmethod
    def parse_name(raw_name: str) -> tuple[str, str]:
        """A valid name and its look-alike key, whoever holds it."""
        name = normalize_name(raw_name)
        return name, name_key(name)

    def check_name(self, raw_name: str, member: Member | None = None) -> tuple[str, str]:
        """The name and its key, if nobody but `member` holds it."""
        name, key = self.parse_name(raw_name)
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            raise refusals.name_taken(name)
        return name, key

    def check_capacity(self, joining: int = 0) -> None:
        """Room for one more member here, with `joining` more on their way in.

        Counted per server (per instance in a cluster): the limit protects
        one process's memory and sockets."""
        if len(self.local) + joining >= self.config.max_clients:
            raise refusals.server_full()

    def check_room(self, raw: str) -> Room:
        """The room named `raw`, if it exists."""
        _, key = parse_room(raw)
        room = self.rooms.get(key)
        if room is None:
            raise refusals.no_such_room(raw)
        return room

    def check_member_of(self, member: Member, raw: str) -> Room:
        """The room named `raw`, if `member` is in it."""
        room = self.check_room(raw)
        if room.key not in member.rooms:
            raise refusals.not_in_room(room.name)
        return room

    def check_enter(
        self, member: Member, raw: str, *, creating: int = 0, code: str | None = None
    ) -> tuple[str, str]:
        """The room's name and key, if `member` may enter it (creating it if
        it does not exist; `creating` more rooms are on their way in): not
        banned from it, and for a private room invited, staff, or holding
        its join `code`."""
        name, key = parse_room(raw)
        room = self.rooms.get(key)
        if room is not None and key in member.rooms:
            return room.name, key  # in it already: nothing to check
        cfg = self.config
        if len(member.rooms) >= cfg.max_rooms_per_user:
            raise refusals.too_many_rooms_for_you(cfg.max_rooms_per_user)
        if room is not None:
            rules = room.rules
            ban = self.sanction_on(member, rules, BAN)
            if ban is not None:
                raise refusals.banned_from_room(room.name, ban.by, _until(ban), ban.reason)
            if rules.mode.private and not (
                member.key in rules.invites or self.rank(member, rules) >= Rank.MODERATOR
            ):
                if code is None:
                    raise refusals.private_room(room.name)
                if not hmac.compare_digest(code.strip().lower(), rules.code):
                    raise refusals.wrong_code(room.name)
            return room.name, key
        if not self.may_create_rooms(member):
            raise refusals.may_not_create_rooms(cfg.room_creation)
        if len(self.rooms) + creating >= cfg.max_rooms:
            raise refusals.too_many_rooms(cfg.max_rooms)
        return name, key

    def may_create_rooms(self, member: Member) -> bool:
        account, policy = member.account, self.config.room_creation
        if policy == RoomCreation.REGISTERED:
            return account is not None
        if policy == RoomCreation.ADMINS:
            return account is not None and account.admin
        return True

    def check_topic(self, member: Member, raw_room: str, raw_topic: str) -> tuple[Room, str]:
        room = self.check_member_of(member, raw_room)
        if room.rules.mode.topic_lock and self.rank(member, room.rules) < Rank.MODERATOR:
            raise refusals.topic_locked(room.name)
        return room, clean_topic(raw_topic, self.config.max_topic)

    def check_say(
        self,
        member: Member,
        raw_room: str,
        raw_text: str,
        id: str | None,
        *,
        announce: bool = False,
    ) -> tuple[Room, str]:
        """The room and the cleaned text, if `member` may say it there now:
        in the room, not muted, staff if the room is moderated (or for an
        announcement), past its slow-mode wait, and within its rate."""
        try:
            room = self.check_member_of(member, raw_room)
            self.check_voice(member, room)
            if announce and self.rank(member, room.rules) < Rank.MODERATOR:
                raise refusals.staff_announce(room.name)
        except ProtocolError as exc:
            exc.id = id
            raise
        text = self.check_text(member, raw_text, id)
        slow = room.rules.mode.slow
        if slow:
            room.last_said[member.key] = self._clock()
        return room, text

    def check_voice(self, member: Member, room: Room) -> None:
        rules = room.rules
        mute = self.sanction_on(member, rules, MUTE)
        if mute is not None:
            raise refusals.muted(room.name, mute.by, _until(mute), mute.reason)
        mode = rules.mode
        if not (mode.moderated or mode.slow):
            return
        if self.rank(member, rules) >= Rank.MODERATOR:
            return
        if mode.moderated:
            raise refusals.moderated(room.name)
        last = room.last_said.get(member.key)
        if last is not None:
            wait = last + mode.slow - self._clock()
            if wait > 0:
                raise refusals.slow_mode(room.name, mode.slow, wait)

    def check_not_banned(self, key: str, address: str, account: Account | None) -> None:
        """Whoever comes in under name key `key` from `address` is not banned
        from the whole chat."""
        rules = self.server_rules
        if not rules.bans:
            return
        ban = rules.sanction(BAN, key, address, guest=account is None, now=self._wallclock())
        if ban is not None:
            raise refusals.banned_from_server(ban.by, _until(ban), ban.reason)

    # -- moderation: decided here, applied by apply_mod ----------------------

    def person(
        self, key: str, name: str, account: Account | None, rules: Rules, room: Room | None
    ) -> Person:
        """A decision's view of someone, online (then `account` is theirs)
        or not (then `account` is what the store says)."""
        member = self.members.get(key)
        if member is not None:
            account, name = member.account, member.name
        elif account is not None:
            name = account.name
        return Person(
            name=name,
            key=key,
            rank=self.rank_of(key, account, rules),
            address=member.address if member is not None and member.account is None else "",
            online=member is not None,
            in_room=member is not None and room is not None and room.key in member.rooms,
        )

    def mod_target(self, raw_name: str) -> tuple[str, str, Member | None]:
        """The target of a `mod`: its name, key, and the member if online
        (when it is not, the backplane looks up its account)."""
        name, key = self.parse_name(raw_name)
        return name, key, self.members.get(key)

    def check_mod(self, actor: Member, mod: Mod, account: Account | None) -> ModChange:
        """What `mod` by `actor` changes; `account` is the target's (the
        store's answer when the target is offline)."""
        name, key, _ = self.mod_target(mod.name)
        room: Room | None = None
        if mod.server:
            scope, shown, rules = "", "", self.server_rules
        else:
            room = self.check_room(mod.room)
            scope, shown, rules = room.key, room.name, room.rules
        reason = clean_topic(mod.reason, MAX_REASON_LEN) if isinstance(mod.reason, str) else ""
        target = self.person(key, name, account, rules, room)
        me = self.person(actor.key, actor.name, actor.account, rules, room)
        return decide_mod(
            mod,
            rules,
            scope=scope,
            room=shown,
            actor=me,
            target=target,
            now=self._wallclock(),
            ts=self.now(),
            reason=reason,
        )

    def check_mode(self, actor: Member, frame: Mode) -> ModChange:
        room = self.check_room(frame.room)
        me = self.person(actor.key, actor.name, actor.account, room.rules, room)
        return decide_mode(
            frame, room.rules, scope=room.key, room=room.name, actor=me, ts=self.now()
        )

    def check_code(self, actor: Member, raw_room: str, *, rotate: bool) -> ModChange | CodeInfo:
        """A private room's join code (owners and admins), or with `rotate`
        the change that makes a new one."""
        room = self.check_room(raw_room)
        me = self.person(actor.key, actor.name, actor.account, room.rules, room)
        change = decide_code(room.rules, scope=room.key, room=room.name, actor=me, ts=self.now())
        return change if rotate else CodeInfo(room=room.name, code=room.rules.code)

    def code_info(self, room_key: str) -> CodeInfo:
        room = self.rooms[room_key]
        return CodeInfo(room=room.name, code=room.rules.code)

    def check_audit(self, actor: Member, raw_room: str | None) -> str:
        """The scope whose audit log `actor` may read: a room's (its owners
        and admins) or, for None, the server's (admins)."""
        if raw_room is None:
            if self.rank(actor, self.server_rules) < Rank.ADMIN:
                raise refusals.not_admin()
            return ""
        room = self.check_room(raw_room)
        if self.rank(actor, room.rules) < Rank.OWNER:
            raise refusals.not_owner(room.name)
        return room.key

    def audit(self, actor: Member, raw_room: str | None, limit: int) -> AuditLog:
        scope = self.check_audit(actor, raw_room)
        entries = [_moderation_decoder.decode(e) for e in self.store.audit(scope, limit)]
        log = AuditLog(entries=entries)
        if scope:
            log.room = self.rooms[scope].name
        return log

    @staticmethod
    def owner_fields(member: Member) -> dict[str, str | None]:
        """What making a room writes: its registered creator is its owner
        (a guest's room has none; admins run it)."""
        return {} if member.account is None else {ROLE + member.key: Role.OWNER}

    def check_text(self, member: Member, raw_text: str, id: str | None) -> str:
        """The cleaned text, if it is valid and the sender is within its rate."""
        try:
            text = clean_text(raw_text, self.config.max_text)
        except ProtocolError as exc:
            exc.id = id
            raise
        if not member.bucket.take(self._clock()):
            raise refusals.rate_limited(self.config.rate, id)
        return text

    def check_rename(self, member: Member, raw_name: str, *, here: bool = True) -> tuple[str, str]:
        """The new name and its key, if `member` may change to it now: a
        valid name, within the rename rate (changing to the name one has is
        free), and, when `here` decides it, nobody else's."""
        name, key = self.check_name(raw_name, member) if here else self.parse_name(raw_name)
        bucket = member.renames
        if name != member.name and bucket is not None and not bucket.take(self._clock()):
            raise refusals.renaming_too_fast(self.config.renames_per_minute)
        return name, key

    @staticmethod
    def check_rename_account(member: Member, key: str, account: Account | None) -> None:
        """A registered name stays with its account: its holder may respell
        it but not leave it, and nobody renames onto another's (`account`
        is the new name's, or None)."""
        if key == member.key:
            return
        if member.account is not None:
            raise refusals.account_name_stays(member.name)
        if account is not None:
            raise refusals.login_required(account.name)

    def check_login(self, key: str) -> Account | None:
        """The account of the name key `key`, if there is one; a guest may
        come in unless this server lets in only registered names."""
        return self.check_account(self.store.account(key))

    def check_account(self, account: Account | None) -> Account | None:
        """`account` (a name's, or None for a guest), if it may come in."""
        if account is None and self.config.accounts == AccountsPolicy.REQUIRED:
            raise refusals.account_required()
        return account

    def check_register(self, member: Member, password: str) -> None:
        """`member` (a guest) may register its name with `password`."""
        if member.account is not None:
            raise refusals.already_registered(member.name)
        if self.config.registration == Registration.CLOSED:
            raise refusals.registration_closed()
        self.check_new_password(password)

    @staticmethod
    def check_new_password(password: str) -> None:
        problem = password_problem(password)
        if problem is not None:
            raise refusals.weak_password(problem)

    def new_member(self, name: str, key: str, peer: Any, token: str = "") -> Member:
        cfg, now = self.config, self._clock()
        bucket = TokenBucket(cfg.rate, cfg.burst, now)
        renames = TokenBucket(cfg.renames_per_minute / 60, cfg.rename_burst, now)
        return Member(name, key, peer, bucket, token=token, renames=renames)

    # -- apply: change the state, say who hears of it --------------------

    def apply_account(self, member: Member, account: Account, *, changed: bool) -> list[Delivery]:
        """`member` registered its name (or changed its password)."""
        self.store.save_account(account)
        member.account = account
        frame = Registered(name=account.name, changed=changed)
        return [Delivery(Outbound(frame), [member])] if member.peer is not None else []

    def create_room(self, name: str, key: str) -> Room:
        """A new, empty room, kept by the store."""
        room = self._add_room(RoomRecord(key, name))
        self.store.save_room(room.record())
        return room

    def admit(self, member: Member, ts: str | None = None) -> tuple[Welcome | None, list[Delivery]]:
        """Add `member` to the chat and to `general`; a local one gets a
        `welcome`, those who hear `general`'s joins a `joined`."""
        cfg = self.config
        history: list[Stored] = []
        if member.peer is not None:
            # Read first: a store that fails leaves nobody half-joined.
            history = [
                *self.store.before(self.general.key, None, cfg.welcome_history),
                *self.store.recent_dms(member.key, cfg.welcome_history),
            ]
        self.members[member.key] = member
        if member.peer is not None:
            self.local[member.key] = member
        general = self.general
        if self.config.quiet_arrival > 0:
            # Announced once it has stayed a moment (or speaks): a storm of
            # connections that come and go says nothing to anyone.
            self._place(general, member)
            if member.peer is not None:
                member.hears[general.everyone] = self._room_events
            due = self._clock() + self.config.quiet_arrival
            self._arrivals[member] = _Arrival(due, ts or self.now())
            deliveries: list[Delivery] = []
        else:
            deliveries = self._enter(member, general, ts)
        welcome = None
        if member.peer is not None:
            general = self.general
            welcome = Welcome(
                proto=PROTO_VERSION,
                name=member.name,
                server=SERVER_ID,
                users=general.names(cfg.welcome_users),
                rooms=[general.name],
                history=by_time(history),
                motd=cfg.motd or UNSET,
                user_count=len(general.members),
                features=[
                    FEATURE_ROOMS,
                    FEATURE_ACCOUNTS,
                    FEATURE_MODERATION,
                    FEATURE_ACTIONS,
                    FEATURE_SEARCH,
                ],
                rate=cfg.rate,
                burst=cfg.burst,
                registered=member.account is not None,
                admin=member.account is not None and member.account.admin,
                temporary_password=member.account is not None and member.account.temporary,
            )
            roles = self.roles_in(general, general.roster[: cfg.welcome_users])
            if roles:
                welcome.roles = roles
        return welcome, deliveries

    def enter(
        self, member: Member, room: Room, ts: str | None = None, *, created: bool = False
    ) -> tuple[RoomInfo | None, list[Delivery]]:
        """`member` enters `room` (nothing changes if it is in it); a local
        one gets the room as it finds it."""
        if member.peer is None:
            return None, [] if room.key in member.rooms else self._enter(member, room, ts)
        # The history is read first: a store that fails changes nothing.
        history = self.store.before(room.key, None, self.config.welcome_history)
        deliveries = [] if room.key in member.rooms else self._enter(member, room, ts)
        return self.room_info(room, member, created=created, history=history), deliveries

    def room_info(
        self,
        room: Room,
        viewer: Member,
        *,
        created: bool = False,
        history: list[Stored] | None = None,
    ) -> RoomInfo:
        """A room as `viewer` finds it on entering: topic, who is there and
        with which roles, its settings, recent messages, and a mute on the
        viewer if there is one."""
        cfg = self.config
        if history is None:
            history = self.store.before(room.key, None, cfg.welcome_history)
        shown = room.roster[: cfg.welcome_users]
        info = RoomInfo(
            room=room.name,
            topic=room.topic,
            users=[m.name for m in shown],
            user_count=len(room.members),
            history=history,  # type: ignore[arg-type]
            topic_by=room.topic_by or UNSET,
            topic_ts=room.topic_ts or UNSET,
            created=created,
        )
        roles = self.roles_in(room, shown)
        if roles:
            info.roles = roles
        if room.rules.mode != RoomMode():
            info.mode = room.rules.mode
        mute = self.sanction_on(viewer, room.rules, MUTE)
        if mute is not None:
            info.muted = self._sanction_news(ModAction.MUTE, room, mute)
        return info

    def sanction_on(self, member: Member, rules: Rules, kind: str) -> Sanction | None:
        """The mute or ban (`kind`) in force on `member` by `rules`."""
        if not rules.mutes and not rules.bans:
            return None
        return rules.sanction(
            kind,
            member.key,
            member.address,
            guest=member.account is None,
            now=self._wallclock(),
        )

    @staticmethod
    def _sanction_news(action: ModAction, room: Room | None, sanction: Sanction) -> Moderation:
        news = Moderation(
            action=action,
            by=sanction.by,
            ts=sanction.ts,
            room=room.name if room is not None else UNSET,
            name=sanction.name,
        )
        if sanction.until is not None:
            news.until = format_ts(sanction.until)
        if sanction.reason:
            news.reason = sanction.reason
        return news

    def part(
        self, member: Member, room: Room, reason: LeftReason, ts: str | None = None
    ) -> list[Delivery]:
        """`member` leaves `room`; it is told too (it stays connected)."""
        if room.key not in member.rooms:
            return []
        if room is self.general and self._arrivals.pop(member, None) is not None:
            # It was never announced here: only it hears that it left.
            self._drop(room, member)
            event = Left(name=member.name, ts=ts or self.now(), reason=reason, room=room.name)
            return [] if member.peer is None else [Delivery(Outbound(event), [member])]
        out = self._leave_room(member, room, reason, ts)
        lowered = self._hand_gone(member, room)
        if member.peer is None:
            return [out, *lowered]
        return [out, Delivery(out.out, [member]), *lowered]

    def watch(self, member: Member, room: Room) -> None:
        """A local member of `room` hears every join and leave of it from now
        on, however large it grows (until it leaves the room)."""
        watchers = room.watchers
        if member.peer is not None and room.key in member.rooms and watchers not in member.hears:
            watchers.members[member.key] = member
            member.hears[watchers] = self._room_events

    def remove(self, member: Member, reason: LeftReason, ts: str | None = None) -> list[Delivery]:
        """`member` leaves the chat: every room it was in hears `left`, but
        `general` if its arrival was never announced."""
        if self.members.get(member.key) is not member:
            return []  # already gone: leave is idempotent
        if self._arrivals.pop(member, None) is not None:
            self._drop(self.general, member)
        deliveries = []
        for room in list(member.rooms.values()):
            deliveries.append(self._leave_room(member, room, reason, ts))
            deliveries += self._hand_gone(member, room)
        del self.members[member.key]
        self.local.pop(member.key, None)
        return deliveries

    def apply_rename(
        self, member: Member, name: str, key: str, ts: str | None = None
    ) -> list[Delivery]:
        old = member.name
        out = Outbound(Renamed(old=old, new=name, ts=ts or self.now()))
        if name == old:
            return [Delivery(out, [member])]  # a confirmation, nothing changed
        arrived = self.arrive_now(member)
        old_key = member.key
        rooms = list(member.rooms.values())
        for room in rooms:
            del room.roster[bisect.bisect_left(room.roster, old_key, key=_by_key)]
        del self.members[old_key]
        local = self.local.pop(old_key, None) is not None
        member.name, member.key = name, key
        self.members[key] = member
        listeners: dict[str, Member] = {}
        if local:
            self.local[key] = member
            listeners[key] = member
        for room in rooms:
            room.members[key] = room.members.pop(old_key)
            bisect.insort(room.roster, member, key=_by_key)
            for audience in (room.everyone, room.watchers):
                if audience.members.pop(old_key, None) is not None:
                    audience.members[key] = member
            listeners.update(self._presence(room).members)
        return arrived + ([Delivery(out, list(listeners.values()))] if listeners else [])

    def apply_topic(self, room: Room, topic: str, by: str, ts: str | None = None) -> list[Delivery]:
        setter = self.members.get(name_key(by))
        arrived = self.arrive_now(setter) if setter is not None else []
        room.topic, room.topic_by, room.topic_ts = topic, by, ts or self.now()
        self.store.save_room(room.record())
        return [*arrived, self._to(room.everyone, self._topic_frame(room))]

    def apply_fields(
        self, scope: str, changes: dict[str, str | None], *, keep: bool
    ) -> Rules | None:
        """Write moderation fields in a scope (`keep`: in the store too, as a
        single server does; a cluster keeps them in Redis). None if the
        scope's room is unknown here."""
        if scope:
            room = self.rooms.get(scope)
            if room is None:
                return None
            rules = room.rules
        else:
            rules = self.server_rules
        rules.apply(changes)
        if keep and changes:
            self.store.save_moderation(scope, changes)
        return rules

    def apply_mod(
        self, change: ModChange, *, keep: bool = True
    ) -> tuple[list[Delivery], list[Member]]:
        """Carry out a decided action: its fields (and, with `keep`, the
        store's copy and the audit entry), its news to the room and to the
        actor and target wherever they are, and its effect: a kicked or
        banned member leaves the room (reason `kicked`, `banned`). Returns
        the deliveries and the local members to disconnect (a server ban)."""
        if self.apply_fields(change.scope, change.changes, keep=keep) is None:
            return [], []
        news = change.news
        if keep:
            self.store.append_audit(change.scope, encode(news))
        room = self.rooms.get(change.scope) if change.scope else None
        actor = self.members.get(change.actor) if change.actor else None
        target = self.members.get(change.target) if change.target else None
        deliveries: list[Delivery] = []
        told: list[Member] = []
        if room is not None:
            # The target is told apart: a kicked one is out of the room by
            # the time the broadcast goes out.
            deliveries.append(self._to(room.everyone, news, skip=target))
        for member in (target, actor):
            if (
                member is not None
                and member.peer is not None
                and member not in told
                and (member is target or room is None or room.key not in member.rooms)
            ):
                told.append(member)
        if told:
            deliveries.append(Delivery(Outbound(news), told))
        to_close: list[Member] = []
        if target is not None:
            if change.effect in (Effect.KICK, Effect.BAN) and room is not None:
                reason = LeftReason.KICKED if change.effect is Effect.KICK else LeftReason.BANNED
                deliveries += self.part(target, room, reason)
            elif change.effect is Effect.SERVER_BAN and target.peer is not None:
                to_close.append(target)
        return deliveries, to_close

    # -- classroom tools ----------------------------------------------------

    def staff_of(self, room: Room) -> list[Member]:
        """The local members of `room` who moderate it."""
        rules = room.rules
        return [m for m in room.everyone.members.values() if self.rank(m, rules) >= Rank.MODERATOR]

    def check_hand(self, member: Member, frame: Hand) -> HandChange:
        room = self.check_member_of(member, frame.room)
        change = decide_hand(
            frame,
            room=room.key,
            room_name=room.name,
            key=member.key,
            name=member.name,
            rank=self.rank(member, room.rules),
            ts=self.now(),
        )
        if change.op is HandOp.LOWER and not change.key:  # someone else's, by name
            _, key = self.parse_name(change.name)
            held = room.classroom.hands.get(key)
            if held is None:
                raise refusals.hand_not_raised(change.name, room.name)
            change.key, change.name = key, held.name
        return change

    def hand_queue(self, member: Member, raw_room: str) -> HandQueue:
        room = self.check_member_of(member, raw_room)
        if self.rank(member, room.rules) < Rank.MODERATOR:
            raise refusals.not_staff(room.name)
        return HandQueue(room=room.name, queue=room.classroom.queue())

    def apply_hand(self, change: HandChange) -> list[Delivery]:
        """Change a room's queue: the person hears where their hand is, the
        room's staff the queue, those behind their new place."""
        room = self.rooms.get(change.room)
        if room is None:
            return []
        hands = room.classroom.hands
        deliveries: list[Delivery] = []
        before = list(hands)
        if change.op is HandOp.RAISE:
            held = hands.get(change.key)
            if held is None:
                hands[change.key] = Raised(change.name, change.ts, change.question)
            else:
                held.question = change.question
            deliveries += self._hand_news(room, change.key, HandState.UP)
        elif change.op is HandOp.LOWER:
            lowered = hands.pop(change.key, None) is not None
            own = change.by == change.name
            if lowered or own:  # lowering one's own is answered even if it was down
                deliveries += self._hand_news(
                    room, change.key, HandState.DOWN, None if own else change.by
                )
        elif hands:
            key, _ = hands.popitem(last=False)
            deliveries += self._hand_news(room, key, HandState.TURN, change.by)
        if list(hands) != before or change.op is HandOp.RAISE:
            deliveries += self._queue_moved(room, before)
        return deliveries

    def _hand_news(
        self, room: Room, key: str, state: HandState, by: str | None = None
    ) -> list[Delivery]:
        member = self.local.get(key)
        if member is None or room.key not in member.rooms:
            return []
        news = HandNews(room=room.name, state=state)
        if state is HandState.UP:
            news.position = room.classroom.position(key) or UNSET
        if by is not None:
            news.by = by
        return [Delivery(Outbound(news), [member])]

    def _queue_moved(self, room: Room, before: list[str]) -> list[Delivery]:
        """After a change: the queue to the staff, and their new place to
        those who moved up."""
        deliveries: list[Delivery] = []
        staff = self.staff_of(room)
        if staff:
            queue = HandQueue(room=room.name, queue=room.classroom.queue())
            deliveries.append(Delivery(Outbound(queue), staff))
        for position, key in enumerate(room.classroom.hands, 1):
            if key in before and before.index(key) + 1 != position:
                deliveries += self._hand_news(room, key, HandState.UP)
        return deliveries

    def _hand_gone(self, member: Member, room: Room) -> list[Delivery]:
        """Someone who leaves a room takes their hand down with them."""
        hands = room.classroom.hands
        if member.key not in hands:
            return []
        before = list(hands)
        del hands[member.key]
        return self._queue_moved(room, before)

    def check_delete(
        self, member: Member, raw_room: str, message: Stored | None, seq: int
    ) -> DeleteChange:
        """`member` may delete `message` (number `seq` of the room, as the
        store has it): its own, or as staff anyone's."""
        room = self.check_room(raw_room)
        staff = self.rank(member, room.rules) >= Rank.MODERATOR
        if room.key not in member.rooms and not staff:
            raise refusals.not_in_room(room.name)
        if not isinstance(message, Message) or message.deleted:
            raise refusals.no_such_message(room.name, seq)
        ts = self.now()
        change = DeleteChange(room.key, seq, member.name, ts)
        if name_key(message.from_) != member.key:
            if not staff:
                raise refusals.not_yours()
            change.news = Moderation(
                action=ModAction.DELETE,
                by=member.name,
                ts=ts,
                room=room.name,
                name=message.from_,
                seq=seq,
            )
        return change

    def apply_delete(self, change: DeleteChange, *, keep: bool = True) -> list[Delivery]:
        """Leave a tombstone in the history and tell the room."""
        room = self.rooms.get(change.room)
        if room is None:
            return []
        self.store.delete(room.key, change.seq)
        if keep and change.news is not None:
            self.store.append_audit(room.key, encode(change.news))
        return [
            self._to(
                room.everyone, Deleted(room=room.name, seq=change.seq, by=change.by, ts=change.ts)
            )
        ]

    def delete(self, member: Member, raw_room: str, seq: int) -> list[Delivery]:
        room = self.check_room(raw_room)
        change = self.check_delete(member, raw_room, self.store.message(room.key, seq), seq)
        return self.apply_delete(change)

    def check_seen(self, member: Member, room_name: str, seq: int | None) -> SeenChange:
        """`member` has seen announcement `seq` (None: the room's latest)."""
        room = self.check_member_of(member, room_name)
        announcements = room.classroom.announcements
        if seq is None:
            if not announcements:
                raise refusals.no_announcement(room.name, None)
            seq = next(reversed(announcements))
        if seq not in announcements:
            raise refusals.no_announcement(room.name, seq)
        return SeenChange(room.key, seq, member.key)

    def apply_seen(self, change: SeenChange) -> list[Delivery]:
        """Count an acknowledgement (each person once); the room's staff
        hear the new count."""
        room = self.rooms.get(change.room)
        if room is None:
            return []
        announcement = room.classroom.announcements.get(change.seq)
        if announcement is None or change.key in announcement.seen or change.key == announcement.by:
            return []
        announcement.seen.add(change.key)
        staff = self.staff_of(room)
        if not staff:
            return []
        count = SeenCount(
            room=room.name, seq=change.seq, seen=len(announcement.seen), of=announcement.of
        )
        return [Delivery(Outbound(count), staff)]

    # -- message actions: replies, edits, reactions, search -----------------

    def check_reply(self, room: Room, reply_to: int | None, message: Stored | None) -> str | None:
        """Who wrote `message`, the one a reply to seq `reply_to` answers
        (as the store has it); None for a message that is no reply."""
        if reply_to is None:
            return None
        if not isinstance(message, Message) or message.deleted:
            raise refusals.no_such_message(room.name, reply_to)
        return message.from_

    def _may_change(self, member: Member, room: Room, message: Stored | None, seq: int) -> Message:
        """The message `member` acts on: there, not deleted, and not while
        `member` is muted in the room (a change is speaking)."""
        if not isinstance(message, Message) or message.deleted:
            raise refusals.no_such_message(room.name, seq)
        mute = self.sanction_on(member, room.rules, MUTE)
        if mute is not None:
            raise refusals.muted(room.name, mute.by, _until(mute), mute.reason)
        return message

    def check_edit(
        self, member: Member, raw_room: str, message: Stored | None, seq: int, raw_text: str
    ) -> EditChange:
        """`member` may give `message` (number `seq` of the room) a new
        text: its own, or as staff anyone's."""
        room = self.check_member_of(member, raw_room)
        found = self._may_change(member, room, message, seq)
        if name_key(found.from_) != member.key and self.rank(member, room.rules) < Rank.MODERATOR:
            raise refusals.not_yours_to_edit()
        text = self.check_text(member, raw_text, None)
        return EditChange(room.key, seq, text, member.name, found.from_, self.now())

    def apply_edit(self, change: EditChange) -> list[Delivery]:
        room = self.rooms.get(change.room)
        if room is None:
            return []
        current = self.store.message(room.key, change.seq)
        if isinstance(current, Message) and not current.deleted:
            self.store.revise(room.key, with_text(current, change.text))
        news = Edited(
            room=room.name,
            seq=change.seq,
            text=change.text,
            by=change.by,
            author=change.author,
            ts=change.ts,
        )
        return [self._to(room.everyone, news)]

    def check_react(
        self,
        member: Member,
        raw_room: str,
        message: Stored | None,
        seq: int,
        raw_emoji: str,
        on: bool | None,
    ) -> ReactChange:
        """`member`'s reaction given (`on`), taken back, or toggled (None);
        `names` is who has it after, as far as `message` tells."""
        room = self.check_member_of(member, raw_room)
        found = self._may_change(member, room, message, seq)
        emoji = clean_emoji(raw_emoji)
        if not member.bucket.take(self._clock()):
            raise refusals.rate_limited(self.config.rate, None)
        names = reactors(found, emoji)
        mine = has_reacted(names, member.key)
        want = not mine if on is None else on
        given = found.reactions if found.reactions is not UNSET else []
        if want and not names and len(given) >= MAX_REACTIONS:
            raise refusals.reaction_limit(MAX_REACTIONS)
        after = toggled(names, member.key, member.name, want)
        return ReactChange(
            room.key,
            seq,
            emoji,
            member.name,
            member.key,
            want,
            found.from_,
            after,
            changed=after != names,
        )

    def apply_react(self, change: ReactChange, asker: Member | None = None) -> list[Delivery]:
        """Keep the reaction and tell the room; a change that changed
        nothing (a resend) is told to the asker alone, so it hears an answer."""
        room = self.rooms.get(change.room)
        if room is None:
            return []
        news = Reacted(
            room=room.name,
            seq=change.seq,
            emoji=change.emoji,
            by=change.by,
            on=change.on,
            names=change.names,
            author=change.author,
        )
        if not change.changed:
            if asker is None or asker.peer is None:
                return []
            return [Delivery(Outbound(news), [asker])]
        current = self.store.message(room.key, change.seq)
        if isinstance(current, Message) and not current.deleted:
            self.store.revise(room.key, with_reactors(current, change.emoji, change.names))
        return [self._to(room.everyone, news)]

    def check_search(
        self, member: Member, raw_text: str, room: str | None, with_: str | None
    ) -> Query:
        """Where `member` may look for `raw_text`: the rooms it is in and its
        own DMs (or one room it is in, or the DMs with one person)."""
        if len(raw_text) > MAX_SEARCH_LEN:
            raise refusals.search_too_long(MAX_SEARCH_LEN)
        terms = search_terms(raw_text)
        if not member.bucket.take(self._clock()):
            raise refusals.rate_limited(self.config.rate, None)
        if room is not None:
            where = self.check_member_of(member, room)
            return Query(terms, (where.key,), member.key, dms=False)
        if with_ is not None:
            other = dm_conversation(member.key, name_key(with_))
            return Query(terms, (), member.key, dms=True, dm_with=other)
        return Query(terms, tuple(member.rooms), member.key, dms=True)

    def search(
        self,
        member: Member,
        text: str,
        *,
        room: str | None = None,
        with_: str | None = None,
        before: str | None = None,
        limit: int = DEFAULT_SEARCH_LIMIT,
    ) -> Found:
        query = self.check_search(member, text, room, with_)
        hits, after = self.store.search(query, before, limit)
        return Found(text=text, hits=hits, next=after if after is not None else UNSET)

    def latest_message(self, room: str, by: str | None) -> Message | None:
        """The newest message of the room with key `room` that is not
        deleted, by the name key `by` (anyone's when None), among its last
        MAX_HISTORY_LIMIT."""
        for message in reversed(self.store.before(room, None, MAX_HISTORY_LIMIT)):
            mine = by is None or name_key(message.from_) == by
            if isinstance(message, Message) and not message.deleted and mine:
                return message
        return None

    def edit(self, member: Member, raw_room: str, seq: int, text: str) -> list[Delivery]:
        room = self.check_room(raw_room)
        message = self.store.message(room.key, seq)
        return self.apply_edit(self.check_edit(member, raw_room, message, seq, text))

    def react(
        self, member: Member, raw_room: str, seq: int, emoji: str, on: bool | None
    ) -> list[Delivery]:
        room = self.check_room(raw_room)
        message = self.store.message(room.key, seq)
        change = self.check_react(member, raw_room, message, seq, emoji, on)
        return self.apply_react(change, member)

    def relay(self, frame: Stored, origin: Member | None = None) -> list[Delivery]:
        """Keep a message in the history and deliver it: a room message to
        every local member of the room but its sender, a DM to its local
        recipient."""
        if isinstance(frame, Message):
            room = self.rooms[name_key(frame.room)]
            self.store.append(room.key, frame)
            if frame.announcement:
                poster = name_key(frame.from_)
                others = len(room.members) - (poster in room.members)
                room.classroom.announced(frame.seq, poster, others)
            delivery = self._to(room.everyone, frame, skip=origin)
            if self._arrivals:
                # Nobody is heard from before they are seen to arrive.
                sender = origin or self.members.get(name_key(frame.from_))
                if sender is not None and sender in self._arrivals:
                    return [*self.arrive_now(sender), delivery]
            return [delivery]
        self.store.append(dm_conversation(name_key(frame.from_), name_key(frame.to)), frame)
        target = self.local.get(name_key(frame.to))
        return [Delivery(Outbound(frame), [target])] if target is not None else []

    def arrive_now(self, member: Member) -> list[Delivery]:
        """Announce `member`'s arrival if it is still quiet."""
        arrival = self._arrivals.pop(member, None)
        if arrival is None or self.general.key not in member.rooms:
            return []
        general = self.general
        event = Joined(name=member.name, ts=arrival.ts, room=general.name)
        return [self._to(self._presence(general), event, skip=member)]

    def next_arrival(self) -> float | None:
        """When the oldest quiet arrival is due to be announced, if any."""
        for arrival in self._arrivals.values():
            return arrival.due
        return None

    def announce_due(self, now: float) -> list[Delivery]:
        """The arrivals of everyone who has stayed `quiet_arrival` seconds."""
        due = []
        for member, arrival in self._arrivals.items():
            if arrival.due > now:
                break
            due.append(member)
        return [delivery for member in due for delivery in self.arrive_now(member)]

    # -- a single server: check and apply at once ------------------------

    def join(
        self, raw_name: str, peer: Any, account: Account | None = None, address: str = ""
    ) -> tuple[Member, Welcome, list[Delivery]]:
        name, key = self.check_name(raw_name)
        self.check_capacity()
        self.check_not_banned(key, address, account)
        if account is not None:
            name = account.name  # the registered spelling
        member = self.new_member(name, key, peer)
        member.account, member.address = account, address
        welcome, deliveries = self.admit(member)
        assert welcome is not None
        return member, welcome, deliveries

    def enter_room(
        self, member: Member, raw_room: str, code: str | None = None
    ) -> tuple[RoomInfo, list[Delivery]]:
        name, key = self.check_enter(member, raw_room, code=code)
        room = self.rooms.get(key)
        created = room is None
        if room is None:
            room = self.create_room(name, key)
            self.apply_fields(room.key, self.owner_fields(member), keep=True)
        info, deliveries = self.enter(member, room, created=created)
        assert info is not None
        return info, deliveries

    def part_room(self, member: Member, raw_room: str) -> list[Delivery]:
        room = self.check_member_of(member, raw_room)
        return self.part(member, room, LeftReason.PART)

    def set_topic(self, member: Member, raw_room: str, raw_topic: str) -> list[Delivery]:
        room, topic = self.check_topic(member, raw_room, raw_topic)
        return self.apply_topic(room, topic, member.name)

    def moderate(self, actor: Member, mod: Mod) -> tuple[list[Delivery], list[Member]]:
        _, key, online = self.mod_target(mod.name)
        account = online.account if online is not None else self.store.account(key)
        return self.apply_mod(self.check_mod(actor, mod, account))

    def hand(self, member: Member, frame: Hand) -> list[Delivery]:
        return self.apply_hand(self.check_hand(member, frame))

    def seen(self, member: Member, room: str, seq: int | None) -> list[Delivery]:
        return self.apply_seen(self.check_seen(member, room, seq))

    def set_mode(self, actor: Member, frame: Mode) -> list[Delivery]:
        deliveries, _ = self.apply_mod(self.check_mode(actor, frame))
        return deliveries

    def join_code(
        self, actor: Member, raw_room: str, *, rotate: bool
    ) -> tuple[CodeInfo, list[Delivery]]:
        decided = self.check_code(actor, raw_room, rotate=rotate)
        if isinstance(decided, CodeInfo):
            return decided, []
        deliveries, _ = self.apply_mod(decided)
        return self.code_info(decided.scope), deliveries

    def rename(self, member: Member, raw_name: str) -> list[Delivery]:
        name, key = self.check_rename(member, raw_name)
        self.check_rename_account(member, key, self.store.account(key))
        return self.apply_rename(member, name, key)

    def say(
        self,
        member: Member,
        text: str,
        *,
        id: str | None = None,
        room: str = DEFAULT_ROOM,
        action: bool = False,
        announce: bool = False,
        reply_to: int | None = None,
    ) -> tuple[Ack, list[Delivery]]:
        """Store and relay a room message.

        Returns the `ack` for the sender (its `id` is empty for a send without
        one, as from a plain-text user) and what everyone else receives. A
        repeated id returns the original `ack` and relays nothing.
        """
        repeat = self._repeat(member, id)
        if repeat is not None:
            return repeat, []
        where, text = self.check_say(member, room, text, id, announce=announce)
        replied = None if reply_to is None else self.store.message(where.key, reply_to)
        try:
            reply_from = self.check_reply(where, reply_to, replied)
        except ProtocolError as exc:
            member.bucket.refund()
            exc.id = id
            raise
        seq, ts = self._stamp(where.key)
        message = Message(
            seq=seq,
            ts=ts,
            room=where.name,
            from_=member.name,
            text=text,
            action=action,
            announcement=announce,
            reply_to=reply_to if reply_to is not None else UNSET,
            reply_from=reply_from if reply_from is not None else UNSET,
        )
        deliveries = self.relay(message, member)
        self._remember(member, id, seq, ts)
        return Ack(id=id or "", seq=seq, ts=ts), deliveries

    def dm(
        self, member: Member, to: str, text: str, *, id: str | None = None
    ) -> tuple[Ack, list[Delivery]]:
        repeat = self._repeat(member, id)
        if repeat is not None:
            return repeat, []
        # The rate first: a DM to nobody costs a send like any other, or it
        # would be a way to make the server answer without limit.
        text = self.check_text(member, text, id)
        target = self.find(to)
        if target is None:
            raise refusals.no_such_user(to, id)
        seq, ts = self._stamp(dm_conversation(member.key, target.key))
        frame = DirectMessage(seq=seq, ts=ts, from_=member.name, to=target.name, text=text)
        deliveries = self.relay(frame, member)
        self._remember(member, id, seq, ts)
        return Ack(id=id or "", seq=seq, ts=ts), deliveries

    # -- internals -------------------------------------------------------

    def _add_room(self, record: RoomRecord) -> Room:
        room = Room(record.key, record.name, record.topic, record.topic_by, record.topic_ts)
        self.rooms[room.key] = room
        return room

    def _presence(self, room: Room) -> Audience:
        """Who hears `room`'s joins and leaves: everyone in it while it is
        small, only its watchers once it is larger than the presence limit."""
        return room.everyone if len(room.members) <= self.config.presence_limit else room.watchers

    def _enter(self, member: Member, room: Room, ts: str | None) -> list[Delivery]:
        # Who hears it is decided with the newcomer counted (and a leave with
        # the leaver still counted), so the join and the leave of the same
        # person reach the same people.
        self._place(room, member)
        delivery = self._to(
            self._presence(room), Joined(name=member.name, ts=ts or self.now(), room=room.name)
        )
        if member.peer is not None:
            # It hears what follows its own `joined`, not the `joined` itself.
            member.hears[room.everyone] = delivery.mark
        return [delivery]

    def _leave_room(
        self, member: Member, room: Room, reason: LeftReason, ts: str | None
    ) -> Delivery:
        audience = self._presence(room)
        self._drop(room, member)
        event = Left(name=member.name, ts=ts or self.now(), reason=reason, room=room.name)
        return self._to(audience, event)

    def _place(self, room: Room, member: Member) -> None:
        room.members[member.key] = member
        bisect.insort(room.roster, member, key=_by_key)
        member.rooms[room.key] = room
        if member.peer is not None:
            room.everyone.members[member.key] = member

    def _drop(self, room: Room, member: Member) -> None:
        del room.members[member.key]
        del room.roster[bisect.bisect_left(room.roster, member.key, key=_by_key)]
        del member.rooms[room.key]
        for audience in (room.everyone, room.watchers):
            audience.members.pop(member.key, None)
            member.hears.pop(audience, None)

    def _to(self, audience: Audience, frame: Struct, skip: Member | None = None) -> Delivery:
        self._room_events += 1
        return Delivery(Outbound(frame), audience=audience, skip=skip, mark=self._room_events)

    @staticmethod
    def _topic_frame(room: Room) -> TopicInfo:
        return TopicInfo(
            room=room.name, topic=room.topic, by=room.topic_by or UNSET, ts=room.topic_ts or UNSET
        )

    def _repeat(self, member: Member, id: str | None) -> Ack | None:
        if id is None:
            return None
        receipt = self.store.recall((member.key, id), self._clock())
        if receipt is None:
            return None
        return Ack(id=id, seq=receipt.seq, ts=receipt.ts)

    def _remember(self, member: Member, id: str | None, seq: int, ts: str) -> None:
        if id is not None:
            self.store.remember((member.key, id), Receipt(seq, ts), self._clock())

    def _stamp(self, conversation: str) -> tuple[int, str]:
        last = self.store.last_seq(conversation) or self.seq_floor()
        return last + 1, self.now()


_by_key = attrgetter("key")


_moderation_decoder = msgspec.json.Decoder(Moderation)


def _until(sanction: Sanction) -> str | None:
    return format_ts(sanction.until) if sanction.until is not None else None
