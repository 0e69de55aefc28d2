"""The durable store: rooms, every conversation's messages and `seq`, and
send ids, in one SQLite file.

It only buffers on `append` and `save_room`; the I/O layer moves the buffer
to disk with `take_batch` (event loop) -> `write` (writer thread) -> `done`
(event loop), one transaction per batch. No asyncio here, so the hub's tests
can drive it synchronously with `flush`.

Opening checks the file and every stored value it reads against what this
server writes; anything else is a `StoreError` of one line (the CLI's exit
status 3). Keys made by other look-alike rules are rebuilt then.
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

import msgspec

from conexion_protocol import (
    DirectMessage,
    ErrorCode,
    Message,
    ProtocolError,
    Reaction,
    name_key,
)
from conexion_protocol.frames import UNSET, UnsetType
from conexion_protocol.names import NAME_KEY_VERSION

from .accounts import Account
from .search import Query
from .store import (
    ACTION_FLAG,
    ANNOUNCEMENT_FLAG,
    DELETED_FLAG,
    DM_PREFIX,
    EDITED_FLAG,
    IdCache,
    Receipt,
    RoomRecord,
    Stored,
    StoreError,
    dm_conversation,
    message_flags,
    seq_floor,
    tombstone,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
MESSAGES_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    conv TEXT NOT NULL,          -- a room's key, or dm:<key>:<key>
    seq INTEGER NOT NULL,        -- counted per conversation
    ts TEXT NOT NULL,
    wall REAL NOT NULL,          -- when it was stored, for --keep-days
    room TEXT,                   -- the room's name; NULL for a DM
    sender TEXT NOT NULL,
    recipient TEXT,              -- a DM's addressee
    sender_key TEXT NOT NULL,
    recipient_key TEXT,
    text TEXT NOT NULL,
    action INTEGER NOT NULL DEFAULT 0,  -- flags: store.ACTION_FLAG, ...
    reply_to INTEGER,            -- the seq a reply answers, and its author
    reply_from TEXT,
    reactions TEXT,              -- JSON [[emoji, [name, ...]], ...]; NULL: none
    doc INTEGER,                 -- its number in the search index (message_words)
    sent_id TEXT,                -- the id its sender gave it, so a resend is answered
    PRIMARY KEY (conv, seq)
) WITHOUT ROWID;
"""
# Columns that schemas 2 and 3 did not have, added in place by the upgrade.
V3_COLUMNS = ("reply_to INTEGER", "reply_from TEXT", "reactions TEXT", "doc INTEGER")
V4_COLUMNS = ("sent_id TEXT",)
MESSAGE_INDEXES = """
CREATE INDEX IF NOT EXISTS dms_by_sender ON messages (sender_key, ts) WHERE room IS NULL;
CREATE INDEX IF NOT EXISTS dms_by_recipient ON messages (recipient_key, ts) WHERE room IS NULL;
CREATE INDEX IF NOT EXISTS messages_by_doc ON messages (doc);
"""
# The search index: a contentless FTS5 table (the text is in `messages`),
# kept in step by triggers, so every write path (a batch, an edit, a
# tombstone, pruning) updates it inside SQLite. A contentless row is taken
# out with the 'delete' command and its old values.
#
# `scope` says who may find the row, as words: `c<hex of its conversation>`,
# and for a DM `d<hex of each person's name key>`. A search matches its
# words AND the scopes of the asker, so the index skips other rooms'
# matches itself (filtering them after the match cost ~100 ms for a word
# frequent only in rooms the asker is not in, over a million messages).
# Prefix indexes for 2 and 3 letters: a short prefix merges thousands of words.
SCOPE = (
    "CASE WHEN {m}.room IS NULL"
    " THEN 'c' || hex({m}.conv) || ' d' || hex({m}.sender_key) || ' d' || hex({m}.recipient_key)"
    " ELSE 'c' || hex({m}.conv) END"
)
SEARCH_INDEX = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS message_words USING fts5(
    text, scope, content = '', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE TRIGGER IF NOT EXISTS message_words_add AFTER INSERT ON messages
    WHEN new.doc IS NOT NULL AND new.text != '' BEGIN
    INSERT INTO message_words (rowid, text, scope)
        VALUES (new.doc, new.text, {SCOPE.format(m="new")});
END;
CREATE TRIGGER IF NOT EXISTS message_words_change AFTER UPDATE OF text ON messages
    WHEN new.doc IS NOT NULL AND old.text IS NOT new.text BEGIN
    INSERT INTO message_words (message_words, rowid, text, scope)
        SELECT 'delete', old.doc, old.text, {SCOPE.format(m="old")} WHERE old.text != '';
    INSERT INTO message_words (rowid, text, scope)
        SELECT new.doc, new.text, {SCOPE.format(m="new")} WHERE new.text != '';
END;
CREATE TRIGGER IF NOT EXISTS message_words_drop AFTER DELETE ON messages
    WHEN old.doc IS NOT NULL AND old.text != '' BEGIN
    INSERT INTO message_words (message_words, rowid, text, scope)
        VALUES ('delete', old.doc, old.text, {SCOPE.format(m="old")});
END;
"""
_REINDEX = (
    "INSERT INTO message_words (rowid, text, scope)"
    f" SELECT doc, text, {SCOPE.format(m='messages')} FROM messages"
    " WHERE doc > ? AND text != ''"
)


def _scope_word(kind: str, key: str) -> str:
    """A scope word as SCOPE spells it (SQLite's hex(): upper-case UTF-8)."""
    return f'"{kind}{key.encode().hex().upper()}"'


def _scopes(query: Query) -> str:
    """The FTS5 condition on `scope` for where `query`'s asker may look."""
    words = [_scope_word("c", conv) for conv in query.conversations]
    if query.dm_with is not None:
        words.append(_scope_word("c", query.dm_with))
    elif query.dms:
        words.append(_scope_word("d", query.viewer))
    return "scope : (" + " OR ".join(words) + ")"


SCHEMA = (
    MESSAGES_TABLE.format(table="messages")
    + MESSAGE_INDEXES
    + SEARCH_INDEX
    + """
CREATE TABLE IF NOT EXISTS conversations (
    conv TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL    -- never lowered, so pruning cannot make a seq come back
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    topic_by TEXT,
    topic_ts TEXT
) WITHOUT ROWID;
-- Send ids not kept in their message's row: those of schema 3 and before,
-- and those of messages pruned while their ids still answer resends.
CREATE TABLE IF NOT EXISTS sent_ids (
    sender_key TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    expires REAL NOT NULL,       -- wall clock, so the window survives a restart
    PRIMARY KEY (sender_key, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts (
    key TEXT PRIMARY KEY,        -- the name's look-alike key
    name TEXT NOT NULL,
    hash TEXT NOT NULL,          -- scrypt$N$r$p$salt$hash, never the password
    admin INTEGER NOT NULL DEFAULT 0,
    temporary INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS moderation (
    scope TEXT NOT NULL,         -- a room's key, or '' for the whole server
    field TEXT NOT NULL,         -- see moderation.py: role:KEY, mute:KEY, ban@ADDR, mode, ...
    value TEXT NOT NULL,
    PRIMARY KEY (scope, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    n INTEGER PRIMARY KEY,       -- the order entries were made in
    scope TEXT NOT NULL,
    entry BLOB NOT NULL          -- a `moderation` frame, as sent
);
CREATE INDEX IF NOT EXISTS audit_by_scope ON audit (scope, n);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
)
# meta rows: 'name_keys', the NAME_KEY_VERSION the stored keys were made with
# (none: by the rules before it was recorded).

# Version 1 (one `seq` for the whole server, one room) becomes version 2 in
# one transaction: every message keeps its `seq`, which still increases
# within each conversation.
MIGRATE_FROM_1 = """
ALTER TABLE messages RENAME TO messages_v1;
{schema}
INSERT INTO messages (conv, seq, ts, wall, room, sender, recipient, sender_key,
                      recipient_key, text, action)
    SELECT CASE WHEN room IS NULL
                THEN 'dm:' || min(sender_key, recipient_key)
                     || ':' || max(sender_key, recipient_key)
                ELSE lower(room) END,
           seq, ts, wall, room, sender, recipient, sender_key, recipient_key, text, action
    FROM messages_v1;
DROP TABLE messages_v1;
DROP INDEX IF EXISTS messages_by_room;
INSERT INTO conversations SELECT conv, max(seq) FROM messages GROUP BY conv;
INSERT INTO conversations
    SELECT 'general', value FROM meta WHERE key = 'last_seq'
    ON CONFLICT (conv) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq);
DELETE FROM meta WHERE key = 'last_seq';
"""


@dataclass(slots=True, frozen=True)
class Retention:
    keep_days: float | None = None  # delete messages older than this
    keep_messages: int | None = None  # keep at most this many messages of each conversation
    every: float = 60.0  # seconds between pruning passes


@dataclass(slots=True)
class Batch:
    """What one transaction writes."""

    messages: list[tuple[str, Stored, float]] = field(default_factory=list)  # conv, frame, wall
    # The same messages as rows, and each conversation's highest seq, made
    # on the event loop as they come; `take_batch` encodes the rows as one
    # JSON array, which the writer hands to SQLite as one parameter, so that
    # the insert runs inside SQLite without the GIL (binding thousands of
    # parameters one by one would hold it, and stall the event loop).
    rows: list[tuple[object, ...]] = field(default_factory=list)
    tops: dict[str, int] = field(default_factory=dict)
    id_rows: list[tuple[object, ...]] = field(default_factory=list)
    rows_json: bytes = b"[]"
    ids_json: bytes = b"[]"
    rooms: list[RoomRecord] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    moderation: list[tuple[str, str, str | None]] = field(default_factory=list)  # scope, field
    # Messages changed in place (edited, reacted to, deleted): their new state.
    revisions: list[tuple[str, Message]] = field(default_factory=list)  # conv, message
    audit: list[tuple[str, bytes]] = field(default_factory=list)
    upto: int = 0  # the store's write count at the end of this batch


def _row(conv: str, message: Stored, wall: float, doc: int) -> tuple[object, ...]:
    if isinstance(message, Message):
        return (
            conv,
            message.seq,
            message.ts,
            wall,
            message.room,
            message.from_,
            None,
            name_key(message.from_),
            None,
            message.text,
            message_flags(message),
            message.reply_to if message.reply_to is not UNSET else None,
            message.reply_from if message.reply_from is not UNSET else None,
            _reactions_json(message),
            doc,
            None,
        )
    return (
        conv,
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
        None,
        None,
        None,
        doc,
        None,
    )


def _reactions_json(message: Message) -> str | None:
    if message.reactions is UNSET or not message.reactions:
        return None
    return _json_rows.encode([[r.emoji, r.names] for r in message.reactions]).decode()


_reactions_decoder = msgspec.json.Decoder(list[tuple[str, list[str]]])
_COLUMNS = "seq, ts, room, sender, recipient, text, action, reply_to, reply_from, reactions"


def _from_json(table: str, columns: int, verb: str) -> str:
    """An insert of the rows of one JSON array parameter (see Batch.rows)."""
    values = ", ".join(f"value ->> {i}" for i in range(columns))
    return f"{verb} INTO {table} SELECT {values} FROM json_each(?)"


_INSERT_MESSAGES = _from_json("messages", 16, "INSERT OR IGNORE")
_SENT_ID = 15  # the sent_id column in a message row (`_row`)
_INSERT_IDS = _from_json("sent_ids", 5, "INSERT OR REPLACE")
_json_rows = msgspec.json.Encoder()
_MAX_SEQ = 2**63 - 1  # SQLite integers are 64-bit
_SHOWN = 60  # characters of a bad stored value quoted in an error


def _shown(value: object) -> str:
    """A stored value as an error quotes it: on one line (repr) and short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def _is_seq(value: object) -> bool:
    return type(value) is int and 0 <= value < _MAX_SEQ


def _is_text(value: object, *, or_none: bool = False) -> bool:
    return isinstance(value, str) or (or_none and value is None)


def _message(row: tuple[object, ...]) -> Stored:
    """A stored message as a frame, or StoreError (one line) when the row is
    not what this server writes. Rows are read on demand, for history, so
    this reaches whoever asked for it, not the start-up."""
    seq, ts, room, sender, recipient, text, action, reply_to, reply_from, reactions = row
    if not (
        _is_seq(seq)
        and _is_text(ts)
        and _is_text(room, or_none=True)
        and _is_text(sender)
        and _is_text(text)
        and type(action) is int
        and 0 <= action < 16
        and (room is not None or _is_text(recipient))
        and (reply_to is None or (_is_seq(reply_to) and _is_text(reply_from)))
        and _is_text(reactions, or_none=True)
    ):
        raise StoreError(f"a stored message is not what this server writes: {_shown(row)}")
    if room is None:
        return DirectMessage(seq=seq, ts=ts, from_=sender, to=recipient, text=text)  # type: ignore[arg-type]
    flags = int(action)  # type: ignore[call-overload]
    given: list[Reaction] | UnsetType = UNSET
    if reactions is not None:
        try:
            given = [Reaction(e, n) for e, n in _reactions_decoder.decode(reactions)]  # type: ignore[arg-type]
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise StoreError(
                f"a stored message's reactions are not what this server writes: {_shown(row)}"
            ) from None
    return Message(
        seq=seq,  # type: ignore[arg-type]
        ts=ts,  # type: ignore[arg-type]
        room=room,  # type: ignore[arg-type]
        from_=sender,  # type: ignore[arg-type]
        text=text,  # type: ignore[arg-type]
        action=bool(flags & ACTION_FLAG),
        announcement=bool(flags & ANNOUNCEMENT_FLAG),
        deleted=bool(flags & DELETED_FLAG),
        reply_to=reply_to if reply_to is not None else UNSET,  # type: ignore[arg-type]
        reply_from=reply_from if reply_to is not None else UNSET,  # type: ignore[arg-type]
        edited=bool(flags & EDITED_FLAG),
        reactions=given or UNSET,
    )


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) if lines else text


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
        self._last: dict[str, int] = {}  # each conversation's highest seq
        self._rooms: dict[str, RoomRecord] = {}
        self._moderation: dict[str, dict[str, str]] = {}
        # Messages changed in place whose change is not committed yet
        # (conv, seq -> the new state, and how many pending writes hold it):
        # reads show the new state meanwhile.
        self._revised: dict[tuple[str, int], tuple[Message, int]] = {}
        self._next_doc = 1  # the search index number of the next message
        self._pending = Batch()
        self._in_flight: list[Batch] = []
        self._writes = 0
        self._last_prune = float("-inf")
        self._lock_fd = self._lock()
        try:
            self._writer = self._connect()
            self._reader = self._connect()
            self._open()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(self._explain(exc)) from exc
        except StoreError as exc:
            # The CLI prints it as the one line of a failed start.
            self.close()
            raise StoreError(_one_line(str(exc))) from exc.__cause__
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
        problems = [row[0] for row in w.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StoreError(self._corrupt(problems))
        version = w.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer conexion-server (schema {version}); "
                "upgrade this one"
            )
        if version < 0:
            raise StoreError(f"{self.path} has schema {version}, which no conexion-server writes")
        upgrade = version == 1 or (version == 0 and self._has_v1_messages())
        if upgrade:
            self._check_v1_counter()
            script = MIGRATE_FROM_1.format(schema=SCHEMA)
        elif version in (2, 3):
            columns = (V3_COLUMNS if version == 2 else ()) + V4_COLUMNS
            added = "".join(f"ALTER TABLE messages ADD COLUMN {c};\n" for c in columns)
            script = added + SCHEMA
        else:
            script = SCHEMA
        try:
            # One transaction (executescript would commit one opened outside
            # it). The version is written on every open, so that a read-only
            # file fails here, now.
            w.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {SCHEMA_VERSION};")
            self._check_counters()
            notes = self._rekey_if_needed()
            indexed = self._fill_search_index()
            w.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                w.execute("ROLLBACK")
            raise
        # Said once it is done: a start that fails says one line, the error.
        if upgrade:
            log.info("upgraded %s to schema %d (rooms)", self.path, SCHEMA_VERSION)
        elif version in (2, 3):
            log.info("upgraded %s from schema %d to %d", self.path, version, SCHEMA_VERSION)
        if indexed:
            log.info("%s: added %d stored messages to the search index", self.path, indexed)
        for note in notes:
            log.warning("%s: %s", self.path, note)
        self._load()
        self._prune_now()

    def _corrupt(self, problems: list[object]) -> str:
        """SQLite's check report (up to 100 lines) as one line: the first problem."""
        lines = [line.strip() for p in problems for line in str(p).splitlines()]
        lines = [line for line in lines if line and not line.startswith("*** in database")]
        first = lines[0] if lines else "no details"
        more = f" (and {len(lines) - 1} more reported)" if len(lines) > 1 else ""
        return f"{self.path} is corrupt: {first}{more}"

    def _fill_search_index(self) -> int:
        """Number the messages an older schema stored without a search
        number (oldest first) and index their words; how many there were."""
        w = self._writer
        if w.execute("SELECT 1 FROM messages WHERE doc IS NULL LIMIT 1").fetchone() is None:
            return 0
        top = w.execute("SELECT coalesce(max(doc), 0) FROM messages").fetchone()[0]
        if type(top) is not int:
            raise StoreError(f"{self.path}: a message's search number is {_shown(top)}")
        w.execute(
            "CREATE TEMP TABLE numbered AS SELECT conv, seq,"
            " row_number() OVER (ORDER BY ts, conv, seq) + ? AS n"
            " FROM messages WHERE doc IS NULL",
            (top,),
        )
        w.execute(
            "UPDATE messages SET doc = numbered.n FROM numbered"
            " WHERE numbered.conv = messages.conv AND numbered.seq = messages.seq"
        )
        count = w.execute("SELECT count(*) FROM numbered").fetchone()[0]
        w.execute("DROP TABLE numbered")
        w.execute(_REINDEX, (top,))
        return int(count)

    def _has_v1_messages(self) -> bool:
        columns = [row[1] for row in self._writer.execute("PRAGMA table_info(messages)")]
        return bool(columns) and "conv" not in columns

    def _check_v1_counter(self) -> None:
        for (value,) in self._writer.execute("SELECT value FROM meta WHERE key = 'last_seq'"):
            if not _is_seq(value):
                raise StoreError(
                    f"{self.path}: the stored message counter (meta.last_seq) is "
                    f"{_shown(value)}, not a number"
                )

    def _check_counters(self) -> None:
        """Every conversation's counter is a number, and no stored message is
        numbered above it: a message under a counter would take the seq of
        one already stored, and be dropped (INSERT OR IGNORE)."""
        w = self._writer
        for conv, last in w.execute("SELECT conv, last_seq FROM conversations"):
            if not _is_text(conv) or not _is_seq(last):
                raise StoreError(
                    f"{self.path}: a conversation's last seq is {_shown(last)}, not a number"
                )
        # One pass over the messages' primary key, as quick_check already made.
        row = w.execute(
            "SELECT m.conv, m.top, c.last_seq FROM"
            " (SELECT conv, max(seq) AS top FROM messages GROUP BY conv) AS m"
            " LEFT JOIN conversations AS c ON c.conv = m.conv"
            " WHERE c.last_seq IS NULL OR m.top > c.last_seq OR typeof(m.top) != 'integer'"
            " LIMIT 1"
        ).fetchone()
        if row is not None:
            conv, top, last = row
            raise StoreError(
                f"{self.path}: conversation {_shown(conv)} holds a message numbered "
                f"{_shown(top)} above its last seq ({_shown(last)})"
            )

    def _load(self) -> None:
        w = self._writer
        top = w.execute("SELECT max(doc) FROM messages").fetchone()[0]
        if top is not None and type(top) is not int:
            raise StoreError(f"{self.path}: a message's search number is {_shown(top)}")
        self._next_doc = (top or 0) + 1
        for conv, last in w.execute("SELECT conv, last_seq FROM conversations"):
            self._last[conv] = last  # checked by _check_counters
        for row in w.execute("SELECT key, name, topic, topic_by, topic_ts FROM rooms"):
            record = self._room(row)
            if record.key != name_key(record.name):
                raise StoreError(
                    f"{self.path}: the stored room {_shown(record.name)} has the key "
                    f"{_shown(record.key)}, not its name's"
                )
            self._rooms[record.key] = record
        for row in w.execute("SELECT scope, field, value FROM moderation"):
            scope, name, value = row
            if not (_is_text(scope) and _is_text(name) and _is_text(value)):
                raise StoreError(
                    f"{self.path}: a stored moderation row is not what this server writes: "
                    f"{_shown(row)}"
                )
            self._moderation.setdefault(scope, {})[name] = value
        self._load_ids()

    def _room(self, row: tuple[object, ...]) -> RoomRecord:
        key, name, topic, by, ts = row
        if not (
            _is_text(key)
            and _is_text(name)
            and _is_text(topic)
            and _is_text(by, or_none=True)
            and _is_text(ts, or_none=True)
        ):
            raise StoreError(
                f"{self.path}: a stored room is not what this server writes: {_shown(row)}"
            )
        return RoomRecord(key, name, topic, by, ts)  # type: ignore[arg-type]

    def _load_ids(self) -> None:
        wall, mono = self._wallclock(), self._clock()
        # The newest `max_ids`, inserted oldest first: the order `remember`
        # keeps, so the purge there finds expired ids at the front. A
        # message's id expires `id_ttl` after it was stored.
        rows = self._writer.execute(
            "SELECT sender_key, id, seq, ts, expires FROM ("
            " SELECT sender_key, id, seq, ts, expires FROM sent_ids WHERE expires > ?1"
            " UNION ALL SELECT sender_key, sent_id, seq, ts, wall + ?2 FROM messages"
            " WHERE sent_id IS NOT NULL AND wall + ?2 > ?1"
            ") ORDER BY expires DESC LIMIT ?3",
            (wall, self._id_ttl, self._max_ids),
        ).fetchall()
        for row in reversed(rows):
            sender_key, id, seq, ts, expires = row
            if not (
                _is_text(sender_key)
                and _is_text(id)
                and _is_seq(seq)
                and _is_text(ts)
                and type(expires) in (int, float)
            ):
                raise StoreError(
                    f"{self.path}: a stored send id is not what this server writes: {_shown(row)}"
                )
            self._ids.load((sender_key, id), Receipt(seq, ts), mono + (expires - wall))

    # -- name keys ------------------------------------------------------------

    def _rekey_if_needed(self) -> list[str]:
        """Rebuild the stored keys if they were made by other look-alike
        rules; what the operator should hear of it."""
        w = self._writer
        row = w.execute("SELECT value FROM meta WHERE key = 'name_keys'").fetchone()
        if row is not None and type(row[0]) is not int:
            raise StoreError(
                f"{self.path}: the stored name-key version is {_shown(row[0])}, not a number"
            )
        if row is not None and row[0] == NAME_KEY_VERSION:
            return []
        notes = _Rekey(self.path, w).run()
        w.execute("INSERT OR REPLACE INTO meta VALUES ('name_keys', ?)", (NAME_KEY_VERSION,))
        return notes

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
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

    def rooms(self) -> list[RoomRecord]:
        return list(self._rooms.values())

    def save_room(self, room: RoomRecord) -> None:
        self._rooms[room.key] = room
        self._pending.rooms.append(room)
        self._writes += 1

    def last_seq(self, conversation: str) -> int:
        return self._last.get(conversation, 0)

    def append(self, conversation: str, message: Stored) -> None:
        self._last[conversation] = max(self._last.get(conversation, 0), message.seq)
        wall = self._wallclock()
        pending = self._pending
        pending.messages.append((conversation, message, wall))
        pending.rows.append(_row(conversation, message, wall, self._next_doc))
        self._next_doc += 1
        if message.seq > pending.tops.get(conversation, 0):
            pending.tops[conversation] = message.seq
        self._writes += 1

    def before(self, conversation: str, seq: int | None, limit: int) -> list[Stored]:
        if limit <= 0 or (seq is not None and seq <= 0):
            return []  # no seq is that small
        # SQLite integers are 64-bit: anything above is after every message.
        top = seq if seq is not None and seq <= _MAX_SEQ else _MAX_SEQ
        unsaved = [
            m
            for batch in (*self._in_flight, self._pending)
            for conv, m, _ in batch.messages
            if conv == conversation and m.seq < top
        ][-limit:]
        try:
            rows = self._reader.execute(
                f"SELECT {_COLUMNS} FROM messages"
                " WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                (conversation, top, limit),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from exc
        merged = _merge([_message(r) for r in rows], unsaved, limit)
        if self._revised:
            revised = self._revised
            merged = [revised.get((conversation, m.seq), (m, 0))[0] for m in merged]
        return merged

    def recent_dms(self, viewer: str, limit: int) -> list[DirectMessage]:
        if limit <= 0:
            return []
        unsaved = [
            m
            for batch in (*self._in_flight, self._pending)
            for conv, m, _ in batch.messages
            if isinstance(m, DirectMessage)
            and conv.startswith(DM_PREFIX)
            and viewer in (name_key(m.from_), name_key(m.to))
        ][-limit:]
        try:
            rows = self._reader.execute(
                f"SELECT {_COLUMNS} FROM (SELECT * FROM messages"
                " WHERE room IS NULL AND sender_key = ? ORDER BY ts DESC LIMIT ?)"
                f" UNION SELECT {_COLUMNS} FROM (SELECT * FROM messages"
                " WHERE room IS NULL AND recipient_key = ? ORDER BY ts DESC LIMIT ?)",
                (viewer, limit, viewer, limit),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from exc
        saved = [_message(r) for r in rows]
        seen = {(m.ts, m.seq, m.from_) for m in unsaved}
        merged = [m for m in saved if (m.ts, m.seq, m.from_) not in seen] + unsaved
        merged.sort(key=lambda m: (m.ts, m.seq))
        return merged[-limit:]  # type: ignore[return-value]

    def account(self, key: str) -> Account | None:
        # Read each time, not cached: the operator's `accounts` command may
        # change the table while the server runs.
        for batch in (self._pending, *reversed(self._in_flight)):
            for account in reversed(batch.accounts):
                if account.key == key:
                    return account
        row = self._reader.execute(
            "SELECT key, name, hash, admin, temporary FROM accounts WHERE key = ?", (key,)
        ).fetchone()
        return account_from_row(row) if row is not None else None

    def save_account(self, account: Account) -> None:
        self._pending.accounts.append(account)
        self._writes += 1

    def message(self, conversation: str, seq: int) -> Stored | None:
        found = self.before(conversation, seq + 1, 1)
        return found[0] if found and found[0].seq == seq else None

    def delete(self, conversation: str, seq: int) -> None:
        message = self.message(conversation, seq)
        if isinstance(message, Message):
            self.revise(conversation, tombstone(message))  # type: ignore[arg-type]

    def revise(self, conversation: str, message: Message) -> None:
        where = (conversation, message.seq)
        held = self._revised.get(where, (message, 0))[1]
        self._revised[where] = (message, held + 1)
        self._pending.revisions.append((conversation, message))
        self._writes += 1

    def search(
        self, query: Query, before: str | None, limit: int
    ) -> tuple[list[Stored], str | None]:
        top = _MAX_SEQ
        if before is not None:
            if not (before.startswith("d") and before[1:].isdigit() and len(before) <= 20):
                raise ProtocolError(
                    ErrorCode.BAD_FRAME, "`before` is not a cursor this server gave"
                )
            top = min(int(before[1:]), _MAX_SEQ)
        where, params = [], []
        if query.conversations:
            where.append(f"m.conv IN ({', '.join('?' * len(query.conversations))})")
            params.extend(query.conversations)
        if query.dm_with is not None:
            where.append("m.conv = ?")
            params.append(query.dm_with)
        elif query.dms:
            where.append("(m.room IS NULL AND (m.sender_key = ? OR m.recipient_key = ?))")
            params.extend((query.viewer, query.viewer))
        if not where:
            return [], None
        try:
            rows = self._reader.execute(
                f"SELECT {', '.join('m.' + c for c in _COLUMNS.split(', '))}, m.conv, m.doc"
                " FROM message_words AS w JOIN messages AS m ON m.doc = w.rowid"
                f" WHERE message_words MATCH ? AND w.rowid < ? AND ({' OR '.join(where)})"
                " ORDER BY w.rowid DESC LIMIT ?",
                (f"text : ({query.fts()}) AND {_scopes(query)}", top, *params, limit + 1),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from exc
        hits: list[Stored] = []
        for row in rows[:limit]:
            message = _message(row[:-2])
            revised = self._revised.get((row[-2], message.seq))
            if revised is not None:
                message = revised[0]
                if not query.matches(message):
                    continue  # an edit on its way to the disk took the words away
            hits.append(message)
        more = len(rows) > limit
        return hits, f"d{rows[limit - 1][-1]}" if more else None

    def moderation_state(self) -> dict[str, dict[str, str]]:
        return {scope: dict(fields) for scope, fields in self._moderation.items()}

    def save_moderation(self, scope: str, changes: dict[str, str | None]) -> None:
        fields = self._moderation.setdefault(scope, {})
        for name, value in changes.items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
            self._pending.moderation.append((scope, name, value))
        self._writes += 1

    def append_audit(self, scope: str, entry: bytes) -> None:
        self._pending.audit.append((scope, entry))
        self._writes += 1

    def audit(self, scope: str, limit: int) -> list[bytes]:
        if limit <= 0:
            return []
        unsaved = [
            entry
            for batch in (*self._in_flight, self._pending)
            for where, entry in batch.audit
            if where == scope
        ][-limit:]
        try:
            rows = self._reader.execute(
                "SELECT entry FROM audit WHERE scope = ? ORDER BY n DESC LIMIT ?", (scope, limit)
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from exc
        # A batch being written may be on disk already: each entry once (an
        # entry names its time to the millisecond, its actor and its target).
        pending = set(unsaved)
        saved = [bytes(row[0]) for row in reversed(rows) if bytes(row[0]) not in pending]
        return (saved + unsaved)[-limit:]

    def remember(self, key: tuple[str, str], receipt: Receipt, now: float) -> None:
        self._ids.remember(key, receipt, now)
        # The hub remembers a send's id right after appending its message:
        # the id goes into that row (one table written, not two). Anything
        # else would get a row of its own in sent_ids.
        rows = self._pending.rows
        if rows:
            row = rows[-1]
            if row[1] == receipt.seq and row[7] == key[0] and row[_SENT_ID] is None:
                rows[-1] = (*row[:_SENT_ID], key[1])
                return
        expires_wall = self._wallclock() + self._id_ttl
        self._pending.id_rows.append((key[0], key[1], receipt.seq, receipt.ts, expires_wall))
        self._writes += 1

    def recall(self, key: tuple[str, str], now: float) -> Receipt | None:
        return self._ids.recall(key, now)

    # -- group commit ---------------------------------------------------------

    def writes(self) -> int:
        return self._writes

    def has_pending(self) -> bool:
        pending = self._pending
        return bool(
            pending.messages
            or pending.id_rows
            or pending.rooms
            or pending.accounts
            or pending.moderation
            or pending.audit
            or pending.revisions
        )

    def take_batch(self) -> Batch:
        """Start a commit of everything buffered so far (event loop side)."""
        batch, self._pending = self._pending, Batch()
        batch.upto = self._writes
        if batch.rows:
            batch.rows_json = _json_rows.encode(batch.rows)
        if batch.id_rows:
            batch.ids_json = _json_rows.encode(batch.id_rows)
        self._in_flight.append(batch)
        return batch

    def write(self, batch: Batch) -> None:  # type: ignore[override]
        """Write one batch in one transaction (writer thread). Only the
        statements the batch needs: each call gives the GIL up and must take
        it back from a busy event loop."""
        w = self._writer
        assert w is not None
        w.execute("BEGIN IMMEDIATE")
        try:
            if batch.rows:
                w.execute(_INSERT_MESSAGES, (batch.rows_json,))
            if batch.tops:
                w.executemany(
                    "INSERT INTO conversations VALUES (?, ?) ON CONFLICT (conv)"
                    " DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                    list(batch.tops.items()),
                )
            if batch.rooms:
                w.executemany(
                    "INSERT OR REPLACE INTO rooms VALUES (?, ?, ?, ?, ?)",
                    [(r.key, r.name, r.topic, r.topic_by, r.topic_ts) for r in batch.rooms],
                )
            if batch.accounts:
                w.executemany(
                    "INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?)",
                    [
                        (a.key, a.name, a.hash, int(a.admin), int(a.temporary))
                        for a in batch.accounts
                    ],
                )
            if batch.id_rows:
                w.execute(_INSERT_IDS, (batch.ids_json,))
            for scope, name, value in batch.moderation:
                if value is None:
                    w.execute("DELETE FROM moderation WHERE scope = ? AND field = ?", (scope, name))
                else:
                    w.execute(
                        "INSERT OR REPLACE INTO moderation VALUES (?, ?, ?)", (scope, name, value)
                    )
            if batch.audit:
                w.executemany("INSERT INTO audit (scope, entry) VALUES (?, ?)", batch.audit)
            if batch.revisions:
                w.executemany(
                    "UPDATE messages SET text = ?, action = ?, reactions = ?"
                    " WHERE conv = ? AND seq = ?",
                    [
                        (m.text, message_flags(m), _reactions_json(m), conv, m.seq)
                        for conv, m in batch.revisions
                    ],
                )
            self._maybe_prune()
            w.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                w.execute("ROLLBACK")
            raise

    def done(self, batch: Batch) -> None:  # type: ignore[override]
        """The batch is committed (event loop side)."""
        self._in_flight.remove(batch)
        revised = self._revised
        for conv, message in batch.revisions:
            where = (conv, message.seq)
            state, held = revised[where]
            if held <= 1:
                del revised[where]
            else:
                revised[where] = (state, held - 1)

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
        # conversations.last_seq keeps the numbering going even when every
        # message of a conversation is pruned.
        now = self._wallclock()
        w.execute("DELETE FROM sent_ids WHERE expires <= ?", (now,))
        if keep.keep_days is not None:
            self._drop_messages("wall < ?", (now - keep.keep_days * 86_400,), now)
        if keep.keep_messages is not None:
            # Each conversation keeps its own newest N: a busy room does not
            # push a quiet one's history out.
            over = w.execute(
                "SELECT conv FROM messages GROUP BY conv HAVING count(*) > ?",
                (keep.keep_messages,),
            ).fetchall()
            for (conv,) in over:
                self._drop_messages(
                    "conv = ? AND seq <= (SELECT seq FROM messages"
                    " WHERE conv = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (conv, conv, keep.keep_messages),
                    now,
                )

    def _drop_messages(self, where: str, parameters: tuple[object, ...], now: float) -> None:
        """Delete the messages `where` selects; the send ids among them that
        still answer resends move to sent_ids first."""
        w = self._writer
        w.execute(
            "INSERT OR REPLACE INTO sent_ids SELECT sender_key, sent_id, seq, ts, wall + ?"
            f" FROM messages WHERE ({where}) AND sent_id IS NOT NULL AND wall + ? > ?",
            (self._id_ttl, *parameters, self._id_ttl, now),
        )
        w.execute(f"DELETE FROM messages WHERE {where}", parameters)

    def count(self) -> int:
        """Messages on disk (for tests and operators)."""
        return self._reader.execute("SELECT count(*) FROM messages").fetchone()[0]


class _Rekey:
    """Rebuild every stored key (conversations, rooms, senders) with this
    version's `name_key`, inside the open transaction.

    Keys change when the look-alike rules do: a room stored under its old
    key would be a second room with the same name, and its history lost to
    whoever joins it. Two conversations whose keys are now one (rooms or
    people whose names have become look-alikes) are merged: the busier keeps
    its numbers, the others' messages are numbered after it, in order.
    """

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db
        self.room_keys: dict[str, str] = {}  # a room's old key -> its new one

    def run(self) -> list[str]:
        db = self.db
        rooms = db.execute("SELECT key, name, topic, topic_by, topic_ts FROM rooms").fetchall()
        for row in rooms:
            key, name = row[0], row[1]
            if not (_is_text(key) and _is_text(name)):
                raise StoreError(
                    f"{self.path}: a stored room is not what this server writes: {_shown(row)}"
                )
            self.room_keys[key] = name_key(name)
        last = dict(db.execute("SELECT conv, last_seq FROM conversations").fetchall())
        # Where each old conversation goes, and how high its numbers there go.
        tops: dict[tuple[str, str], int] = {}
        for conv, seq, room, sender, recipient in db.execute(
            "SELECT conv, seq, room, sender, recipient FROM messages"
        ):
            target = self.message_conversation(conv, seq, room, sender, recipient)
            tops[conv, target] = max(tops.get((conv, target), 0), seq)
        moved = {old for old, _ in tops}
        for conv, top in last.items():
            if conv not in moved:  # every message of it pruned: only its counter is left
                tops[conv, self.conversation(conv)] = top
        offsets, counters, notes = self.merge(tops, last)
        self.rewrite_messages(offsets)
        db.execute("DELETE FROM conversations")
        db.executemany("INSERT INTO conversations VALUES (?, ?)", sorted(counters.items()))
        self.rewrite_rooms(rooms, offsets)
        ids = db.execute("SELECT sender_key, id, seq, ts, expires FROM sent_ids").fetchall()
        db.execute("DELETE FROM sent_ids")
        db.executemany(
            "INSERT OR REPLACE INTO sent_ids VALUES (?, ?, ?, ?, ?)",
            [(self.key(k), i, seq, ts, exp) for k, i, seq, ts, exp in ids],
        )
        accounts = self.rewrite_accounts(notes)
        if tops or rooms or accounts:
            notes.insert(0, "rebuilt the name keys (the look-alike rules changed)")
        return notes

    def rewrite_accounts(self, notes: list[str]) -> int:
        """Each account under its name's new key. Two that now look alike
        cannot both stay: one whose key was already right does (else the
        first in key order), and the operator is told to add the other again."""
        db = self.db
        rows = db.execute(
            "SELECT key, name, hash, admin, temporary FROM accounts ORDER BY key"
        ).fetchall()
        rows.sort(key=lambda row: not (_is_text(row[1]) and row[0] == name_key(row[1])))
        kept: dict[str, tuple[object, ...]] = {}
        for row in rows:
            account = account_from_row(row)
            key = name_key(account.name)
            if key in kept:
                notes.append(
                    f"the accounts {kept[key][1]} and {account.name} now look alike: "
                    f"{account.name} was removed; add it again under another name"
                )
                continue
            kept[key] = (key, *row[1:])
        db.execute("DELETE FROM accounts")
        db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)", list(kept.values()))
        return len(rows)

    def key(self, old: object) -> object:
        # An old key is a name as far as we know it (a sender's, a pruned
        # DM's); a value of the wrong type is left for the checks to refuse.
        return name_key(old) if isinstance(old, str) else old

    def conversation(self, old: str) -> str:
        """The new key of a conversation known by its old key only."""
        if old.startswith(DM_PREFIX):
            a, _, b = old.removeprefix(DM_PREFIX).partition(":")
            return dm_conversation(name_key(a), name_key(b))
        return self.room_keys.get(old) or name_key(old)

    def message_conversation(
        self, conv: object, seq: object, room: object, sender: object, recipient: object
    ) -> str:
        if not (
            _is_text(conv)
            and _is_seq(seq)
            and _is_text(room, or_none=True)
            and _is_text(sender)
            and (room is not None or _is_text(recipient))
        ):
            raise StoreError(
                f"{self.path}: a stored message is not what this server writes: "
                f"{_shown((conv, seq, room, sender, recipient))}"
            )
        if room is None:
            return dm_conversation(name_key(sender), name_key(recipient))  # type: ignore[arg-type]
        return self.room_keys.get(conv) or name_key(room)  # type: ignore[arg-type]

    def merge(
        self, tops: dict[tuple[str, str], int], last: dict[str, int]
    ) -> tuple[dict[tuple[str, str], int], dict[str, int], list[str]]:
        """Each (old, new) conversation's seq offset, each new counter, and
        a note for each merge."""
        notes: list[str] = []
        sources: dict[str, list[str]] = {}
        for old, new in sorted(tops):
            sources.setdefault(new, []).append(old)
        offsets: dict[tuple[str, str], int] = {}
        counters: dict[str, int] = {}
        for new, olds in sources.items():
            # The counter may be above every message left (pruning).
            height = {old: max(tops[old, new], last.get(old, 0)) for old in olds}
            olds.sort(key=lambda old: (-height[old], old))
            top = 0
            for old in olds:
                offsets[old, new] = top
                top += height[old]
            counters[new] = top
            if len(olds) > 1:
                notes.append(
                    f"conversations {', '.join(olds)} are one now (their names look alike); "
                    f"{olds[0]} keeps its numbers, the others' messages follow"
                )
        return offsets, counters, notes

    def rewrite_messages(self, offsets: dict[tuple[str, str], int]) -> None:
        db = self.db
        db.execute(MESSAGES_TABLE.format(table="messages_rekeyed"))
        rows = db.execute(
            "SELECT conv, seq, ts, wall, room, sender, recipient, text, action,"
            " reply_to, reply_from, reactions, doc, sent_id FROM messages"
        )
        db.executemany(
            "INSERT INTO messages_rekeyed VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    new,
                    seq + offsets[conv, new],
                    ts,
                    wall,
                    room,
                    sender,
                    recipient,
                    name_key(sender),
                    None if recipient is None else self.key(recipient),
                    text,
                    action,
                    # A reply keeps its number within a merged conversation.
                    None if reply_to is None else reply_to + offsets[conv, new],
                    reply_from,
                    reactions,
                    doc,
                    sent_id,
                )
                for (
                    conv,
                    seq,
                    ts,
                    wall,
                    room,
                    sender,
                    recipient,
                    text,
                    action,
                    reply_to,
                    reply_from,
                    reactions,
                    doc,
                    sent_id,
                ) in rows
                for new in [self.message_conversation(conv, seq, room, sender, recipient)]
            ),
        )
        # Dropping the table drops its triggers too (and fires none): the
        # search index keeps every message's number, and the triggers come back.
        db.execute("DROP TABLE messages")
        db.execute("ALTER TABLE messages_rekeyed RENAME TO messages")
        # Keys changed, so the scope words did: index everything again.
        db.execute("INSERT INTO message_words (message_words) VALUES ('delete-all')")
        db.execute(_REINDEX, (0,))
        for statement in _statements(MESSAGE_INDEXES + SEARCH_INDEX):
            db.execute(statement)  # not executescript: it would commit

    def rewrite_rooms(
        self, rooms: list[tuple[object, ...]], offsets: dict[tuple[str, str], int]
    ) -> None:
        # Of rooms that are one now, the one whose conversation kept its numbers.
        kept: dict[str, tuple[object, ...]] = {}
        for row in rooms:
            old, new = row[0], self.room_keys[row[0]]  # type: ignore[index]
            if new not in kept or offsets.get((old, new), 0) == 0:  # type: ignore[arg-type]
                kept[new] = row
        self.db.execute("DELETE FROM rooms")
        self.db.executemany(
            "INSERT INTO rooms VALUES (?, ?, ?, ?, ?)",
            [(new, *row[1:]) for new, row in sorted(kept.items())],
        )


def _statements(script: str) -> list[str]:
    """A script's statements one by one (a trigger's body holds `;`s)."""
    found, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return found


def account_from_row(row: tuple[object, ...]) -> Account:
    key, name, hashed, admin, temporary = row
    if not (isinstance(key, str) and isinstance(name, str) and isinstance(hashed, str)):
        raise StoreError(f"a stored account is not what this server writes: {key!r}")
    return Account(key, name, hashed, admin=bool(admin), temporary=bool(temporary))


def _merge(saved: list[Stored], unsaved: list[Stored], limit: int) -> list[Stored]:
    """Messages on disk and still in memory, each once (a batch that has
    just committed can be both), oldest first."""
    seen = {m.seq for m in unsaved}
    merged = sorted([m for m in saved if m.seq not in seen] + unsaved, key=_seq)
    return merged[-limit:]


def _seq(message: Stored) -> int:
    return message.seq


__all__ = ["Batch", "Retention", "SqliteStore", "seq_floor"]
