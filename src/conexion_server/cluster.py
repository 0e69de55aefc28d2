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

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from conexion_protocol import (
    DEFAULT_ROOM,
    Ack,
    ErrorCode,
    HistoryReply,
    LeftReason,
    ProtocolError,
    Users,
    name_key,
)

from . import cluster_log, refusals
from . import cluster_scripts as lua
from .backplane import Dispatch, Peer
from .cluster_log import LogError, Replica
from .config import ServerConfig
from .hub import Hub, Member
from .refusals import Unavailable
from .store import Stored, StoreError, take_visible

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
MAX_STREAM_ID = 2**64 - 1  # the largest first part of a Redis stream entry id


def redacted(url: str) -> str:
    """The URL without a password, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seq = prefix + "seq"
        self.log = prefix + "log"
        self.names = prefix + "names"
        self.owners = prefix + "owners"
        self.alive = prefix + "alive"

    def instance(self, instance: str) -> str:
        return f"{self.prefix}inst:{instance}"

    def send_id(self, key: str, id: str) -> str:
        # The key's length first, so that no (key, id) pair can spell another.
        return f"{self.prefix}id:{len(key)}:{key}:{id}"


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


class RedisBackplane:
    def __init__(self, hub: Hub, dispatch: Dispatch, config: ServerConfig) -> None:
        assert config.cluster is not None
        self.hub = hub
        self.dispatch = dispatch
        self.config = config
        self.url = config.cluster
        self.keys = Keys(config.cluster_prefix)
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
                ("join", lua.JOIN),
                ("leave", lua.LEAVE),
                ("rename", lua.RENAME),
                ("send", lua.SEND),
                ("alive", lua.ALIVE),
                ("reap", lua.REAP),
                ("snapshot", lua.SNAPSHOT),
            )
        }
        self._last_id = "0-0"
        # Requests whose outcome the log will show: a join's welcome, a
        # rename's confirmation, by the connection's token.
        self._joined: dict[str, asyncio.Future[None]] = {}
        self._renamed: dict[str, asyncio.Future[None]] = {}
        self._unsent_leaves: list[tuple[str, str, str]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.reachable = True
        self._reachable_since = 0.0
        self.registered = False
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Load who is online and the recent history, then follow the log."""
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
        keys = self.keys
        last_id, names, owners = await self._run(
            "snapshot", [keys.log, keys.names, keys.owners], []
        )
        # Up to and including `last_id`: the follower reads what comes after.
        recent = await self._scan(last_id, self.hub.config.history_size, DEFAULT_ROOM, None)
        self.replica.load(_pairs(names), _pairs(owners), recent)
        self._last_id = last_id

    # -- the Backplane interface -----------------------------------------------

    async def join(self, peer: Peer, raw_name: str) -> None:
        hub = self.hub
        # Only Redis knows whether the name is free: the replica here may not
        # have read yet that its last holder left.
        name, key = hub.parse_name(raw_name)
        hub.check_capacity(joining=len(self.replica.joining))
        token = self._token()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replica.joining[token] = peer
        self._joined[token] = done
        keys = self.keys
        try:
            entry = await self._run(
                "join",
                [keys.names, keys.owners, keys.instance(self.instance), keys.log, keys.seq],
                [key, name, token, self._floor, self._max_log],
            )
            if entry is None:
                raise refusals.name_taken(name)
        except BaseException:
            self.replica.joining.pop(token, None)
            self._joined.pop(token, None)
            raise
        await done  # the welcome goes out when this instance reads the join

    async def say(
        self, member: Member, text: str, *, id: str | None, room: str, action: bool
    ) -> Ack:
        room = self.hub.check_room(room)
        checked = await self._check_text(member, text, id)
        if isinstance(checked, Ack):
            return checked
        reply = await self._send(member, id, cluster_log.MESSAGE, checked, room=room, action=action)
        return reply[0]

    async def dm(self, member: Member, to: str, text: str, *, id: str | None) -> tuple[Ack, str]:
        # Whether `to` is online is checked in Redis when the DM is stored:
        # the replica here may lag behind a join elsewhere.
        checked = await self._check_text(member, text, id)
        if isinstance(checked, Ack):
            return checked, to
        return await self._send(member, id, cluster_log.DM, checked, to=to)

    async def rename(self, member: Member, raw_name: str) -> None:
        hub = self.hub
        name, key = hub.parse_name(raw_name)  # free or not: Redis decides, as for a join
        if name == member.name:
            self.dispatch(hub.apply_rename(member, name, key))  # a confirmation
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._renamed[member.token] = done
        keys = self.keys
        try:
            result = await self._run(
                "rename",
                [keys.names, keys.owners, keys.instance(self.instance), keys.log, keys.seq],
                [member.key, key, name, member.token, self._floor, self._max_log],
            )
            if result == "taken":
                raise refusals.name_taken(name)
            if result != "ok":
                raise self._lost_claim(member)
        except BaseException:
            self._renamed.pop(member.token, None)
            raise
        await done  # applied here, so the next message carries the new name

    async def history(
        self, room: str, before: int | None, limit: int, member: Member
    ) -> HistoryReply:
        room = self.hub.check_room(room)
        if before is not None and before <= 0:
            return HistoryReply(room=room, messages=[])  # no seq is that small
        # A message's entry id is `<seq>-0`: everything before it is older.
        # Stream ids are 64-bit; any larger `before` is after every message.
        end = "+" if before is None or before > MAX_STREAM_ID else f"({before}-0"
        messages = await self._scan(end, limit, room, member.key)
        return HistoryReply(room=room, messages=messages)

    def who(self, room: str) -> Users:
        return self.hub.who(room)

    def enter(self, member: Member, room: str) -> Users:
        return self.hub.who(room)  # only `general` exists, and everyone is in it

    def part(self, member: Member, room: str) -> None:
        self.hub.check_room(room)  # leaving general changes nothing

    def leave(self, member: Member, reason: LeftReason) -> None:
        # Nothing more is delivered to it; the log's `left` removes it from
        # the user list here and everywhere else.
        self.hub.local.pop(member.key, None)
        self._spawn(self._leave(member.key, member.token, reason.value))

    # -- writing ------------------------------------------------------------------

    async def _check_text(self, member: Member, text: str, id: str | None) -> str | Ack:
        """The cleaned text, or the original ack of a repeated id that the
        rate limit would refuse: repeats are free, and only Redis knows them."""
        try:
            return self.hub.check_text(member, text, id)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.RATE_LIMITED or id is None:
                raise
            try:
                key = self.keys.send_id(member.key, id)
                seen = await self._pipeline.call(lambda pipe: pipe.get(key))
            except UNREACHABLE as unreachable:
                self._unreachable(unreachable)
                raise Unavailable(id) from unreachable
            if seen is None:
                raise
            return cluster_log.receipt(id, seen)

    async def _send(
        self,
        member: Member,
        id: str | None,
        kind: str,
        text: str,
        *,
        room: str = "",
        action: bool = False,
        to: str = "",
    ) -> tuple[Ack, str]:
        keys = self.keys
        hub = self.hub
        # A send without an id gets one here, so that the one retry on a
        # broken connection can never store it twice.
        send_id = id if id is not None else f"~{self._token()}"
        to_key = name_key(to) if to else ""
        try:
            reply = await self._run(
                "send",
                [keys.seq, keys.log, keys.send_id(member.key, send_id), keys.names, keys.owners],
                [
                    self._floor,
                    self._max_log,
                    int(hub.config.id_ttl * 1000),
                    kind,
                    member.name,
                    member.key,
                    member.token,
                    room,
                    text,
                    "1" if action else "0",
                    to_key,
                ],
                id=id,
            )
        except ProtocolError:
            member.bucket.refund()
            raise
        status = reply[0]
        if status == "ok":
            _, seq, millis, target = reply
            return Ack(id=id or "", seq=int(seq), ts=cluster_log.ts_of(millis)), target
        member.bucket.refund()  # nothing new was stored: repeats are free
        if status == "again":
            return cluster_log.receipt(id or "", reply[1]), to
        if status == "gone":
            raise self._lost_claim(member, id)
        raise refusals.no_such_user(to, id)

    def _lost_claim(self, member: Member, id: str | None = None) -> ProtocolError:
        """Redis no longer holds `member`'s name (it lost its data, or gave
        this instance up for dead): refuse, then close the connection, so
        the client comes back and joins again."""
        log.warning("%s is no longer known to the cluster; closing its connection", member.name)
        peer = member.peer
        if peer is not None:
            peer.after_answer(lambda: peer.close(LeftReason.LOST))
        return refusals.lost_claim(id)

    async def _leave(self, key: str, token: str, reason: str) -> None:
        keys = self.keys
        try:
            await self._run(
                "leave",
                [keys.names, keys.owners, keys.instance(self.instance), keys.log, keys.seq],
                [key, token, reason, self._floor, self._max_log],
            )
        except Unavailable:
            self._unsent_leaves.append((key, token, reason))

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

    # -- reading the log -------------------------------------------------------

    async def _follow(self) -> None:
        log_key = self.keys.log
        cfg = self.config
        while not self._stopping:
            try:
                reply = await self._redis.xread(
                    {log_key: self._last_id},
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
            for entry_id, fields in _entries(reply, log_key):
                self._last_id = entry_id
                try:
                    self._apply(cluster_log.decode(entry_id, fields))
                except Exception:  # one bad entry must not stop the chat
                    log.exception("cannot apply log entry %s: %r", entry_id, fields)
            await asyncio.sleep(0)  # let the deliveries flush between batches

    def _apply(self, entry: cluster_log.Entry) -> None:
        applied = self.replica.apply(entry)
        if applied.orphan is not None:
            self._spawn(self._leave(*applied.orphan, LeftReason.LOST.value))
        for token, pending in ((applied.joined, self._joined), (applied.renamed, self._renamed)):
            done = pending.pop(token, None) if token is not None else None
            if done is not None and not done.done():
                done.set_result(None)

    async def _scan(self, end: str, limit: int, room: str, viewer: str | None) -> list[Stored]:
        """Up to `limit` messages at or before the log position `end` (an
        XREVRANGE bound: `+`, an entry id, or `(id` for "before id"), oldest
        first, as `viewer` may see them (walking back over presence events)."""
        found: list[Stored] = []
        log_key = self.keys.log
        chunk = self.config.cluster_history_chunk
        while True:
            try:
                entries = await self._pipeline.call(
                    lambda pipe, end=end: pipe.xrevrange(log_key, end, "-", count=chunk)
                )
            except UNREACHABLE as exc:
                self._unreachable(exc)
                raise Unavailable() from exc
            sent = (cluster_log.decode(entry_id, fields) for entry_id, fields in entries)
            frames = (entry.frame for entry in sent if isinstance(entry, cluster_log.Sent))
            if take_visible(found, frames, room, None, limit, viewer) or len(entries) < chunk:
                break
            end = f"({entries[-1][0]}"
        found.reverse()
        return found

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
            [keys.alive, keys.names, keys.owners, keys.log, keys.seq],
            [self._floor, self._max_log, keys.prefix],
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


def _pairs(flat: list[str]) -> dict[str, str]:
    """A Redis HGETALL reply (key, value, key, value ...) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _entries(reply: Any, stream: str) -> list[tuple[str, dict[str, str]]]:
    """The entries of one stream in an XREAD reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(reply.get(stream, [[]])[0])
    for name, entries in reply:
        if name == stream:
            return list(entries)
    return []
