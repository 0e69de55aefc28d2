"""Durable history: the SQLite store, acks after commit, restarts and crashes
of a real `conexion-server` process, paging, retention and database errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conexion_protocol import DirectMessage, Message, name_key
from conexion_server.accounts import Account
from conexion_server.server import CommitGate
from conexion_server.sqlite_store import SCHEMA_VERSION, Retention, SqliteStore
from conexion_server.store import Receipt, RoomRecord, StoreError, dm_conversation
from tests.peers import JsonPeer
from tests.server.test_process import PROCESS_WAIT, run, server_command, wait_listening

pytestmark = pytest.mark.single_server("SQLite history belongs to one process")

DM = dm_conversation("ana", "bob")
ACKS_BEFORE_KILL = 50  # per sender, before the kill may come
FAST = ("--rate", "1000000", "--burst", "1000000", "--log-level", "warning")


def msg(seq: int, text: str = "", room: str = "general", sender: str = "ana") -> Message:
    return Message(seq=seq, ts="2026-11-24T12:00:00.000Z", room=room, from_=sender, text=text)


class Wall:
    def __init__(self, now: float = 1_795_521_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_store(path: Path, **options: Any) -> SqliteStore:
    options.setdefault("id_ttl", 600.0)
    options.setdefault("max_ids", 1000)
    return SqliteStore(path, **options)


# -- the store on its own ------------------------------------------------------------


def test_reopened_store_continues_seq_and_remembers_ids_and_history(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    mono = Wall(100.0)
    store = open_store(path, clock=mono)
    for seq in (11, 12, 13):
        store.append("general", msg(seq, f"m{seq}"))
    store.append(DM, DirectMessage(seq=4, ts="t", from_="ana", to="bob", text="psst"))
    store.save_room(RoomRecord("lab", "Lab", "kits", "ana", "t"))
    store.remember(("ana", "k1"), Receipt(11, "t"), now=mono())
    store.flush()
    store.close()

    mono.now = 5.0  # another process: its monotonic clock means nothing here
    again = open_store(path, clock=mono)
    try:
        assert (again.last_seq("general"), again.last_seq(DM), again.last_seq("lab")) == (13, 4, 0)
        assert again.recall(("ana", "k1"), now=mono()) == Receipt(11, "t")
        assert again.recall(("ana", "k1"), now=mono() + 601) is None
        assert [m.seq for m in again.before("general", None, 10)] == [11, 12, 13]
        assert [m.seq for m in again.before("general", 13, 1)] == [12]
        assert [m.text for m in again.before(DM, None, 10)] == ["psst"]
        assert [m.text for m in again.recent_dms("bob", 10)] == ["psst"]
        assert again.recent_dms("carol", 10) == []
        assert again.rooms() == [RoomRecord("lab", "Lab", "kits", "ana", "t")]
    finally:
        again.close()


def test_reopened_store_keeps_the_newest_ids_when_over_max_ids(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    mono, wall = Wall(0.0), Wall()
    store = open_store(path, clock=mono, wallclock=wall, max_ids=1000)
    for n in range(10):
        mono.now = float(n)
        wall.now += 1.0
        store.remember(("ana", f"k{n}"), Receipt(n, "t"), now=mono())
    store.flush()
    store.close()
    again = open_store(path, clock=mono, wallclock=wall, max_ids=3)
    try:
        known = [n for n in range(10) if again.recall(("ana", f"k{n}"), now=mono()) is not None]
        assert known == [7, 8, 9]
    finally:
        again.close()


def test_reads_see_appended_but_uncommitted_messages_once(tmp_path: Path) -> None:
    store = open_store(tmp_path / "h.db")
    try:
        store.append("general", msg(1, "a"))
        store.flush()
        store.append("general", msg(2, "b"))
        batch = store.take_batch()
        store.append("general", msg(3, "c"))
        store.write(batch)  # on disk and still in flight: must not show twice
        assert [m.seq for m in store.before("general", None, 10)] == [1, 2, 3]
        store.done(batch)
        assert [m.seq for m in store.before("general", None, 10)] == [1, 2, 3]
        assert store.count() == 2
    finally:
        store.close()


def test_an_empty_database_knows_no_conversation(tmp_path: Path) -> None:
    # The hub starts a new conversation at the clock, as in memory.
    store = open_store(tmp_path / "h.db")
    try:
        assert (store.last_seq("general"), store.rooms(), store.count()) == (0, [], 0)
    finally:
        store.close()


def test_keep_messages_prunes_the_oldest_and_seq_still_continues(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = open_store(path, retention=Retention(keep_messages=3, every=0.0))
    for seq in range(1, 11):
        store.append("general", msg(seq))
        store.flush()
    store.append("lab", msg(1, room="lab"))  # a quiet room keeps its own
    store.flush()
    assert [m.seq for m in store.before("general", None, 50)] == [8, 9, 10]
    assert [m.seq for m in store.before("lab", None, 50)] == [1]
    store.close()
    again = open_store(path, retention=Retention(keep_messages=3))
    try:
        assert again.last_seq("general") == 10
    finally:
        again.close()


TS = "2026-11-24T12:00:00.000Z"


def store_one_send(path: Path, wall: Wall, text: str) -> None:
    """A database holding one message of ana's, sent with the id `k1`."""
    store = open_store(path, wallclock=wall)
    store.append("general", msg(1, text))
    store.remember(("ana", "k1"), Receipt(1, TS), now=0.0)
    store.flush()
    store.close()


def test_a_send_id_is_kept_in_its_message_row_until_it_expires(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    wall = Wall()
    store_one_send(path, wall, "hi")
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT seq, sent_id FROM messages").fetchall() == [(1, "k1")]
        assert db.execute("SELECT count(*) FROM sent_ids").fetchone() == (0,)
    stored = wall.now
    for later, receipt in ((599.0, Receipt(1, TS)), (601.0, None)):
        wall.now = stored + later
        again = open_store(path, wallclock=wall)
        try:
            assert again.recall(("ana", "k1"), now=0.0) == receipt, later
        finally:
            again.close()


def test_a_pruned_message_still_answers_its_resend_after_a_restart(tmp_path: Path) -> None:
    # Pruning may take a message whose id still answers resends: the id
    # moves to sent_ids, so a resend after a restart is not a new message.
    path = tmp_path / "h.db"
    wall = Wall()
    store = open_store(path, wallclock=wall, retention=Retention(keep_messages=2, every=0.0))
    for seq in range(1, 6):
        store.append("general", msg(seq))
        store.remember(("ana", f"k{seq}"), Receipt(seq, TS), now=0.0)
        store.flush()
    assert [m.seq for m in store.before("general", None, 10)] == [4, 5]
    store.close()
    again = open_store(path, wallclock=wall)
    try:
        for seq in range(1, 6):
            assert again.recall(("ana", f"k{seq}"), now=0.0) == Receipt(seq, TS)
    finally:
        again.close()


def test_send_ids_of_schema_3_still_answer_after_the_upgrade(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.db"
    wall = Wall()
    store_one_send(path, wall, "old")
    tamper(  # as schema 3 wrote it: the id in sent_ids, no sent_id column
        path,
        "INSERT INTO sent_ids SELECT sender_key, sent_id, seq, ts, wall + 600 FROM messages",
        "ALTER TABLE messages DROP COLUMN sent_id",
        "PRAGMA user_version = 3",
    )
    with caplog.at_level("INFO", logger="conexion_server.sqlite_store"):
        again = open_store(path, wallclock=wall)
    assert f"upgraded {path} from schema 3 to {SCHEMA_VERSION}" in caplog.text
    try:
        assert again.recall(("ana", "k1"), now=0.0) == Receipt(1, TS)
        again.append("general", msg(2, "new"))
        again.remember(("ana", "k2"), Receipt(2, TS), now=0.0)
        again.flush()
        assert [m.text for m in again.before("general", None, 10)] == ["old", "new"]
    finally:
        again.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT seq, sent_id FROM messages").fetchall() == [(1, None), (2, "k2")]


def test_keep_days_prunes_old_messages_but_not_the_numbering(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    wall = Wall()
    store = open_store(path, wallclock=wall)
    store.append("general", msg(1, "old"))
    store.flush()
    wall.now += 3 * 86_400
    store.append("general", msg(2, "new"))
    store.flush()
    store.close()
    again = open_store(path, wallclock=wall, retention=Retention(keep_days=2))
    try:
        assert [m.text for m in again.before("general", None, 50)] == ["new"]
        assert again.last_seq("general") == 2
    finally:
        again.close()
    # Everything gone: the numbering still goes on from where it was.
    wall.now += 10 * 86_400
    last = open_store(path, wallclock=wall, retention=Retention(keep_days=2))
    try:
        assert last.before("general", None, 50) == []
        assert last.last_seq("general") == 2
    finally:
        last.close()


# -- database errors -------------------------------------------------------------------


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(blocker / "h.db")


def test_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    first = open_store(tmp_path / "h.db")
    try:
        with pytest.raises(StoreError, match="in use by another conexion-server"):
            open_store(tmp_path / "h.db")
    finally:
        first.close()
    open_store(tmp_path / "h.db").close()  # free again once the first is closed


def test_corrupt_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not sqlite at all" * 200)
    with pytest.raises(StoreError, match="corrupt"):
        open_store(path)


async def cli_failure(*args: str) -> tuple[int, list[str]]:
    proc = await run(*server_command(), "--port", "0", *args)
    async with asyncio.timeout(PROCESS_WAIT):
        out, err = await proc.communicate()
    assert out == b""
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()


async def test_cli_unwritable_db_is_one_line_and_status_3(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    status, lines = await cli_failure("--db", str(blocker / "sub" / "h.db"))
    assert status == 3
    assert len(lines) == 1, lines
    assert lines[0].startswith("conexion-server: cannot use database")


async def test_cli_corrupt_db_is_one_line_and_status_3(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"garbage" * 1000)
    status, lines = await cli_failure("--db", str(path))
    assert status == 3
    assert len(lines) == 1, lines
    assert lines[0].startswith("conexion-server: database error:")
    assert "corrupt" in lines[0]


async def test_cli_db_locked_by_a_running_server_is_one_line_and_status_3(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    first = await run(*server_command(), "--port", "0", "--db", str(path))
    try:
        await wait_listening(first)
        status, lines = await cli_failure("--db", str(path))
    finally:
        first.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PROCESS_WAIT):
            await first.communicate()
    assert status == 3
    assert len(lines) == 1, lines
    assert "in use by another conexion-server" in lines[0]


# -- a durable server in this process ----------------------------------------------------


async def test_ack_and_relay_come_only_after_the_commit(make_server, connect, tmp_path) -> None:
    path = tmp_path / "h.db"
    server = await make_server(db=str(path), rate=1000.0, burst=1000)
    ana = await connect(server, "ana")
    bob = await connect(server, "bob")
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for i in range(20):
            await ana.send(type="say", id=f"k{i}", text=f"m{i}")
        for i in range(20):
            ack = await ana.expect("ack")
            # The ack is on the wire, so the row must already be on disk.
            row = reader.execute("SELECT text FROM messages WHERE seq = ?", (ack["seq"],))
            assert row.fetchone() == (f"m{i}",)
        for i in range(20):
            relayed = await bob.expect("message")
            assert relayed["text"] == f"m{i}"
    finally:
        reader.close()


async def test_history_and_dms_survive_a_graceful_restart(make_server, connect, tmp_path) -> None:
    path = str(tmp_path / "h.db")
    server = await make_server(db=path, rate=1000.0, burst=1000)
    ana = await connect(server, "ana")
    bob = await connect(server, "bob")
    first = await ana.say("hello")
    await ana.send(type="dm", id="d1", to="bob", text="psst")
    dm_ack = await ana.expect("ack")
    await bob.expect("message")
    await bob.expect("dm")
    await server.stop()

    again = await make_server(db=path, rate=1000.0, burst=1000)
    carol = await connect(again, "carol")
    bob2 = await connect(again, "bob")
    await carol.send(type="history")
    seen_by_carol = (await carol.expect("history"))["messages"]
    await bob2.send(**{"type": "history", "with": "ana"})
    seen_by_bob = (await bob2.expect("history"))["messages"]
    assert [m["text"] for m in seen_by_carol] == ["hello"]
    assert [(m["type"], m["text"]) for m in seen_by_bob] == [("dm", "psst")]
    assert seen_by_bob[0]["seq"] == dm_ack["seq"]
    # The numbering goes on, and the old id still de-duplicates.
    assert (await (await connect(again, "dave")).say("next"))["seq"] == first["seq"] + 1
    ana2 = await connect(again, "ana")
    assert await ana2.say("hello again?", id=first["id"]) == first


async def test_paging_through_ten_thousand_messages_returns_each_once(
    make_server, connect, tmp_path
) -> None:
    path = tmp_path / "h.db"
    store = open_store(path)
    total = 10_000
    for seq in range(1, total + 1):
        store.append("general", msg(seq, f"m{seq}", sender=f"u{seq % 7}"))
    store.flush()
    store.close()
    server = await make_server(db=str(path))
    peer = await connect(server, "reader")
    pages: list[list[dict[str, Any]]] = []
    before: int | None = None
    while True:
        frame: dict[str, Any] = {"type": "history", "limit": 200}
        if before is not None:
            frame["before"] = before
        await peer.send(**frame)
        page = (await peer.expect("history"))["messages"]
        if not page:
            break
        assert len(page) <= 200
        pages.append(page)
        before = page[0]["seq"]
    seqs = [m["seq"] for page in reversed(pages) for m in page]
    assert seqs == list(range(1, total + 1))
    assert len(pages) == total // 200


# -- a real process, killed ------------------------------------------------------------------


class Sender:
    """One flooding client: sends with ids, keeps what was acked."""

    def __init__(self, name: str, flowing: asyncio.Event | None = None) -> None:
        self.name = name
        self.flowing = flowing or asyncio.Event()
        self.sent: dict[str, str] = {}  # id -> text
        self.acked: dict[str, int] = {}  # id -> seq
        self.seen: dict[int, str] = {}  # seq -> text of what others' relays showed us

    async def flood(self, port: int, window: int = 64) -> None:
        peer = await JsonPeer.connect(port)
        try:
            await peer.hello(self.name)
            n = 0
            in_flight = 0
            while True:
                while in_flight < window:
                    id = f"{self.name}-{n}"
                    self.sent[id] = f"{self.name} says {n}"
                    await peer.send(type="say", id=id, text=self.sent[id])
                    n += 1
                    in_flight += 1
                frame = await peer.recv(timeout=PROCESS_WAIT)
                if frame["type"] == "ack":
                    self.acked[frame["id"]] = frame["seq"]
                    in_flight -= 1
                    if len(self.acked) >= ACKS_BEFORE_KILL:
                        self.flowing.set()
                elif frame["type"] == "message":
                    self.seen[frame["seq"]] = frame["text"]
        except (ConnectionError, EOFError, ValueError):
            return  # the server was killed mid-stream
        finally:
            await peer.close()

    async def resend(self, port: int) -> None:
        """Reconnect under the same name and resend everything (acked or not)."""
        peer = await JsonPeer.connect(port)
        try:
            await peer.hello(self.name)
            for id, text in self.sent.items():
                await peer.send(type="say", id=id, text=text)
            for _ in self.sent:
                ack = await peer.expect_any("ack", timeout=PROCESS_WAIT)
                if ack["id"] in self.acked:
                    assert ack["seq"] == self.acked[ack["id"]], "a resend changed an ack"
                self.acked[ack["id"]] = ack["seq"]
        finally:
            await peer.close()


async def start_process(path: Path) -> tuple[asyncio.subprocess.Process, int]:
    proc = await run(*server_command(), "--port", "0", "--db", str(path), *FAST)
    return proc, await wait_listening(proc)


async def all_history(port: int) -> list[dict[str, Any]]:
    peer = await JsonPeer.connect(port)
    try:
        await peer.hello("auditor")
        found: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            frame: dict[str, Any] = {"type": "history", "limit": 200}
            if before is not None:
                frame["before"] = before
            await peer.send(**frame)
            page = (await peer.expect("history", timeout=PROCESS_WAIT))["messages"]
            if not page:
                return found
            found[:0] = page
            before = page[0]["seq"]
    finally:
        await peer.close()


@pytest.mark.parametrize("round", range(3))
async def test_sigkill_under_flood_loses_no_ack_and_resends_are_not_doubled(
    tmp_path: Path, round: int
) -> None:
    path = tmp_path / "h.db"
    proc, port = await start_process(path)
    flowing = asyncio.Event()
    senders = [Sender(f"s{i}", flowing) for i in range(4)]
    try:
        floods = [asyncio.create_task(s.flood(port)) for s in senders]
        # Kill at a random moment, but only once acks are flowing.
        async with asyncio.timeout(PROCESS_WAIT):
            await flowing.wait()
        await asyncio.sleep(random.uniform(0.0, 1.0))
        proc.kill()
        await proc.wait()
        async with asyncio.timeout(PROCESS_WAIT):
            await asyncio.gather(*floods)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    acked_before = {id: seq for s in senders for id, seq in s.acked.items()}
    assert acked_before
    proc, port = await start_process(path)
    try:
        history = await all_history(port)
        seqs = [m["seq"] for m in history]
        assert seqs == sorted(set(seqs)), "history out of order or doubled"
        by_seq = {m["seq"]: m for m in history}
        texts = {s.sent[id] for s in senders for id in s.acked}
        for s in senders:
            for id, seq in s.acked.items():
                assert by_seq[seq]["text"] == s.sent[id], f"acked {id} missing or wrong"
        assert len([m for m in history if m["text"] in texts]) == len(texts)
        # Nobody was shown a message that the crash lost.
        for s in senders:
            for seq, text in s.seen.items():
                assert by_seq[seq]["text"] == text, f"relayed seq {seq} missing"

        # Everyone resends everything: the acked ones get their old seq, the
        # rest are stored now, and nothing is stored twice.
        await asyncio.gather(*(s.resend(port) for s in senders))
        history = await all_history(port)
        stored_texts = [m["text"] for m in history]
        assert len(stored_texts) == len(set(stored_texts))
        assert set(stored_texts) == {t for s in senders for t in s.sent.values()}
        newest = max(m["seq"] for m in history)
        assert newest >= max(acked_before.values())
        peer = await JsonPeer.connect(port)
        try:
            await peer.hello("late")
            assert (await peer.say("after the crash"))["seq"] == newest + 1
        finally:
            await peer.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PROCESS_WAIT):
            _, err = await proc.communicate()
        assert proc.returncode == 0, err


# -- failures while running, and the CLI's defaults ---------------------------------------


async def test_what_a_released_send_stores_is_committed_and_released_too(tmp_path) -> None:
    # The gate hands the next batch to the writer before it runs the sends
    # the last commit released; something stored by one of those sends (when
    # nothing else was pending) must still get its own commit.
    store = open_store(tmp_path / "h.db")
    gate = CommitGate(store, on_failure=lambda exc: None)
    order: list[str] = []
    both = asyncio.Event()

    def second(_: None) -> None:
        order.append("second")
        both.set()

    def first(_: None) -> None:
        order.append("first")
        store.append("general", msg(2, "stored by a released send"))
        gate.defer(second, None)

    store.append("general", msg(1, "one"))
    gate.defer(first, None)
    async with asyncio.timeout(5):
        await both.wait()
    assert order == ["first", "second"]
    assert [m.text for m in store.before("general", None, 10)] == [
        "one",
        "stored by a released send",
    ]
    assert not store.has_pending()
    assert store.count() == 2
    store.close()


async def test_a_failed_commit_sends_nothing_held_and_fails_the_server(
    make_server, connect, tmp_path
) -> None:
    server = await make_server(db=str(tmp_path / "h.db"), rate=1000.0, burst=1000)
    ana = await connect(server, "ana")
    bob = await connect(server, "bob")
    await ana.expect("joined")
    store = server.hub.store

    def broken(batch: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    store.write = broken  # type: ignore[method-assign]
    await ana.send(type="say", id="k1", text="never stored")
    async with asyncio.timeout(PROCESS_WAIT):
        await server.failed.wait()
    assert isinstance(server.failure, sqlite3.OperationalError)
    # Neither the ack nor the relay went out: the message is not on disk.
    assert await ana.silent(0.2)
    assert await bob.silent(0.2)


async def test_default_database_is_created_in_the_user_data_folder(tmp_path: Path) -> None:
    env = {"CONEXION_DB": "", "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    proc = await run(*server_command(), "--port", "0", env=env)
    try:
        port = await wait_listening(proc)
        peer = await JsonPeer.connect(port)
        try:
            await peer.hello("ana")
            assert (await peer.say("kept"))["type"] == "ack"
        finally:
            await peer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PROCESS_WAIT):
            await proc.communicate()
    assert proc.returncode == 0
    db = tmp_path / "data" / "conexion" / "history.db"
    with contextlib.closing(sqlite3.connect(db)) as check:
        assert check.execute("SELECT text FROM messages").fetchall() == [("kept",)]


def test_cli_retention_and_db_options_reach_the_config(tmp_path: Path) -> None:
    from conexion_server.cli import build_parser, config_from_args

    path = str(tmp_path / "x.db")
    args = build_parser().parse_args(["--db", path, "--keep-days", "2.5", "--keep-messages", "9"])
    config = config_from_args(args)
    assert (config.db, config.keep_days, config.keep_messages) == (path, 2.5, 9)
    memory = config_from_args(build_parser().parse_args(["--db", ":memory:"]))
    assert (memory.db, memory.keep_days, memory.keep_messages) == (":memory:", None, None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--keep-messages", "0"])


async def test_cli_keep_messages_prunes_at_start(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = open_store(path)
    for seq in range(1, 21):
        store.append("general", msg(seq, f"m{seq}"))
    store.flush()
    store.close()
    proc = await run(*server_command(), "--port", "0", "--db", str(path), "--keep-messages", "5")
    try:
        port = await wait_listening(proc)
        peer = await JsonPeer.connect(port)
        try:
            welcome = await peer.hello("ana")
            assert [m["text"] for m in welcome["history"]] == [f"m{i}" for i in range(16, 21)]
            assert (await peer.say("next"))["seq"] == 21
        finally:
            await peer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PROCESS_WAIT):
            await proc.communicate()


async def test_bye_right_after_says_still_gets_the_acks(make_server, connect, tmp_path) -> None:
    server = await make_server(db=str(tmp_path / "h.db"), rate=1000.0, burst=1000)
    ana = await connect(server, "ana")
    lines = [
        json.dumps({"type": "say", "id": f"k{i}", "text": f"m{i}"}).encode() + b"\n"
        for i in range(5)
    ]
    await ana.send_raw(b"".join(lines) + b'{"type":"bye"}\n')
    acks = [await ana.expect("ack") for _ in range(5)]
    assert [a["id"] for a in acks] == [f"k{i}" for i in range(5)]
    assert await ana.closed()


async def test_text_exit_right_after_a_line_still_confirms_it(
    make_server, connect, tmp_path
) -> None:
    server = await make_server(db=str(tmp_path / "h.db"), rate=1000.0, burst=1000)
    bob = await connect(server, "bob", text=True)
    await bob.send_raw(b"last words\n/exit\n")
    assert await bob.until("* sent") == "* sent"
    assert await bob.text() == "* bye"
    assert await bob.closed()
    store = server.hub.store
    assert [m.text for m in store.before("general", None, 10)] == ["last words"]


async def test_serve_ends_with_a_store_error_when_a_commit_fails(tmp_path, monkeypatch) -> None:
    from conexion_server.config import ServerConfig
    from conexion_server.server import serve

    def broken(self: SqliteStore, batch: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SqliteStore, "write", broken)
    config = ServerConfig(host="127.0.0.1", port=0, db=str(tmp_path / "h.db"))
    talkers: list[asyncio.Task[None]] = []

    async def talk(port: int) -> None:
        peer = await JsonPeer.connect(port)
        try:
            await peer.hello("ana")
            await peer.send(type="say", id="k1", text="lost")
            await peer.closed()
        finally:
            await peer.close()

    def ready(server) -> None:  # type: ignore[no-untyped-def]
        talkers.append(asyncio.create_task(talk(server.port)))

    with pytest.raises(StoreError, match="cannot commit: database or disk is full"):
        async with asyncio.timeout(PROCESS_WAIT):
            await serve(config, ready)
    await asyncio.gather(*talkers)


# -- rooms on disk ----------------------------------------------------------------------


async def test_rooms_topics_and_their_history_survive_a_restart(
    make_server, connect, tmp_path
) -> None:
    path = str(tmp_path / "h.db")
    server = await make_server(db=path, rate=1000.0, burst=1000)
    ana = await connect(server, "ana")
    await ana.send(type="join", room="Lab-3")
    await ana.expect("room")
    await ana.send(type="topic", room="lab-3", topic="sensors")
    await ana.expect("topic")
    said = [await ana.say(f"lab {i}", room="lab-3") for i in range(3)]
    await server.stop()

    again = await make_server(db=path, rate=1000.0, burst=1000)
    bob = await connect(again, "bob")
    await bob.send(type="rooms")
    rooms = (await bob.expect("rooms"))["rooms"]
    assert {"room": "Lab-3", "topic": "sensors", "members": 0} in rooms
    await bob.send(type="join", room="lab-3")
    info = await bob.expect("room")
    assert (info["room"], info["topic"], info["topic_by"]) == ("Lab-3", "sensors", "ana")
    assert [m["text"] for m in info["history"]] == ["lab 0", "lab 1", "lab 2"]
    # The room's numbering goes on from where it was.
    assert (await bob.say("next", room="lab-3"))["seq"] == said[-1]["seq"] + 1


V1_SCHEMA = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, wall REAL NOT NULL, room TEXT,
    sender TEXT NOT NULL, recipient TEXT, sender_key TEXT NOT NULL, recipient_key TEXT,
    text TEXT NOT NULL, action INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_room ON messages (room, seq);
CREATE TABLE sent_ids (
    sender_key TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL,
    expires REAL NOT NULL, PRIMARY KEY (sender_key, id)
) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
PRAGMA user_version = 1;
"""


def write_v1_database(path: Path, wall: float) -> None:
    """A database as the server before rooms wrote it: one seq for everything."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(V1_SCHEMA)
        rows = [
            (10, "2026-11-24T12:00:00.000Z", wall, "general", "ana", None, "ana", None, "hi", 0),
            (11, "2026-11-24T12:00:01.000Z", wall, None, "ana", "Bob", "ana", "bob", "psst", 0),
            (12, "2026-11-24T12:00:02.000Z", wall, "general", "bob", None, "bob", None, "yo", 1),
        ]
        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute(
            "INSERT INTO sent_ids VALUES ('ana', 'k1', 10, '2026-11-24T12:00:00.000Z', ?)",
            (wall + 600,),
        )
        db.execute("INSERT INTO meta VALUES ('last_seq', 15)")
        db.commit()


def test_a_database_from_before_rooms_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    wall = Wall()
    write_v1_database(path, wall.now)
    store = open_store(path, wallclock=wall)
    try:
        assert [(m.seq, m.text) for m in store.before("general", None, 10)] == [
            (10, "hi"),
            (12, "yo"),
        ]
        assert [m.text for m in store.before(DM, None, 10)] == ["psst"]
        assert [m.text for m in store.recent_dms("bob", 10)] == ["psst"]
        # The old counter still holds for general: no seq comes back.
        assert (store.last_seq("general"), store.last_seq(DM)) == (15, 11)
        assert store.recall(("ana", "k1"), now=0.0) == Receipt(10, "2026-11-24T12:00:00.000Z")
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_stored_value_that_is_not_a_number_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('last_seq', 'not a number')")
        db.commit()
    with pytest.raises(StoreError, match="not a number"):
        open_store(path)


def test_a_database_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer conexion-server"):
        open_store(path)


# -- every unexpected stored value is corruption: status 3 and one line -------------------


def write_database(path: Path, messages: int = 3) -> None:
    """A database as this server writes it: general, a room, DMs, send ids
    (remembered now, so a server started next loads them): one in its
    message's row, one in sent_ids (as schema 3 kept them)."""
    store = open_store(path)
    for seq in range(1, messages + 1):
        store.append("general", msg(seq, f"m{seq} " + "x" * 200))
    store.remember(("ana", "k0"), Receipt(messages, "t"), now=0.0)
    store.append(DM, DirectMessage(seq=1, ts="t", from_="ana", to="bob", text="psst"))
    store.remember(("ana", "k1"), Receipt(1, "t"), now=0.0)
    store.save_room(RoomRecord("lab", "Lab", "kits", "ana", "t"))
    store.remember(("ana", "k2"), Receipt(2, "t"), now=0.0)
    store.flush()
    store.close()


def tamper(path: Path, *statements: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()


async def refused_start(path: Path) -> str:
    """The one line of a server that refuses `path` (status 3)."""
    status, lines = await cli_failure("--db", str(path))
    assert status == 3
    assert len(lines) == 1, lines
    assert lines[0].startswith("conexion-server: database error:")
    return lines[0]


@pytest.mark.parametrize("value", ["'not a number'", "1.5", "x'00ff'", "-5", "9223372036854775807"])
@pytest.mark.parametrize("with_messages", [True, False], ids=["messages", "empty"])
async def test_cli_schema_1_counter_that_is_no_number_is_status_3(
    tmp_path: Path, value: str, with_messages: bool
) -> None:
    path = tmp_path / "old.db"
    if with_messages:
        write_v1_database(path, Wall().now)
    else:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.executescript(V1_SCHEMA)
            db.execute("INSERT INTO meta VALUES ('last_seq', 0)")
            db.commit()
    tamper(path, f"UPDATE meta SET value = {value} WHERE key = 'last_seq'")
    line = await refused_start(path)
    assert "meta.last_seq" in line
    # Nothing was changed: the file is still the old schema, for a fixed server to read.
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


@pytest.mark.parametrize("value", ["'x'", "2.5", "x'00'", "-1", "NULL"])
async def test_cli_schema_2_counter_that_is_no_number_is_status_3(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "h.db"
    write_database(path)
    if value == "NULL":  # NOT NULL holds: the counter row is missing instead
        tamper(path, "DELETE FROM conversations WHERE conv = 'general'")
    else:
        tamper(path, f"UPDATE conversations SET last_seq = {value} WHERE conv = 'general'")
    assert "last seq" in await refused_start(path)


async def test_cli_a_message_above_its_counter_is_status_3(tmp_path: Path) -> None:
    # The next message would take seq 2, which is stored: it would be dropped.
    path = tmp_path / "h.db"
    write_database(path)
    tamper(path, "UPDATE conversations SET last_seq = 1 WHERE conv = 'general'")
    line = await refused_start(path)
    assert "above its last seq" in line


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE rooms SET name = x'00' WHERE key = 'lab'",
        "UPDATE rooms SET key = x'6c6162' WHERE key = 'lab'",
        "UPDATE rooms SET topic_by = x'01' WHERE key = 'lab'",
        "UPDATE rooms SET key = 'other' WHERE key = 'lab'",
        "UPDATE sent_ids SET seq = 'one'",
        "UPDATE sent_ids SET expires = 'soon'",
        "UPDATE sent_ids SET ts = x'00'",
        "UPDATE sent_ids SET id = x'00'",
        "UPDATE messages SET sent_id = x'00' WHERE sent_id = 'k1'",
        "UPDATE conversations SET conv = x'00' WHERE conv = 'general'",
        "UPDATE meta SET value = 'two' WHERE key = 'name_keys'",
    ],
    ids=[
        "room-name",
        "room-key",
        "room-topic-by",
        "room-key-not-its-name",
        "id-seq",
        "id-expires",
        "id-ts",
        "id-id",
        "message-id-bytes",
        "conversation-key",
        "name-key-version",
    ],
)
async def test_cli_a_row_of_the_wrong_type_is_status_3(tmp_path: Path, statement: str) -> None:
    path = tmp_path / "h.db"
    write_database(path)
    tamper(path, statement)
    line = await refused_start(path)
    assert str(path) in line


def corrupt_pages(path: Path) -> None:
    """Scribble over half of the first interior b-tree page of a real
    database of ~240 pages: SQLite's check then reports about 100 problems
    (the pages below it are lost), as one row of many lines."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    assert len(data) > 100 * page
    # Byte 0 of a page (100 on page 1) is its kind; 2 and 5 are interior pages.
    interior = next(n for n in range(1, len(data) // page) if data[n * page] in (2, 5))
    data[interior * page + page // 2 : (interior + 1) * page] = bytes(range(256)) * (page // 512)
    path.write_bytes(data)


async def test_cli_corrupted_pages_are_one_line_and_status_3(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    write_database(path, messages=3000)
    corrupt_pages(path)
    line = await refused_start(path)
    assert "is corrupt: " in line
    assert "more reported" in line


def test_a_check_report_of_many_lines_is_its_first_problem(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    write_database(path, messages=3000)
    corrupt_pages(path)
    with pytest.raises(StoreError) as info:
        open_store(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path} is corrupt: On tree page ")
    assert message.endswith(" more reported)")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE messages SET text = x'00ff' WHERE seq = 2",
        "UPDATE messages SET ts = x'05' WHERE seq = 2",
        "UPDATE messages SET sender = x'00' WHERE seq = 2",
        "UPDATE messages SET action = 'yes' WHERE seq = 2",
        "UPDATE messages SET room = x'00' WHERE seq = 2",
    ],
)
def test_a_corrupt_message_is_a_store_error_when_read(tmp_path: Path, statement: str) -> None:
    # Messages are read on demand (history), not at start: the store says
    # StoreError in one line; the server decides what the asker is told.
    path = tmp_path / "h.db"
    write_database(path)
    tamper(path, f"{statement} AND conv = 'general'")
    store = open_store(path)
    try:
        assert [m.seq for m in store.before("general", 2, 10)] == [1]
        with pytest.raises(StoreError) as info:
            store.before("general", None, 10)
        assert "\n" not in str(info.value)
        assert "not what this server writes" in str(info.value)
    finally:
        store.close()


# -- keys made by older look-alike rules are rebuilt ------------------------------------


def write_with_old_keys(path: Path) -> None:
    """A database as the server with the Latin/Greek/Cyrillic table wrote it:
    `Team` under the key `team` and Sam's DMs under `sam` (the keys are
    `tearn` and `sarn` now)."""
    store = open_store(path)
    store.save_room(RoomRecord(name_key("Team"), "Team", "plans", "Sam", "t"))
    for seq in (1, 2, 3):
        store.append(name_key("Team"), msg(seq, f"team {seq}", room="Team", sender="Sam"))
    dm = DirectMessage(seq=1, ts="t", from_="Sam", to="ana", text="psst")
    store.append(dm_conversation(name_key("Sam"), "ana"), dm)
    store.remember((name_key("Sam"), "k1"), Receipt(3, "t"), now=0.0)
    store.flush()
    store.close()
    tamper(
        path,
        "UPDATE rooms SET key = 'team'",
        "UPDATE messages SET conv = 'team' WHERE conv = 'tearn'",
        "UPDATE messages SET conv = 'dm:ana:sam' WHERE conv LIKE 'dm:%'",
        "UPDATE messages SET sender_key = 'sam' WHERE sender_key = 'sarn'",
        "UPDATE conversations SET conv = 'team' WHERE conv = 'tearn'",
        "UPDATE conversations SET conv = 'dm:ana:sam' WHERE conv LIKE 'dm:%'",
        "UPDATE sent_ids SET sender_key = 'sam'",
        "DELETE FROM meta WHERE key = 'name_keys'",
    )


def test_keys_made_by_older_rules_are_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    write_with_old_keys(path)
    store = open_store(path)
    try:
        key = name_key("Team")
        assert key == "tearn"
        assert store.rooms() == [RoomRecord(key, "Team", "plans", "Sam", "t")]
        assert [m.text for m in store.before(key, None, 10)] == ["team 1", "team 2", "team 3"]
        assert store.last_seq(key) == 3
        assert [m.text for m in store.recent_dms(name_key("Sam"), 10)] == ["psst"]
        assert store.last_seq(dm_conversation(name_key("Sam"), "ana")) == 1
        assert store.recall((name_key("Sam"), "k1"), now=0.0) == Receipt(3, "t")
        assert store.before("team", None, 10) == []
    finally:
        store.close()


def test_conversations_whose_keys_become_one_are_merged_in_order(tmp_path: Path) -> None:
    # `Bob` and `B0B` were two rooms; UTS #39 says they look alike.
    path = tmp_path / "h.db"
    store = open_store(path)
    store.save_room(RoomRecord("bob", "Bob", "", None, None))
    for seq in (1, 2, 3):
        store.append("bob", msg(seq, f"bob {seq}", room="Bob"))
    store.flush()
    store.close()
    tamper(
        path,
        "INSERT INTO rooms VALUES ('b0b', 'B0B', 'zero', NULL, NULL)",
        "INSERT INTO messages SELECT 'b0b', seq, ts, wall, 'B0B', sender, recipient,"
        " sender_key, recipient_key, 'b0b ' || seq, action, NULL, NULL, NULL, NULL, NULL"
        " FROM messages WHERE seq <= 2",
        "INSERT INTO conversations VALUES ('b0b', 2)",
        "DELETE FROM meta WHERE key = 'name_keys'",
    )
    store = open_store(path)
    try:
        key = name_key("Bob")
        assert [r.name for r in store.rooms()] == ["Bob"]  # the busier one
        history = store.before(key, None, 10)
        assert [(m.seq, m.text) for m in history] == [
            (1, "bob 1"),
            (2, "bob 2"),
            (3, "bob 3"),
            (4, "b0b 1"),
            (5, "b0b 2"),
        ]
        assert store.last_seq(key) == 5
    finally:
        store.close()
    again = open_store(path)  # rebuilt once: the next start changes nothing
    try:
        assert [m.seq for m in again.before(key, None, 10)] == [1, 2, 3, 4, 5]
    finally:
        again.close()


async def test_a_room_stored_under_an_old_key_keeps_its_history(
    make_server, connect, tmp_path
) -> None:
    path = tmp_path / "h.db"
    write_with_old_keys(path)
    server = await make_server(db=str(path), rate=1000.0, burst=1000)
    ana = await connect(server, "ana")
    await ana.send(type="rooms")
    rooms = [r["room"] for r in (await ana.expect("rooms"))["rooms"]]
    assert rooms.count("Team") == 1
    await ana.send(type="join", room="team")
    info = await ana.expect("room")
    assert (info["room"], info["topic"]) == ("Team", "plans")
    assert [m["text"] for m in info["history"]] == ["team 1", "team 2", "team 3"]
    assert (await ana.say("next", room="team"))["seq"] == 4


def test_accounts_move_to_their_new_keys_and_look_alikes_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = open_store(path)
    store.save_account(Account(name_key("Sam"), "Sam", "scrypt$1$8$1$c2FsdA==$aGFzaA=="))
    store.save_account(Account(name_key("Bob"), "Bob", "scrypt$1$8$1$c2FsdA==$Ym9i", admin=True))
    store.flush()
    store.close()
    tamper(
        path,
        "UPDATE accounts SET key = 'sam' WHERE name = 'Sam'",  # as older rules keyed it
        "INSERT INTO accounts VALUES ('b0b', 'B0B', 'scrypt$1$8$1$c2FsdA==$MGIw', 0, 0)",
        "DELETE FROM meta WHERE key = 'name_keys'",
    )
    store = open_store(path)
    try:
        sam = store.account(name_key("Sam"))
        assert sam is not None
        assert sam.name == "Sam"
        assert store.account("sam") is None
        bob = store.account(name_key("Bob"))  # B0B looks like Bob now: Bob stays
        assert bob is not None
        assert (bob.name, bob.admin) == ("Bob", True)
    finally:
        store.close()


async def test_a_corrupt_message_gets_an_error_and_leaves_nobody_half_joined(
    make_server, connect, tmp_path, caplog
) -> None:
    path = tmp_path / "h.db"
    write_database(path)
    tamper(path, "UPDATE messages SET text = x'00ff' WHERE seq = 2 AND conv = 'general'")
    server = await make_server(db=str(path))
    zed = await connect(server)
    await zed.send(type="hello", name="zed", proto=1)
    refused = await zed.recv()
    assert refused["type"] == "error"
    assert "cannot read its history" in refused["message"]
    assert server.hub.find("zed") is None
    assert "the store failed" in caplog.text
    # The connection is still open; a room without bad rows works.
    await zed.send(type="ping", t="still here")
    assert (await zed.recv())["type"] == "pong"
