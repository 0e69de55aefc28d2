"""How a request reaches the chat: the interface the mode handlers use, and
the single server's implementation of it. No asyncio here.

A single server decides everything at once in its hub (`LocalBackplane`).
A cluster (`cluster.RedisBackplane`) must first order the change in Redis, so
some of its answers are awaitables. The handlers pass every answer to
`Peer.then`, which runs the continuation at once for a plain value and, for
an awaitable, holds the peer's later lines until it is done; so one peer's
requests are answered in order either way, and a single server pays nothing
for the cluster's existence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from conexion_protocol import (
    Ack,
    AuditLog,
    CodeInfo,
    Found,
    Hand,
    HandQueue,
    HistoryReply,
    LeftReason,
    Message,
    Mod,
    Mode,
    ProtocolError,
    RoomInfo,
    RoomList,
    Search,
    Struct,
    TopicInfo,
    Users,
    Welcome,
)

from . import refusals
from .accounts import Account
from .guard import FailureBackoff
from .hub import Delivery, Hub, Member

T = TypeVar("T")
Maybe = T | Awaitable[T]
"""A result now (single server) or later (cluster)."""

Dispatch = Callable[[list[Delivery]], None]
"""Hands deliveries to the I/O layer, which sends them (after any commit)."""


class Peer(Protocol):
    """What the handlers and the backplanes see of one connection: a
    `session.Session`, written down here so that nothing above the hub needs
    to import it."""

    peer: str  # who it is in logs: the remote address and port
    address: str  # the remote IP address, the unit of per-address limits
    member: Member | None  # set once it has joined

    @property
    def closing(self) -> bool: ...

    def send(self, data: bytes) -> None: ...

    def send_frame(self, frame: Struct) -> None: ...

    def send_error(self, error: ProtocolError) -> None: ...

    def close(self, reason: LeftReason, final: bytes = b"") -> None: ...

    def then(
        self,
        answer: Maybe[T],
        on_answer: Callable[[T], None],
        on_refusal: Callable[[ProtocolError], None],
    ) -> None:
        """Hand the backplane's answer on, now or when it comes."""
        ...

    def after_answer(self, action: Callable[[], None]) -> None:
        """Run `action` once the request being served has been answered."""
        ...

    def authenticate(self, given: str | None) -> bool:
        """The shared password's check (with its backoff)."""
        ...

    def login_failed(self) -> float:
        """Count a wrong account password against the peer's address; the
        seconds its answer is to be held back."""
        ...

    def login_succeeded(self) -> None: ...

    def hold_back(self, delay: float) -> None:
        """Hold this peer's next answers (and its input) for `delay` seconds."""
        ...

    def note(self, kind: str, message: str, *args: object, level: int = ...) -> None:
        """Log a line an attacker could repeat at will (throttled; at INFO
        unless `level` says otherwise)."""
        ...

    def welcomed(self, member: Member, welcome: Welcome) -> None:
        """The join succeeded; `welcome` is the peer's first news of it."""
        ...


def ignore(_: object) -> None:
    """The continuation of a request whose answer the backplane sends itself
    (a welcome, a renamed event)."""


def search_scope(frame: Search) -> dict[str, Any]:
    """A `search` frame's optional fields as the hub's keyword arguments."""
    return {
        "room": frame.room if isinstance(frame.room, str) else None,
        "with_": frame.with_ if isinstance(frame.with_, str) else None,
        "before": frame.before if isinstance(frame.before, str) else None,
        "limit": frame.limit,
    }


class Backplane(Protocol):
    """Each method checks what it can at once (raising `ProtocolError`), then
    applies the change or hands it on. Deliveries to other peers are the
    backplane's business; the return value is the answer for the asker."""

    def join(self, peer: Peer, raw_name: str, password: str | None = None) -> Maybe[None]:
        """On success, `peer.welcomed(member, welcome)` has been called. A
        registered name needs its account's `password`."""
        ...

    def register(self, member: Member, password: str) -> Maybe[None]:
        """Register `member`'s name; `registered` is sent with the others."""
        ...

    def change_password(self, member: Member, old: str, new: str) -> Maybe[None]: ...

    def say(
        self,
        member: Member,
        text: str,
        *,
        id: str | None,
        room: str,
        action: bool,
        announce: bool = False,
        reply_to: int | None = None,
    ) -> Maybe[Ack]: ...

    def dm(self, member: Member, to: str, text: str, *, id: str | None) -> Maybe[tuple[Ack, str]]:
        """The ack and the recipient's name as the chat spells it."""
        ...

    def rename(self, member: Member, raw_name: str) -> Maybe[None]: ...

    def history(
        self, room: str, before: int | None, limit: int, member: Member
    ) -> Maybe[HistoryReply]:
        """A page of a room `member` is in."""
        ...

    def dm_history(
        self, other: str, before: int | None, limit: int, member: Member
    ) -> Maybe[HistoryReply]:
        """A page of the DMs between `member` and `other`."""
        ...

    def who(self, room: str) -> Users:
        """Who is in `room`, from this process's view of the chat."""
        ...

    def watch(self, member: Member, room: str) -> Users:
        """Who is in `room`, and `member` (in it) hears its joins and leaves."""
        ...

    def rooms(self) -> RoomList: ...

    def topic(self, room: str) -> TopicInfo: ...

    def enter(self, member: Member, room: str, code: str | None = None) -> Maybe[RoomInfo]:
        """`member` enters `room`, creating it if it may (a private one with
        its join `code`); the answer is the room as it finds it."""
        ...

    def part(self, member: Member, room: str) -> Maybe[None]:
        """`member` leaves `room`; its own `left` is sent with the others'."""
        ...

    def set_topic(self, member: Member, room: str, topic: str) -> Maybe[None]:
        """The `topic` frame that tells the room is sent with the others'."""
        ...

    def moderate(self, member: Member, mod: Mod) -> Maybe[None]:
        """The `moderation` news (the answer) is sent with the others'."""
        ...

    def set_mode(self, member: Member, mode: Mode) -> Maybe[None]: ...

    def hand(self, member: Member, hand: Hand) -> Maybe[None]:
        """Where the hand is now is sent with the queue's news."""
        ...

    def hands(self, member: Member, room: str) -> HandQueue: ...

    def seen(self, member: Member, room: str, seq: int | None) -> Maybe[None]: ...

    def delete(self, member: Member, room: str, seq: int) -> Maybe[None]:
        """The `deleted` news (the answer) is sent with the others'."""
        ...

    def edit(self, member: Member, room: str, seq: int, text: str) -> Maybe[None]:
        """The `edited` news (the answer) is sent with the others'."""
        ...

    def react(
        self, member: Member, room: str, seq: int, emoji: str, on: bool | None
    ) -> Maybe[None]:
        """The `reacted` news (the answer) is sent with the others', or to
        the asker alone when nothing changed."""
        ...

    def search(self, member: Member, frame: Search) -> Maybe[Found]: ...

    def check_login(self, peer: Peer, name: str, password: str) -> Maybe[str]:
        """The account registered as `name`, if `password` is its (with the
        backoff of a wrong one): its spelling. For IRC's SASL, which logs
        in before the connection joins."""
        ...

    def find(self, name: str) -> Member | None:
        """Whoever is in the chat under `name` (a look-alike of it), as this
        process knows the chat."""
        ...

    def latest(self, room: str, by: str | None) -> Message | None:
        """The newest message of `room` (a key) this process holds, by the
        name key `by` (anyone's when None): what a plain-text user's
        /reply, /edit, /react and /delete act on."""
        ...

    def join_code(self, member: Member, room: str, *, rotate: bool) -> Maybe[CodeInfo]: ...

    def audit(self, member: Member, room: str | None, limit: int) -> Maybe[AuditLog]: ...

    def leave(self, member: Member, reason: LeftReason) -> None:
        """Fire and forget: the connection is gone either way."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """After every connection is closed."""
        ...


def watch(hub: Hub, member: Member, raw_room: str) -> Users:
    """`who` with `watch`: the user list, and its joins and leaves from now
    on if `member` is in the room (the replica decides this alone: watching
    changes nothing anyone else sees)."""
    users = hub.who(raw_room)
    room = hub.check_room(raw_room)
    hub.watch(member, room)
    return users


Verify = Callable[[str, str], Awaitable[bool]]
"""Whether a password matches a stored hash, computed off the event loop."""
MakeHash = Callable[[str], Awaitable[str]]
"""A new hash of a password, computed off the event loop."""


class LoginFailures(Protocol):
    """Wrong passwords in a row per account, wherever in the chat they come
    from (a cluster counts them in Redis, so that a guesser gains nothing by
    spreading over instances)."""

    async def failed(self, key: str) -> float:
        """Count one against account `key`; the seconds to hold the answer."""
        ...

    async def succeeded(self, key: str) -> None: ...


class LocalLoginFailures:
    """One process: the hub's backoff table."""

    def __init__(self, backoff: FailureBackoff) -> None:
        self.backoff = backoff

    async def failed(self, key: str) -> float:
        return self.backoff.failed(key)

    async def succeeded(self, key: str) -> None:
        self.backoff.succeeded(key)


class Logins:
    """What both backplanes do with account passwords: check them (slowly,
    off the event loop, by the callables the I/O layer gives) and hold back
    the answer to wrong ones, per account and per address."""

    def __init__(self, hub: Hub, verify: Verify, make_hash: MakeHash) -> None:
        self.hub = hub
        self.verify = verify
        self.make_hash = make_hash
        # A cluster's backplane puts its own, shared one here.
        self.failures: LoginFailures = LocalLoginFailures(hub.login_failures)

    async def check(self, peer: Peer, account: Account, password: str) -> None:
        """Return if `password` is the account's; else `bad_login`, held back
        the longer of the account's and the address's waits."""
        if await self.verify(account.hash, password):
            await self.failures.succeeded(account.key)
            peer.login_succeeded()
            return
        hold = max(await self.failures.failed(account.key), peer.login_failed())
        raise refusals.bad_login(account.name, hold)

    async def new_account(self, member: Member, password: str) -> Account:
        return Account(member.key, member.name, await self.make_hash(password))

    async def changed(self, peer: Peer, account: Account, old: str, new: str) -> Account:
        await self.check(peer, account, old)
        return account.with_password(await self.make_hash(new))


def close_banned(members: list[Member]) -> None:
    """Close the connections of members banned from the whole chat (their
    `moderation` news went out first); each then leaves as any connection
    that ends, with the reason `banned`."""
    for member in members:
        member.peer.close(LeftReason.BANNED)


def relay_dm(deliveries: list[Delivery], origin: Member | None, dispatch: Dispatch) -> None:
    """Send a relayed DM. A note to oneself reaches its sender after the
    `ack`, as any other DM's recipient would see it after the sender's ack."""
    if origin is not None and deliveries and deliveries[0].to[0] is origin:
        origin.peer.after_answer(lambda: dispatch(deliveries))
    else:
        dispatch(deliveries)


class LocalBackplane:
    """One process: the hub decides, the I/O layer dispatches, nothing waits."""

    def __init__(
        self, hub: Hub, dispatch: Dispatch, logins: Logins, *, stopping: Callable[[], bool]
    ) -> None:
        self.hub = hub
        self.dispatch = dispatch
        self.logins = logins
        self._stopping = stopping

    def join(self, peer: Peer, raw_name: str, password: str | None = None) -> Maybe[None]:
        hub = self.hub
        _, key = hub.check_name(raw_name)
        hub.check_capacity()
        account = hub.check_login(key)
        if account is None:
            self._admit(peer, raw_name, None)
            return None
        if password is None:
            raise refusals.login_required(account.name)
        return self._login(peer, raw_name, account, password)

    async def _login(self, peer: Peer, raw_name: str, account: Account, password: str) -> None:
        await self.logins.check(peer, account, password)
        self._admit(peer, raw_name, account)  # checks the name again: time has passed

    def _admit(self, peer: Peer, raw_name: str, account: Account | None) -> None:
        member, welcome, deliveries = self.hub.join(raw_name, peer, account, peer.address)
        peer.welcomed(member, welcome)
        self.dispatch(deliveries)

    def register(self, member: Member, password: str) -> Maybe[None]:
        self.hub.check_register(member, password)
        return self._register(member, password)

    async def _register(self, member: Member, password: str) -> None:
        account = await self.logins.new_account(member, password)
        if self.hub.store.account(member.key) is not None:  # the operator was quicker
            raise refusals.already_registered(member.name)
        self.dispatch(self.hub.apply_account(member, account, changed=False))

    def change_password(self, member: Member, old: str, new: str) -> Maybe[None]:
        if member.account is None:
            raise refusals.not_logged_in()
        self.hub.check_new_password(new)
        return self._change(member, member.account, old, new)

    async def _change(self, member: Member, account: Account, old: str, new: str) -> None:
        changed = await self.logins.changed(member.peer, account, old, new)
        self.dispatch(self.hub.apply_account(member, changed, changed=True))

    def say(
        self,
        member: Member,
        text: str,
        *,
        id: str | None,
        room: str,
        action: bool,
        announce: bool = False,
        reply_to: int | None = None,
    ) -> Ack:
        ack, deliveries = self.hub.say(
            member, text, id=id, room=room, action=action, announce=announce, reply_to=reply_to
        )
        self.dispatch(deliveries)
        return ack

    def dm(self, member: Member, to: str, text: str, *, id: str | None) -> tuple[Ack, str]:
        ack, deliveries = self.hub.dm(member, to, text, id=id)
        relay_dm(deliveries, member, self.dispatch)
        # A repeated id relays nothing; the recipient is then the one asked for.
        return ack, deliveries[0].to[0].name if deliveries else to

    def rename(self, member: Member, raw_name: str) -> None:
        self.dispatch(self.hub.rename(member, raw_name))

    def history(self, room: str, before: int | None, limit: int, member: Member) -> HistoryReply:
        return self.hub.history(room, before, limit, member)

    def dm_history(
        self, other: str, before: int | None, limit: int, member: Member
    ) -> HistoryReply:
        return self.hub.dm_history(other, before, limit, member)

    def who(self, room: str) -> Users:
        return self.hub.who(room)

    def watch(self, member: Member, room: str) -> Users:
        return watch(self.hub, member, room)

    def rooms(self) -> RoomList:
        return self.hub.room_list()

    def topic(self, room: str) -> TopicInfo:
        return self.hub.topic_info(room)

    def enter(self, member: Member, room: str, code: str | None = None) -> RoomInfo:
        info, deliveries = self.hub.enter_room(member, room, code)
        self.dispatch(deliveries)
        return info

    def part(self, member: Member, room: str) -> None:
        self.dispatch(self.hub.part_room(member, room))

    def set_topic(self, member: Member, room: str, topic: str) -> None:
        self.dispatch(self.hub.set_topic(member, room, topic))

    def moderate(self, member: Member, mod: Mod) -> None:
        deliveries, banned = self.hub.moderate(member, mod)
        self.dispatch(deliveries)
        close_banned(banned)

    def set_mode(self, member: Member, mode: Mode) -> None:
        self.dispatch(self.hub.set_mode(member, mode))

    def hand(self, member: Member, hand: Hand) -> None:
        self.dispatch(self.hub.hand(member, hand))

    def hands(self, member: Member, room: str) -> HandQueue:
        return self.hub.hand_queue(member, room)

    def seen(self, member: Member, room: str, seq: int | None) -> None:
        self.dispatch(self.hub.seen(member, room, seq))

    def delete(self, member: Member, room: str, seq: int) -> None:
        self.dispatch(self.hub.delete(member, room, seq))

    def edit(self, member: Member, room: str, seq: int, text: str) -> None:
        self.dispatch(self.hub.edit(member, room, seq, text))

    def react(self, member: Member, room: str, seq: int, emoji: str, on: bool | None) -> None:
        self.dispatch(self.hub.react(member, room, seq, emoji, on))

    def search(self, member: Member, frame: Search) -> Found:
        return self.hub.search(member, frame.text, **search_scope(frame))

    def latest(self, room: str, by: str | None) -> Message | None:
        return self.hub.latest_message(room, by)

    def find(self, name: str) -> Member | None:
        return self.hub.find(name)

    def check_login(self, peer: Peer, name: str, password: str) -> Maybe[str]:
        account = self.hub.check_login(self.hub.parse_name(name)[1])
        if account is None:
            raise refusals.not_registered_name(name)
        return self._checked(peer, account, password)

    async def _checked(self, peer: Peer, account: Account, password: str) -> str:
        await self.logins.check(peer, account, password)
        return account.name

    def join_code(self, member: Member, room: str, *, rotate: bool) -> CodeInfo:
        info, deliveries = self.hub.join_code(member, room, rotate=rotate)
        self.dispatch(deliveries)
        return info

    def audit(self, member: Member, room: str | None, limit: int) -> AuditLog:
        return self.hub.audit(member, room, limit)

    def leave(self, member: Member, reason: LeftReason) -> None:
        deliveries = self.hub.remove(member, reason)
        if not self._stopping():
            self.dispatch(deliveries)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
