"""A cluster: any number of instances serving one chat through one Redis.

Redis holds the truth: one stream is the chat's log (messages, DMs, joins,
leaves, renames, in one order), a counter gives `seq`, hashes hold who is
online, and each change is one Lua script (see `cluster_scripts`), so no two
instances can interleave. Each instance keeps a replica of the chat in its
hub (the user list and recent history) by applying the log in order, and
delivers each entry to its own peers. A sender's `ack` follows the append.

Presence: each instance refreshes its deadline in `alive`; one that misses it
(killed, cut off) is reaped by any other, which announces its users as
`left` with reason `lost`.

When Redis is unreachable, requests that need it are refused with a clear
error, connections stay open, and the instance catches up by itself, from
where it was in the log, when Redis returns.

This module holds only the Redis I/O: what an entry means and how it changes
the chat is `cluster_log`'s (pure, tested without Redis), and every rule that
may refuse a request is the hub's, as on a single server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from conexion_protocol import (
    MAX_REACTIONS,
    UNSET,
    Ack,
    AuditLog,
    CodeInfo,
    ErrorCode,
    Found,
    Hand,
    HandQueue,
    HistoryReply,
    LeftReason,
    Message,
    Mod,
    Mode,
    Moderation,
    ProtocolError,
    RoomInfo,
    RoomList,
    Search,
    TopicInfo,
    Users,
    encode,
    name_key,
)

from . import cluster_log, refusals
from . import cluster_scripts as lua
from .accounts import Account
from .actions import with_text
from .backplane import Dispatch, Logins, Peer, search_scope, watch
from .cluster_log import LogError, Replica
from .config import ServerConfig
from .guard import backoff_delay
from .hub import Hub, Member
from .moderation import Effect, ModChange
from .refusals import Unavailable
from .search import Query, older_than, page_newest_first, parse_cursor
from .store import (
    ACTION_FLAG,
    ANNOUNCEMENT_FLAG,
    AUDIT_KEPT,
    DM_PREFIX,
    Stored,
    StoreError,
    dm_conversation,
    take_before,
    tombstone,
)

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_moderation_decoder = msgspec.json.Decoder(Moderation)
MAX_STREAM_ID = 2**64 - 1  # the largest first part of a Redis stream entry id


def redacted(url: str) -> str:
    """The URL without a password, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class Keys:
    """Every Redis key of one chat: the global ones share the hash tag
    `{g}`, each room's share `{r:KEY}`, so that each script touches one hash
    slot (see cluster_scripts)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        g = f"{prefix}{{g}}:"
        self.log = g + "log"
        self.names = g + "names"
        self.owners = g + "owners"
        self.alive = g + "alive"
        self.rooms = g + "rooms"
        self.accounts = g + "accounts"
        self.mod = g + "mod"  # the whole server's moderation fields
        self.audit = g + "audit"
        self._login_failures = g + "loginfail:"
        self.dmseq = g + "dmseq"
        self.inst_prefix = g + "inst:"
        self._global = g

    def login_failures(self, account_key: str) -> str:
        return self._login_failures + account_key

    def instance(self, instance: str) -> str:
        return self.inst_prefix + instance

    def dm_log(self, conversation: str) -> str:
        return f"{self._global}{conversation}"

    def dm_id(self, key: str, id: str) -> str:
        # The key's length first, so that no (key, id) pair can spell another.
        return f"{self._global}id:{len(key)}:{key}:{id}"

    def room(self, key: str) -> RoomKeys:
        return RoomKeys(f"{self.prefix}{{r:{key}}}:")


class RoomKeys:
    def __init__(self, base: str) -> None:
        self.log = base + "log"
        self.seq = base + "seq"
        self.meta = base + "meta"
        self.members = base + "members"
        self.audit = base + "audit"
        self.gone = base + "gone"  # deleted messages: seq -> "1"
        self.edits = base + "edits"  # edited messages: seq -> text
        self.reacts = base + "reacts"  # seq -> reactions (see cluster_scripts.REACT)
        self._base = base

    def send_id(self, key: str, id: str) -> str:
        return f"{self._base}id:{len(key)}:{key}:{id}"


class TurnPipeline:
    """Every Redis call made in one loop turn goes out as one pipeline on one
    connection; calls made while it is in flight go out in the next. Under
    load that is one round trip for many messages (as the SQLite store's
    group commit is one fsync), and an instance holds two connections to
    Redis (this one and the log follower's) however many users are sending,
    never one per request in flight."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queued: list[tuple[Callable[[Pipeline], object], asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None

    def call(self, add: Callable[[Pipeline], object]) -> asyncio.Future[Any]:
        """`add` puts one command on the pipeline; the future gets its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((add, future))
        if self.task is None:
            self.task = loop.create_task(self._send(), name="cluster-pipeline")
        return future

    async def _send(self) -> None:
        batch: list[tuple[Callable[[Pipeline], object], asyncio.Future[Any]]] = []
        try:
            await asyncio.sleep(0)  # the rest of this turn's calls join in
            while self._queued:
                batch, self._queued = self._queued, []
                pipe = self._redis.pipeline(transaction=False)
                for add, _ in batch:
                    add(pipe)
                try:
                    replies = await pipe.execute(raise_on_error=False)
                except Exception as exc:  # Redis unreachable: every caller hears it
                    replies = [exc] * len(batch)
                for (_, future), reply in zip(batch, replies, strict=True):
                    if future.done():  # its caller gave up (a stop)
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        finally:
            self.task = None
            # Cancelled (the instance is stopping): nobody waits forever.
            for _, future in (*batch, *self._queued):
                future.cancel()
            self._queued = []


class RedisLoginFailures:
    """Wrong passwords in a row per account, counted in Redis for the whole
    cluster: a counter per account that expires `login_forget` seconds after
    its last failure."""

    def __init__(self, backplane: RedisBackplane) -> None:
        self.backplane = backplane

    async def failed(self, key: str) -> float:
        hub, redis_key = self.backplane.hub, self.backplane.keys.login_failures(key)
        forget = max(1, int(hub.config.login_forget))
        # Both go out on the same pipeline, in this order.
        count = self.backplane.call_redis(lambda pipe: pipe.incr(redis_key))
        expiry = self.backplane.call_redis(lambda pipe: pipe.expire(redis_key, forget))
        failures, _ = await asyncio.gather(count, expiry)
        return backoff_delay(hub.config.login_delays, int(failures))

    async def succeeded(self, key: str) -> None:
        redis_key = self.backplane.keys.login_failures(key)
        await self.backplane.call_redis(lambda pipe: pipe.delete(redis_key))


class RedisBackplane:
    def __init__(self, hub: Hub, dispatch: Dispatch, logins: Logins, config: ServerConfig) -> None:
        assert config.cluster is not None
        self.hub = hub
        self.dispatch = dispatch
        self.logins = logins
        self.config = config
        self.url = config.cluster
        self.keys = Keys(config.cluster_prefix)
        logins.failures = RedisLoginFailures(self)
        self.replica = Replica(hub, dispatch)
        host = socket.gethostname().replace("/", "-")
        self.instance = f"{host}-{os.getpid()}-{secrets.token_hex(3)}"
        self._counter = itertools.count(1)
        self._max_log = config.cluster_max_log
        self._redis = Redis.from_url(
            self.url,
            decode_responses=True,
            socket_connect_timeout=config.cluster_connect_timeout,
            socket_timeout=config.cluster_read_block + config.cluster_reply_timeout,
            # One quick retry on a fresh connection covers a pooled connection
            # that died with a Redis restart; an outage must fail fast.
            retry=Retry(NoBackoff(), 1),
        )
        self._pipeline = TurnPipeline(self._redis)
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in (
                ("claim", lua.CLAIM),
                ("release", lua.RELEASE),
                ("rename", lua.RENAME),
                ("create_room", lua.CREATE_ROOM),
                ("enter", lua.ENTER),
                ("member", lua.MEMBER),
                ("forget", lua.FORGET),
                ("part", lua.PART),
                ("topic", lua.TOPIC),
                ("say", lua.SAY),
                ("dm", lua.DM),
                ("alive", lua.ALIVE),
                ("reap", lua.REAP),
                ("snapshot", lua.SNAPSHOT),
                ("room_snapshot", lua.ROOM_SNAPSHOT),
                ("moderate", lua.MODERATE),
                ("room_event", lua.ROOM_EVENT),
                ("delete", lua.DELETE),
                ("edit", lua.EDIT),
                ("react", lua.REACT),
            )
        }
        # Where the follower is in each log: the global one first, then one
        # per room (key -> the room's key, for decoding).
        self._positions: dict[str, str] = {self.keys.log: "0-0"}
        self._room_of_log: dict[str, str] = {}
        # Requests whose outcome the logs will show: a join's welcome, a
        # rename's confirmation (by token), an enter, part or topic (by token
        # and room key).
        self._joined: dict[str, asyncio.Future[None]] = {}
        self._renamed: dict[str, asyncio.Future[None]] = {}
        self._settling: dict[tuple[str, str], asyncio.Future[RoomInfo | None]] = {}
        self._creating = 0  # rooms on their way into the directory
        self._unsent_leaves: list[tuple[str, str, str]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.reachable = True
        self._reachable_since = 0.0
        self.registered = False
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Load who is online, the rooms and their recent history, then follow
        the logs."""
        loop = asyncio.get_running_loop()
        try:
            await self._load_scripts()
            await self._load()
            await self._refresh()
        except (Unavailable, RedisError, OSError, LogError) as exc:
            await self._redis.aclose()
            reason = exc.__cause__ if isinstance(exc, Unavailable) else exc
            raise StoreError(f"cannot use the cluster at {redacted(self.url)}: {reason}") from exc
        self._reachable_since = loop.time()
        log.info("instance %s joined the cluster at %s", self.instance, redacted(self.url))
        self._loops = [
            loop.create_task(self._follow(), name="cluster-log"),
            loop.create_task(self._maintain(), name="cluster-presence"),
        ]

    async def stop(self) -> None:
        """Finish announcing leaves, then leave the cluster."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.config.cluster_stop_wait)
        self._stopping = True
        await _cancel(self._loops)
        if self._pipeline.task is not None:
            await _cancel([self._pipeline.task])
        with contextlib.suppress(RedisError, OSError):
            if not self._unsent_leaves and not self.hub.local:
                # Everyone here has left in the log: nothing to reap.
                await self._redis.zrem(self.keys.alive, self.instance)
                await self._redis.delete(self.keys.instance(self.instance))
        await self._redis.aclose()

    async def _load_scripts(self) -> None:
        """Put every script in Redis's cache, so each call is one EVALSHA
        (redis-py's own loading would ask SCRIPT EXISTS before every batch)."""
        for code in self._scripts.values():
            await self._pipeline.call(lambda pipe, code=code: pipe.script_load(code.script))

    async def _load(self) -> None:
        keys, hub = self.keys, self.hub
        last_id, names, owners, directory = await self._run(
            "snapshot", [keys.log, keys.names, keys.owners, keys.rooms], []
        )
        self.replica.load_global(_pairs(names), _pairs(owners))
        await self._load_moderation()
        self._positions[keys.log] = last_id
        rooms = _pairs(directory)
        # The rooms this instance was told to have (`general`, `--rooms`)
        # join the directory if they are new to it.
        for room in list(hub.rooms.values()):
            if room.key not in rooms:
                await self._run(
                    "create_room",
                    [keys.rooms, keys.log],
                    [room.key, room.name, self.hub.config.max_rooms, self._max_log],
                )
                rooms[room.key] = room.name
        for key, name in rooms.items():
            await self._load_room(key, name)

    async def _load_moderation(self) -> None:
        """The server's bans, and the accounts of those online before this
        instance started (their roles count wherever they are)."""
        hub, keys = self.hub, self.keys
        fields = await self.call_redis(lambda pipe: pipe.hgetall(keys.mod))
        try:
            hub.load_moderation({"": cluster_log.mod_fields(fields)})
        except StoreError as exc:
            raise LogError(str(exc)) from exc
        online = [m for m in hub.members.values() if m.peer is None]
        for start in range(0, len(online), 1000):
            chunk = online[start : start + 1000]
            values = await self.call_redis(
                lambda pipe, chunk=chunk: pipe.hmget(keys.accounts, [m.key for m in chunk])
            )
            for member, value in zip(chunk, values, strict=True):
                account = cluster_log.decode_account(member.key, value)
                if account is not None:
                    member.account = Account(account.key, account.name, "", admin=account.admin)

    async def _load_room(self, key: str, name: str) -> None:
        rk = self.keys.room(key)
        last_id, meta, tokens = await self._run("room_snapshot", [rk.log, rk.meta, rk.members], [])
        recent = await self._scan(rk.log, key, last_id, self.hub.config.history_size)
        self.replica.load_room(name, _pairs(meta), list(tokens), recent)
        self._follow_room(key, last_id)

    def _follow_room(self, key: str, position: str) -> None:
        log_key = self.keys.room(key).log
        if log_key not in self._positions:
            self._positions[log_key] = position
            self._room_of_log[log_key] = key

    # -- the Backplane interface -----------------------------------------------

    async def join(self, peer: Peer, raw_name: str, password: str | None = None) -> None:
        hub, keys = self.hub, self.keys
        # Only Redis knows whether the name is free: the replica here may not
        # have read yet that its last holder left.
        name, key = hub.parse_name(raw_name)
        hub.check_capacity(joining=len(self.replica.joining))
        account = hub.check_account(await self.account(key))
        if account is not None:
            if password is None:
                raise refusals.login_required(account.name)
            await self.logins.check(peer, account, password)
            name = account.name
        hub.check_not_banned(key, peer.address, account)

        token = self._token()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replica.joining[token] = peer
        self.replica.accounts[token] = account
        self._joined[token] = done
        general = hub.general
        gk = keys.room(general.key)
        try:
            # Counted in `general` first, so that a message sent right after
            # the welcome finds its sender there.
            await self._run("member", [gk.meta, gk.members], [general.name, token])
            entry = await self._run(
                "claim",
                [keys.names, keys.owners, keys.instance(self.instance), keys.log],
                [
                    key,
                    name,
                    token,
                    self._max_log,
                    cluster_log.account_kind(account),
                    peer.address,
                ],
            )
            if entry is None:
                self._spawn(self._forget([general.key], token))
                raise refusals.name_taken(name)
        except BaseException:
            self.replica.joining.pop(token, None)
            self.replica.accounts.pop(token, None)
            self._joined.pop(token, None)
            raise
        await done  # the welcome goes out when this instance reads the join

    async def say(
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
        hub = self.hub
        try:
            where, checked = hub.check_say(member, room, text, id, announce=announce)
            reply_from = None
            if reply_to is not None:
                replied = await self._stored(where.key, reply_to)
                reply_from = hub.check_reply(where, reply_to, replied)
        except ProtocolError as exc:
            exc.id = id
            key = self.keys.room(name_key(room)).send_id(member.key, id or "")
            answer = await self._unless_repeat(exc, key, id)
            if isinstance(answer, _Repeat):
                return answer.ack
            raise answer from None
        rk = self.keys.room(where.key)
        # A send without an id gets one here, so that the one retry on a
        # broken connection can never store it twice.
        send_id = id if id is not None else f"~{self._token()}"
        reply = await self._send(
            member,
            id,
            "say",
            [rk.seq, rk.log, rk.send_id(member.key, send_id), rk.members],
            [
                self._floor,
                self._max_log,
                int(hub.config.id_ttl * 1000),
                member.name,
                member.token,
                where.name,
                checked,
                str((ACTION_FLAG if action else 0) | (ANNOUNCEMENT_FLAG if announce else 0)),
                reply_to if reply_to is not None else "",
                reply_from or "",
            ],
        )
        return reply[0]

    async def dm(self, member: Member, to: str, text: str, *, id: str | None) -> tuple[Ack, str]:
        hub, keys = self.hub, self.keys
        # Whether `to` is online is checked in Redis when the DM is stored:
        # the replica here may lag behind a join elsewhere.
        try:
            checked = hub.check_text(member, text, id)
        except ProtocolError as exc:
            answer = await self._unless_repeat(exc, keys.dm_id(member.key, id or ""), id)
            if isinstance(answer, _Repeat):
                return answer.ack, to
            raise answer from None
        to_key = name_key(to)
        conversation = dm_conversation(member.key, to_key)
        send_id = id if id is not None else f"~{self._token()}"
        ack, target = await self._send(
            member,
            id,
            "dm",
            [
                keys.dmseq,
                keys.dm_log(conversation),
                keys.log,
                keys.dm_id(member.key, send_id),
                keys.names,
                keys.owners,
            ],
            [
                self._floor,
                self._max_log,
                int(hub.config.id_ttl * 1000),
                member.name,
                member.key,
                member.token,
                checked,
                to_key,
                conversation,
            ],
            to=to,
        )
        return ack, target

    async def rename(self, member: Member, raw_name: str) -> None:
        hub = self.hub
        # Free or not: Redis decides, as for a join.
        name, key = hub.check_rename(member, raw_name, here=False)
        if key != member.key:
            hub.check_rename_account(member, key, await self.account(key))
        if name == member.name:
            self.dispatch(hub.apply_rename(member, name, key))  # a confirmation
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._renamed[member.token] = done
        keys = self.keys
        try:
            result = await self._run(
                "rename",
                [keys.names, keys.owners, keys.instance(self.instance), keys.log],
                [member.key, key, name, member.token, self._max_log],
            )
            if result == "taken":
                raise refusals.name_taken(name)
            if result != "ok":
                raise self._lost_claim(member)
        except BaseException:
            self._renamed.pop(member.token, None)
            raise
        await done  # applied here, so the next message carries the new name

    async def call_redis(self, add: Callable[[Pipeline], object]) -> Any:
        """One command's reply, on this turn's pipeline; `unavailable` (and
        the instance's alarm) when Redis cannot be reached."""
        try:
            return await self._pipeline.call(add)
        except UNREACHABLE as exc:
            self._unreachable(exc)
            raise Unavailable() from exc

    async def account(self, key: str) -> Account | None:
        """The account registered under name key `key`, from Redis."""
        value = await self.call_redis(lambda pipe: pipe.hget(self.keys.accounts, key))
        return cluster_log.decode_account(key, value)

    async def register(self, member: Member, password: str) -> None:
        self.hub.check_register(member, password)
        account = await self.logins.new_account(member, password)
        value = cluster_log.encode_account(account)
        added = await self.call_redis(
            lambda pipe: pipe.hsetnx(self.keys.accounts, member.key, value)
        )
        if not added:
            raise refusals.already_registered(member.name)
        self.dispatch(self.hub.apply_account(member, account, changed=False))

    async def change_password(self, member: Member, old: str, new: str) -> None:
        account = member.account
        if account is None:
            raise refusals.not_logged_in()
        self.hub.check_new_password(new)
        changed = await self.logins.changed(member.peer, account, old, new)
        await self.save_account(changed)
        self.dispatch(self.hub.apply_account(member, changed, changed=True))

    async def save_account(self, account: Account) -> None:
        value = cluster_log.encode_account(account)
        await self.call_redis(lambda pipe: pipe.hset(self.keys.accounts, account.key, value))

    async def enter(self, member: Member, raw_room: str, code: str | None = None) -> RoomInfo:
        hub, keys = self.hub, self.keys
        name, key = hub.check_enter(member, raw_room, creating=self._creating, code=code)
        created = False
        if key not in hub.rooms:
            self._creating += 1
            try:
                made = await self._run(
                    "create_room",
                    [keys.rooms, keys.log],
                    [key, name, hub.config.max_rooms, self._max_log],
                )
            finally:
                self._creating -= 1
            if made == "full":
                raise refusals.too_many_rooms(hub.config.max_rooms)
            created = made == "created"
        rk = keys.room(key)
        settled = self._expect(member.token, key)
        try:
            entered = await self._run(
                "enter",
                [rk.meta, rk.members, rk.log, rk.seq],
                [
                    name,
                    member.token,
                    member.name,
                    self._floor,
                    self._max_log,
                    member.key if created and hub.owner_fields(member) else "",
                ],
            )
        except BaseException:
            self._settling.pop((member.token, key), None)
            raise
        if entered:
            info = await settled
        else:
            # In it already: nothing was logged. The replica may still be on
            # its way to that earlier join; then its answer is this one's too.
            self._settling.pop((member.token, key), None)
            room = hub.rooms.get(key)
            if room is None:
                raise refusals.no_such_room(raw_room)
            info = hub.room_info(room, member)
        assert info is not None
        return msgspec.structs.replace(info, created=True) if created else info

    async def part(self, member: Member, raw_room: str) -> None:
        room = self.hub.check_member_of(member, raw_room)
        rk = self.keys.room(room.key)
        settled = self._expect(member.token, room.key)
        try:
            parted = await self._run(
                "part",
                [rk.members, rk.log, rk.seq],
                [member.token, member.name, LeftReason.PART.value, self._floor, self._max_log],
            )
        except BaseException:
            self._settling.pop((member.token, room.key), None)
            raise
        if not parted:
            self._settling.pop((member.token, room.key), None)
            raise refusals.not_in_room(room.name)
        await settled

    async def set_topic(self, member: Member, raw_room: str, raw_topic: str) -> None:
        room, topic = self.hub.check_topic(member, raw_room, raw_topic)
        rk = self.keys.room(room.key)
        settled = self._expect(member.token, room.key)
        try:
            result = await self._run(
                "topic",
                [rk.meta, rk.members, rk.log, rk.seq],
                [member.token, member.name, topic, self._floor, self._max_log],
            )
        except BaseException:
            self._settling.pop((member.token, room.key), None)
            raise
        if result != "ok":
            self._settling.pop((member.token, room.key), None)
            raise self._lost_claim(member)
        await settled

    async def moderate(self, member: Member, mod: Mod) -> None:
        _, key, online = self.hub.mod_target(mod.name)
        if online is not None and online.peer is not None:
            account = online.account
        else:
            account = await self.account(key)  # Redis knows best who is an admin
        await self._moderate(member, self.hub.check_mod(member, mod, account))

    async def hand(self, member: Member, hand: Hand) -> None:
        change = self.hub.check_hand(member, hand)
        rk = self.keys.room(change.room)
        settled = self._expect(member.token, change.room)
        try:
            await self._run(
                "room_event",
                [rk.log, rk.seq],
                [self._floor, self._max_log, cluster_log.HAND, _json(change), member.token],
            )
        except BaseException:
            self._settling.pop((member.token, change.room), None)
            raise
        await settled

    def hands(self, member: Member, room: str) -> HandQueue:
        return self.hub.hand_queue(member, room)

    async def _stored(self, room: str, seq: int) -> Stored | None:
        """Message `seq` of the room with key `room` as it is now: from this
        replica's memory, or, when older, from the room's log."""
        message = self.hub.store.message(room, seq)
        if message is not None:
            return message
        log_key = self.keys.room(room).log
        entry = await self.call_redis(lambda pipe: pipe.xrange(log_key, f"{seq}-0", f"{seq}-0"))
        found = await self._current(
            room,
            [
                e.frame
                for e in (cluster_log.decode_room(room, i, f) for i, f in entry)
                if isinstance(e, cluster_log.Sent)
            ],
        )
        return found[0] if found else None

    async def delete(self, member: Member, raw_room: str, seq: int) -> None:
        hub = self.hub
        room = hub.check_room(raw_room)
        rk = self.keys.room(room.key)
        message = await self._stored(room.key, seq)
        change = hub.check_delete(member, raw_room, message, seq)
        news = encode(change.news).decode() if change.news is not None else ""
        settled = self._expect(member.token, room.key)
        try:
            result = await self._run(
                "delete",
                [rk.gone, rk.log, rk.seq, rk.audit, rk.edits, rk.reacts],
                [self._floor, self._max_log, AUDIT_KEPT, seq, _json(change), news, member.token],
            )
        except BaseException:
            self._settling.pop((member.token, room.key), None)
            raise
        if result != "ok":
            self._settling.pop((member.token, room.key), None)
            raise refusals.no_such_message(room.name, seq)
        await settled

    async def edit(self, member: Member, raw_room: str, seq: int, text: str) -> None:
        hub = self.hub
        room = hub.check_room(raw_room)
        rk = self.keys.room(room.key)
        change = hub.check_edit(member, raw_room, await self._stored(room.key, seq), seq, text)
        settled = self._expect(member.token, room.key)
        try:
            result = await self._run(
                "edit",
                [rk.gone, rk.edits, rk.log, rk.seq],
                [self._floor, self._max_log, seq, change.text, _json(change), member.token],
            )
        except BaseException:
            self._settling.pop((member.token, room.key), None)
            raise
        if result != "ok":
            self._settling.pop((member.token, room.key), None)
            raise refusals.no_such_message(room.name, seq)
        await settled

    async def react(
        self, member: Member, raw_room: str, seq: int, emoji: str, on: bool | None
    ) -> None:
        hub = self.hub
        room = hub.check_room(raw_room)
        rk = self.keys.room(room.key)
        message = await self._stored(room.key, seq)
        change = hub.check_react(member, raw_room, message, seq, emoji, on)
        # Redis decides: the reactions here may lag behind another instance's.
        wanted = "t" if on is None else "1" if on else "0"
        settled = self._expect(member.token, room.key)
        try:
            reply = await self._run(
                "react",
                [rk.gone, rk.reacts, rk.log, rk.seq],
                [
                    self._floor,
                    self._max_log,
                    seq,
                    change.emoji,
                    member.key,
                    member.name,
                    wanted,
                    MAX_REACTIONS,
                    _json(change),
                    member.token,
                ],
            )
        except BaseException:
            self._settling.pop((member.token, room.key), None)
            raise
        status = reply[0]
        if status == "ok":
            await settled
            return
        self._settling.pop((member.token, room.key), None)
        if status == "gone":
            raise refusals.no_such_message(room.name, seq)
        if status == "full":
            raise refusals.reaction_limit(MAX_REACTIONS)
        change.names = cluster_log.reactor_names(reply[1])
        change.on, change.changed = reply[2] == "1", False
        self.dispatch(hub.apply_react(change, member))

    async def search(self, member: Member, frame: Search) -> Found:
        """A scan of the newest `cluster_search_scan` entries of each room's
        log (and of each of the asker's DM conversations), filtered here:
        Redis has no word index (see docs/scaling.md)."""
        scope = search_scope(frame)
        query = self.hub.check_search(member, frame.text, scope["room"], scope["with_"])
        before = scope["before"]
        if before is not None:
            parse_cursor(before)  # a bad cursor is refused before any work
        bound = parse_cursor(before) if before is not None else None
        # Each conversation gives at most its newest `need` matches before
        # the cursor (a few more than a page: some may turn out deleted).
        need = frame.limit + 6
        found: list[Stored] = []
        for room in query.conversations:
            found.extend(await self._search_log(self.keys.room(room).log, room, query, bound, need))
        if query.dms:
            for conversation in await self._dm_conversations(member.key, query.dm_with):
                log_key = self.keys.dm_log(conversation)
                found.extend(await self._search_log(log_key, None, query, bound, need))
        hits, after = page_newest_first(found, before, frame.limit)
        return Found(text=frame.text, hits=hits, next=after if after is not None else UNSET)

    def latest(self, room: str, by: str | None) -> Message | None:
        return self.hub.latest_message(room, by)

    def find(self, name: str) -> Member | None:
        return self.hub.find(name)

    async def check_login(self, peer: Peer, name: str, password: str) -> str:
        key = self.hub.parse_name(name)[1]
        account = self.hub.check_account(await self.account(key))
        if account is None:
            raise refusals.not_registered_name(name)
        await self.logins.check(peer, account, password)
        return account.name

    async def _search_log(
        self,
        stream: str,
        room: str | None,
        query: Query,
        bound: tuple[str, str, int] | None,
        need: int,
    ) -> list[Stored]:
        """The newest `need` messages of one log (a room's, with `room` its
        key, or a DM conversation's) that match `query` before `bound`,
        walking back at most `cluster_search_scan` entries. Matched on the
        text as it is now (edits); only the matches are then overlaid."""
        edits: dict[str, str] = {}
        if room is not None:
            edits = await self.call_redis(lambda pipe: pipe.hgetall(self.keys.room(room).edits))
        matches: list[Stored] = []
        end, left = "+", self.config.cluster_search_scan
        while left > 0 and len(matches) < need:
            count = min(2_000, left)
            entries = await self.call_redis(
                lambda pipe, end=end, count=count: pipe.xrevrange(stream, end, "-", count=count)
            )
            left -= len(entries)
            for entry_id, fields in entries:
                if room is None:
                    message: Stored = cluster_log.decode_dm(entry_id, fields)
                else:
                    entry = cluster_log.decode_room(room, entry_id, fields)
                    if not isinstance(entry, cluster_log.Sent):
                        continue
                    message = entry.frame
                    if str(message.seq) in edits:
                        message = _edited(message, edits)
                if (bound is None or older_than(message, bound)) and query.matches(message):
                    matches.append(message)
                    if len(matches) >= need:
                        break
            if len(entries) < count:
                break
            end = f"({entries[-1][0]}"
        if room is None:
            return matches
        return [m for m in await self._current(room, matches) if query.matches(m)]

    async def _dm_conversations(self, key: str, only: str | None) -> list[str]:
        """The DM conversations `key` is in (or just `only`), by the DM counters."""
        if only is not None:
            return [only]
        convs = await self.call_redis(lambda pipe: pipe.hkeys(self.keys.dmseq))
        mine = []
        for conv in convs:
            head, tail = f"{DM_PREFIX}{key}:", f":{key}"
            if conv.startswith(head):
                other = conv[len(head) :]
            elif conv.endswith(tail):
                other = conv[len(DM_PREFIX) : -len(tail)]
            else:
                continue
            if dm_conversation(key, other) == conv:  # names may hold ':'
                mine.append(conv)
        return mine

    async def _current(self, room: str, messages: list[Stored]) -> list[Stored]:
        """`messages` of a room as they are now: the deleted ones as
        tombstones, the edited ones with their new text, with reactions."""
        if not messages:
            return messages
        rk = self.keys.room(room)
        seqs = [str(m.seq) for m in messages]
        gone, edits, reacts = await asyncio.gather(
            self.call_redis(lambda pipe: pipe.hmget(rk.gone, seqs)),
            self.call_redis(lambda pipe: pipe.hmget(rk.edits, seqs)),
            self.call_redis(lambda pipe: pipe.hmget(rk.reacts, seqs)),
        )
        current: list[Stored] = []
        for message, deleted, text, reactions in zip(messages, gone, edits, reacts, strict=True):
            if deleted:
                current.append(tombstone(message))
                continue
            if isinstance(message, Message):
                if text is not None:
                    message = with_text(message, text)
                if reactions is not None:
                    message = msgspec.structs.replace(
                        message, reactions=cluster_log.decode_reactions(reactions) or UNSET
                    )
            current.append(message)
        return current

    async def seen(self, member: Member, room: str, seq: int | None) -> None:
        change = self.hub.check_seen(member, room, seq)
        rk = self.keys.room(change.room)
        await self._run(
            "room_event",
            [rk.log, rk.seq],
            [self._floor, self._max_log, cluster_log.SEEN, _json(change), member.token],
        )

    async def set_mode(self, member: Member, mode: Mode) -> None:
        await self._moderate(member, self.hub.check_mode(member, mode))

    async def join_code(self, member: Member, room: str, *, rotate: bool) -> CodeInfo:
        decided = self.hub.check_code(member, room, rotate=rotate)
        if isinstance(decided, CodeInfo):
            return decided
        await self._moderate(member, decided)
        return self.hub.code_info(decided.scope)

    async def audit(self, member: Member, room: str | None, limit: int) -> AuditLog:
        hub = self.hub
        scope = hub.check_audit(member, room)
        stream = self.keys.room(scope).audit if scope else self.keys.audit
        found = await self.call_redis(lambda pipe: pipe.xrevrange(stream, count=limit))
        entries = [_moderation_decoder.decode(fields["x"]) for _, fields in reversed(found)]
        log = AuditLog(entries=entries)
        if scope:
            log.room = hub.rooms[scope].name
        return log

    async def _moderate(self, member: Member, change: ModChange) -> None:
        """Write a decided action to Redis and wait until this replica has
        applied it (so its news reached everyone here, the actor first)."""
        hub, keys = self.hub, self.keys
        target = hub.members.get(change.target) if change.target else None
        pairs = [part for name, value in change.changes.items() for part in (name, value or "")]
        common = [
            self._max_log,
            AUDIT_KEPT,
            cluster_log.encode_change(change),
            encode(change.news).decode(),
            member.token,
        ]
        if change.scope:
            rk = keys.room(change.scope)
            leaving = change.effect in (Effect.KICK, Effect.BAN) and target is not None
            script_keys = [rk.meta, rk.log, rk.audit, rk.seq, rk.members]
            args = [self._floor, *common, target.token if leaving and target else "", *pairs]
        else:
            script_keys = [keys.mod, keys.log, keys.audit]
            args = ["", *common, "", *pairs]
        settled = self._expect(member.token, change.scope)
        try:
            await self._run("moderate", script_keys, args)
        except BaseException:
            self._settling.pop((member.token, change.scope), None)
            raise
        await settled

    async def history(
        self, raw_room: str, before: int | None, limit: int, member: Member
    ) -> HistoryReply:
        room = self.hub.check_member_of(member, raw_room)
        messages = await self._scan(self.keys.room(room.key).log, room.key, _bound(before), limit)
        return HistoryReply(room=room.name, messages=messages)

    async def dm_history(
        self, other: str, before: int | None, limit: int, member: Member
    ) -> HistoryReply:
        key = name_key(other)
        holder = self.hub.members.get(key)
        stream = self.keys.dm_log(dm_conversation(member.key, key))
        messages = await self._scan(stream, None, _bound(before), limit)
        return HistoryReply(with_=holder.name if holder is not None else other, messages=messages)

    def who(self, room: str) -> Users:
        return self.hub.who(room)

    def watch(self, member: Member, room: str) -> Users:
        return watch(self.hub, member, room)

    def rooms(self) -> RoomList:
        return self.hub.room_list()

    def topic(self, room: str) -> TopicInfo:
        return self.hub.topic_info(room)

    def leave(self, member: Member, reason: LeftReason) -> None:
        # Nothing more is delivered to it; the log's `left` removes it from
        # the user lists here and everywhere else.
        self.hub.local.pop(member.key, None)
        self._spawn(self._leave(member.key, member.token, reason.value))
        self._spawn(self._forget(list(member.rooms), member.token))

    # -- writing ------------------------------------------------------------------

    async def _unless_repeat(self, refusal: ProtocolError, key: str, id: str | None) -> Any:
        """`refusal`, unless the send is a repeat of one stored before: then
        its original ack (as a `_Repeat`). A single server answers repeats
        before any check; here only Redis knows them, so it is asked when a
        local check (the rate, the room) would refuse a send that has an id,
        and never on the way of an ordinary message."""
        if id is None or refusal.code not in _REPEATABLE:
            return refusal
        try:
            seen = await self._pipeline.call(lambda pipe: pipe.get(key))
        except UNREACHABLE as unreachable:
            self._unreachable(unreachable)
            return Unavailable(id)
        return refusal if seen is None else _Repeat(cluster_log.receipt(id, seen))

    async def _send(
        self,
        member: Member,
        id: str | None,
        script: str,
        keys: list[str],
        args: list[Any],
        *,
        to: str = "",
    ) -> tuple[Ack, str]:
        try:
            reply = await self._run(script, keys, args, id=id)
        except ProtocolError:
            member.bucket.refund()
            raise
        status = reply[0]
        if status == "ok":
            seq, millis = reply[1], reply[2]
            target = reply[3] if len(reply) > 3 else ""
            return Ack(id=id or "", seq=int(seq), ts=cluster_log.ts_of(millis)), target
        if status == "again":
            member.bucket.refund()  # repeats are free
            return cluster_log.receipt(id or "", reply[1]), to
        if status == "gone":
            member.bucket.refund()
            raise self._lost_claim(member, id)
        # A DM to nobody costs its token, as on a single server.
        raise refusals.no_such_user(to, id)

    def _expect(self, token: str, room: str) -> asyncio.Future[RoomInfo | None]:
        future: asyncio.Future[RoomInfo | None] = asyncio.get_running_loop().create_future()
        self._settling[(token, room)] = future
        return future

    def _lost_claim(self, member: Member, id: str | None = None) -> ProtocolError:
        """Redis no longer holds `member`'s name or membership (it lost its
        data, or gave this instance up for dead): refuse, then close the
        connection, so the client comes back and joins again."""
        log.warning("%s is no longer known to the cluster; closing its connection", member.name)
        peer = member.peer
        if peer is not None:
            peer.after_answer(lambda: peer.close(LeftReason.LOST))
        return refusals.lost_claim(id)

    async def _leave(self, key: str, token: str, reason: str) -> None:
        keys = self.keys
        try:
            await self._run(
                "release",
                [keys.names, keys.owners, keys.instance(self.instance), keys.log],
                [key, token, reason, self._max_log],
            )
        except Unavailable:
            self._unsent_leaves.append((key, token, reason))

    async def _forget(self, rooms: list[str], token: str) -> None:
        """Take a connection that ended out of its rooms' member sets; its
        leave is announced by the global log, so nothing is logged here."""
        with contextlib.suppress(Unavailable):
            for key in rooms:
                await self._run("forget", [self.keys.room(key).members], [token])

    async def _run(
        self, script: str, keys: list[str], args: list[Any], id: str | None = None
    ) -> Any:
        code = self._scripts[script]

        def add(pipe: Pipeline) -> None:
            pipe.evalsha(code.sha, len(keys), *keys, *args)

        try:
            try:
                result = await self._pipeline.call(add)
            except NoScriptError:
                # Redis restarted and lost its script cache: load them again.
                await self._load_scripts()
                result = await self._pipeline.call(add)
        except UNREACHABLE as exc:
            self._unreachable(exc)
            raise Unavailable(id) from exc
        self._reached()
        return result

    @property
    def _floor(self) -> str:
        """Where `seq` starts if Redis has no counter (see `Hub.seq_floor`)."""
        return str(self.hub.seq_floor())

    # -- reading the logs --------------------------------------------------------

    async def _follow(self) -> None:
        cfg = self.config
        global_log = self.keys.log
        while not self._stopping:
            try:
                reply = await self._redis.xread(
                    dict(self._positions),
                    count=cfg.cluster_read_batch,
                    block=int(cfg.cluster_read_block * 1000),
                )
            except UNREACHABLE as exc:
                if self._stopping:
                    return
                self._unreachable(exc)
                await asyncio.sleep(cfg.presence_refresh / 2)
                continue
            self._reached()
            streams = _streams(reply)
            # The global log first: who came, and which rooms exist, before
            # anything said in them.
            self._read(global_log, streams.pop(global_log, []), None)
            for stream, entries in streams.items():
                self._read(stream, entries, self._room_of_log.get(stream))
            await asyncio.sleep(0)  # let the deliveries flush between batches

    def _read(
        self, stream: str, entries: list[tuple[str, dict[str, str]]], room: str | None
    ) -> None:
        for entry_id, fields in entries:
            self._positions[stream] = entry_id
            try:
                if room is None:
                    entry = cluster_log.decode_global(entry_id, fields)
                else:
                    entry = cluster_log.decode_room(room, entry_id, fields)
                self._apply(entry)
            except Exception:  # one bad entry must not stop the chat
                log.exception("cannot apply log entry %s of %s: %r", entry_id, stream, fields)

    def _apply(self, entry: cluster_log.Entry) -> None:
        applied = self.replica.apply(entry)
        if applied.created is not None:
            self._follow_room(applied.created, "0-0")  # new: all of its log is news
        if applied.orphan is not None:
            key, token = applied.orphan
            self._spawn(self._leave(key, token, LeftReason.LOST.value))
            self._spawn(self._forget([self.hub.general.key], token))
        for token, pending in ((applied.joined, self._joined), (applied.renamed, self._renamed)):
            done = pending.pop(token, None) if token is not None else None
            if done is not None and not done.done():
                done.set_result(None)
        if applied.settled is not None:
            settled = self._settling.pop(applied.settled, None)
            if settled is not None and not settled.done():
                settled.set_result(applied.info)

    async def _scan(
        self,
        stream: str,
        room: str | None,
        end: str,
        limit: int,
        *,
        current: bool = True,
        chunk: int = 0,
    ) -> list[Stored]:
        """Up to `limit` messages at or before the log position `end` (an
        XREVRANGE bound: `+`, an entry id, or `(id` for "before id"), oldest
        first, walking back over a room's joins, parts and topics. `room` is
        the room's key, or None for a DM conversation."""
        found: list[Stored] = []
        if limit <= 0 or end == _NOTHING:
            return found
        chunk = chunk or self.config.cluster_history_chunk
        while True:
            try:
                entries = await self._pipeline.call(
                    lambda pipe, end=end: pipe.xrevrange(stream, end, "-", count=chunk)
                )
            except UNREACHABLE as exc:
                self._unreachable(exc)
                raise Unavailable() from exc
            if room is None:
                frames: list[Stored] = [cluster_log.decode_dm(i, f) for i, f in entries]
            else:
                decoded = (cluster_log.decode_room(room, i, f) for i, f in entries)
                frames = [e.frame for e in decoded if isinstance(e, cluster_log.Sent)]
            if take_before(found, frames, None, limit) or len(entries) < chunk:
                break
            end = f"({entries[-1][0]}"
        found.reverse()
        return found if room is None or not current else await self._current(room, found)

    # -- presence ---------------------------------------------------------------

    async def _maintain(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        while not self._stopping:
            await asyncio.sleep(cfg.presence_refresh)
            try:
                await self._refresh()
                await self._resend_leaves()
                # After an outage every instance needs a moment to refresh
                # its own deadline; until then nobody can be judged dead.
                if loop.time() - self._reachable_since >= cfg.presence_ttl:
                    await self._reap()
                self.replica.forget_stale(older_than=cfg.presence_ttl * 2)
            except Unavailable:
                pass  # already logged; the next round tries again
            except (RedisError, OSError):
                log.exception("cluster presence round failed")

    async def _refresh(self) -> None:
        ttl_ms = int(self.config.presence_ttl * 1000)
        added = await self._run("alive", [self.keys.alive], [self.instance, ttl_ms])
        if added and self.registered:
            log.warning(
                "the cluster had given instance %s up for dead; its users were announced "
                "as lost and their connections are closed",
                self.instance,
            )
        self.registered = True

    async def _reap(self) -> None:
        keys = self.keys
        gone = await self._run(
            "reap",
            [keys.alive, keys.names, keys.owners, keys.log],
            [self._max_log, keys.inst_prefix],
        )
        if gone:
            log.info("announced %d users of dead instances as lost", gone)

    async def _resend_leaves(self) -> None:
        pending, self._unsent_leaves = self._unsent_leaves, []
        for key, token, reason in pending:
            await self._leave(key, token, reason)

    # -- helpers -------------------------------------------------------------------

    def _token(self) -> str:
        return f"{self.instance}/{next(self._counter)}"

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unreachable(self, exc: BaseException) -> None:
        if self.reachable and self._loops:  # at start, `start` says it in one line
            self.reachable = False
            log.error(
                "redis at %s is unreachable (%s); refusing new messages until it is back",
                redacted(self.url),
                exc or type(exc).__name__,
            )

    def _reached(self) -> None:
        if not self.reachable:
            self.reachable = True
            self._reachable_since = asyncio.get_running_loop().time()
            log.warning("redis at %s is reachable again", redacted(self.url))


_NOTHING = "(0-0"  # an XREVRANGE end before every entry
_REPEATABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.NOT_IN_ROOM, ErrorCode.NO_SUCH_ROOM})


class _Repeat:
    """A send Redis already holds: its original ack."""

    __slots__ = ("ack",)

    def __init__(self, ack: Ack) -> None:
        self.ack = ack


def _bound(before: int | None) -> str:
    """The XREVRANGE end for "messages before seq `before`". A message's entry
    id is `<seq>-0`; stream ids are 64-bit, so any larger `before` is after
    every message, and none is at or below 0."""
    if before is None or before > MAX_STREAM_ID:
        return "+"
    if before <= 0:
        return _NOTHING
    return f"({before}-0"


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait for them to end. Cancel again while one runs
    on: on Python 3.11, `asyncio.wait_for` (inside redis-py's writes) can
    swallow a cancel that lands just as the write completes, and the task
    would then block in its next read."""
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.05)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("cluster task %s failed", task.get_name(), exc_info=task.exception())


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _edited(message: Stored, edits: dict[str, str]) -> Stored:
    return with_text(message, edits[str(message.seq)]) if isinstance(message, Message) else message


def _pairs(flat: list[str]) -> dict[str, str]:
    """A Redis HGETALL reply (key, value, key, value ...) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _streams(reply: Any) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """The entries of each stream in an XREAD reply (RESP2 list or RESP3 map)."""
    if not reply:
        return {}
    if isinstance(reply, dict):
        return {name: list(value[0]) for name, value in reply.items()}
    return {name: list(entries) for name, entries in reply}
