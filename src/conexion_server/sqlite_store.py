"""The durable store: every room message, DM and send id in one SQLite file.

It only buffers on `append`; the I/O layer moves the buffer to disk with
`take_batch` (event loop) -> `write` (writer thread) -> `done` (event loop),
one transaction per batch. No asyncio here, so the hub's tests can drive it
synchronously with `flush`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conexion_protocol import DirectMessage, Message, name_key

from .store import IdCache, Receipt, Stored, StoreError, seq_floor, visible

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    wall REAL NOT NULL,          -- when it was stored, for --keep-days
    room TEXT,                   -- NULL for a DM
    sender TEXT NOT NULL,
    recipient TEXT,              -- a DM's addressee
    sender_key TEXT NOT NULL,
    recipient_key TEXT,
    text TEXT NOT NULL,
    action INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room, seq);
CREATE INDEX IF NOT EXISTS dms_by_sender ON messages (sender_key, seq) WHERE room IS NULL;
CREATE INDEX IF NOT EXISTS dms_by_recipient ON messages (recipient_key, seq) WHERE room IS NULL;
CREATE TABLE IF NOT EXISTS sent_ids (
    sender_key TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    expires REAL NOT NULL,       -- wall clock, so the window survives a restart
    PRIMARY KEY (sender_key, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(slots=True, frozen=True)
class Retention:
    keep_days: float | None = None  # delete messages older than this
    keep_messages: int | None = None  # keep at most this many messages
    every: float = 60.0  # seconds between pruning passes


@dataclass(slots=True)
class Batch:
    """What one transaction writes."""

    messages: list[Stored] = field(default_factory=list)
    ids: list[tuple[str, str, Receipt, float]] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return self.messages[-1].seq if self.messages else 0


def _row(message: Stored, wall: float) -> tuple[object, ...]:
    if isinstance(message, Message):
        return (
            message.seq,
            message.ts,
            wall,
            message.room,
            message.from_,
            None,
            name_key(message.from_),
            None,
            message.text,
            int(message.action),
        )
    return (
        message.seq,
        message.ts,
        wall,
        None,
        message.from_,
        message.to,
        name_key(message.from_),
        name_key(message.to),
        message.text,
        0,
    )


def _message(row: tuple) -> Stored:
    seq, ts, room, sender, recipient, text, action = row
    if room is None:
        return DirectMessage(seq=seq, ts=ts, from_=sender, to=recipient, text=text)
    return Message(seq=seq, ts=ts, room=room, from_=sender, text=text, action=bool(action))


_COLUMNS = "seq, ts, room, sender, recipient, text, action"


class SqliteStore:
    durable = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        id_ttl: float,
        max_ids: int,
        *,
        retention: Retention | None = None,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._id_ttl = id_ttl
        self._max_ids = max_ids
        self._retention = retention or Retention()
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._clock = clock
        self._wallclock = wallclock
        self._ids = IdCache(id_ttl, max_ids)
        self._pending = Batch()
        self._in_flight: list[Batch] = []
        self._last_prune = float("-inf")
        self._lock_fd = self._lock()
        try:
            self._writer = self._connect()
            self._reader = self._connect()
            self._open()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(self._explain(exc)) from exc
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------

    def _lock(self) -> int:
        # SQLite's own locks let two servers share a file, each numbering
        # messages on its own; a sidecar flock makes the second one refuse.
        lock_path = f"{self.path}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open {lock_path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StoreError(
                f"{self.path} is in use by another conexion-server (lock on {lock_path})"
            ) from exc
        return fd

    def _connect(self) -> sqlite3.Connection:
        # Used from the writer thread and, for `flush`, from the caller's; never
        # from two threads at once.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        return db

    def _open(self) -> None:
        w = self._writer
        if w.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise StoreError(f"{self.path}: cannot switch the database to WAL mode")
        # FULL: a commit is on disk (WAL fsync) before an ack goes out. Group
        # commit makes that one fsync per batch, not per message.
        w.execute("PRAGMA synchronous = FULL")
        check = w.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"{self.path} is corrupt ({check})")
        w.executescript(SCHEMA)
        # A write on every open, so that a read-only file fails here, now.
        w.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        row = w.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        top = w.execute("SELECT max(seq) FROM messages").fetchone()[0]
        known = max(row[0] if row else 0, top or 0)
        # An empty database starts where an in-memory server would, so a switch
        # from one to the other never makes seq go backwards.
        self._seq = known or seq_floor(self._wallclock())
        self._load_ids()
        self._prune_now()

    def _load_ids(self) -> None:
        wall, mono = self._wallclock(), self._clock()
        # The newest `max_ids`, inserted oldest first: the order `remember`
        # keeps, so the purge there finds expired ids at the front.
        rows = self._writer.execute(
            "SELECT sender_key, id, seq, ts, expires FROM sent_ids"
            " WHERE expires > ? ORDER BY expires DESC LIMIT ?",
            (wall, self._max_ids),
        ).fetchall()
        for sender_key, id, seq, ts, expires in reversed(rows):
            self._ids.load((sender_key, id), Receipt(seq, ts), mono + (expires - wall))

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return f"{self.path} is not a usable conexion database (corrupt?): {text}"
        if "readonly" in text or "unable to open" in text:
            return f"cannot write to {self.path}: {text}"
        return f"{self.path}: {text}"

    def close(self) -> None:
        for name in ("_writer", "_reader"):
            db = getattr(self, name, None)
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
                setattr(self, name, None)
        fd, self._lock_fd = getattr(self, "_lock_fd", -1), -1
        if fd >= 0:
            os.close(fd)  # releases the flock

    # -- the Store protocol ---------------------------------------------------

    def last_seq(self) -> int:
        return self._seq

    def append(self, message: Stored) -> None:
        self._seq = max(self._seq, message.seq)
        self._pending.messages.append(message)
        self._pending.walls.append(self._wallclock())

    def recent(self, room: str, limit: int, viewer: str | None = None) -> list[Stored]:
        return self.before(room, None, limit, viewer)

    def before(
        self, room: str, seq: int | None, limit: int, viewer: str | None = None
    ) -> list[Stored]:
        if limit <= 0:
            return []
        top = seq if seq is not None else self._seq + 1
        unsaved = [
            m
            for batch in (*self._in_flight, self._pending)
            for m in batch.messages
            if m.seq < top and visible(m, room, viewer)
        ][-limit:]
        if viewer is None:
            sql = f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND seq < ?"
            args: tuple[object, ...] = (room, top)
        else:
            sql = (
                f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND seq < ?"
                f" UNION ALL SELECT {_COLUMNS} FROM messages"
                " WHERE room IS NULL AND sender_key = ? AND seq < ?"
                f" UNION ALL SELECT {_COLUMNS} FROM messages"
                " WHERE room IS NULL AND recipient_key = ? AND sender_key != ? AND seq < ?"
            )
            args = (room, top, viewer, top, viewer, viewer, top)
        rows = self._reader.execute(f"{sql} ORDER BY seq DESC LIMIT ?", (*args, limit))
        # A batch that has just committed can be both on disk and in flight.
        saved = [_message(r) for r in rows]
        seen = {m.seq for m in unsaved}
        merged = sorted([m for m in saved if m.seq not in seen] + unsaved, key=_seq)
        return merged[-limit:]

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        self._ids.remember(key, receipt, now)
        expires_wall = self._wallclock() + self._id_ttl
        self._pending.ids.append((key[0], key[1], receipt, expires_wall))

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        return self._ids.recall(key, now)

    # -- group commit ---------------------------------------------------------

    def has_pending(self) -> bool:
        return bool(self._pending.messages or self._pending.ids)

    def take_batch(self) -> Batch:
        """Start a commit of everything appended so far (event loop side)."""
        batch, self._pending = self._pending, Batch()
        self._in_flight.append(batch)
        return batch

    def write(self, batch: Batch) -> None:
        """Write one batch in one transaction (writer thread)."""
        w = self._writer
        assert w is not None
        w.execute("BEGIN IMMEDIATE")
        try:
            w.executemany(
                "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_row(m, wall) for m, wall in zip(batch.messages, batch.walls, strict=True)],
            )
            w.executemany(
                "INSERT OR REPLACE INTO sent_ids VALUES (?, ?, ?, ?, ?)",
                [(k, i, r.seq, r.ts, exp) for k, i, r, exp in batch.ids],
            )
            if batch.messages:
                w.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('last_seq',"
                    " max(?, coalesce((SELECT value FROM meta WHERE key = 'last_seq'), 0)))",
                    (batch.last_seq,),
                )
            self._maybe_prune()
            w.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                w.execute("ROLLBACK")
            raise

    def done(self, batch: Batch) -> None:
        """The batch is committed (event loop side)."""
        self._in_flight.remove(batch)

    def flush(self) -> None:
        """Commit everything now, in this thread (tests and shutdown)."""
        if self.has_pending():
            batch = self.take_batch()
            try:
                self.write(batch)
            finally:
                self.done(batch)

    # -- retention ------------------------------------------------------------

    def _maybe_prune(self) -> None:
        if self._clock() - self._last_prune >= self._retention.every:
            self._prune()

    def _prune_now(self) -> None:
        w = self._writer
        w.execute("BEGIN IMMEDIATE")
        self._prune()
        w.execute("COMMIT")

    def _prune(self) -> None:
        self._last_prune = self._clock()
        w, keep = self._writer, self._retention
        # meta.last_seq (written with every batch) keeps the numbering going
        # even when every message is pruned.
        w.execute("DELETE FROM sent_ids WHERE expires <= ?", (self._wallclock(),))
        if keep.keep_days is not None:
            w.execute(
                "DELETE FROM messages WHERE wall < ?",
                (self._wallclock() - keep.keep_days * 86_400,),
            )
        if keep.keep_messages is not None:
            w.execute(
                "DELETE FROM messages WHERE seq <= "
                "(SELECT seq FROM messages ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (keep.keep_messages,),
            )

    def count(self) -> int:
        """Messages on disk (for tests and operators)."""
        return self._reader.execute("SELECT count(*) FROM messages").fetchone()[0]


def _seq(message: Stored) -> int:
    return message.seq
