"""The sans-I/O hub with an injected clock: no sockets, no event loop.

Every test runs against both stores (in memory and SQLite) unless it is
marked `memory_only` because it is about the in-memory store's own bounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conexion_protocol import (
    DirectMessage,
    ErrorCode,
    Joined,
    Left,
    LeftReason,
    Message,
    ProtocolError,
    Renamed,
)
from conexion_server.hub import Delivery, Hub, HubConfig, Member
from conexion_server.sqlite_store import SqliteStore
from conexion_server.store import MemoryStore, Receipt, Store

memory_only = pytest.mark.memory_only

STORES = ("memory", "sqlite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        kinds = ["memory"] if metafunc.definition.get_closest_marker("memory_only") else STORES
        metafunc.parametrize("store_kind", kinds)


_open_stores: list[SqliteStore] = []
_store_setup: dict[str, object] = {}


@pytest.fixture(autouse=True)
def store_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Which store `make_hub` gives the hub; SQLite ones live in tmp_path."""
    kind = getattr(request, "param", "memory")
    _store_setup.update(kind=kind, dir=tmp_path, count=0)
    yield kind
    while _open_stores:
        _open_stores.pop().close()


def new_store(clock: Clock, wall: Clock, **options: object) -> Store | None:
    if _store_setup.get("kind") != "sqlite":
        return None  # the hub's own MemoryStore
    config = HubConfig(**options)  # type: ignore[arg-type]
    _store_setup["count"] = n = int(_store_setup["count"]) + 1  # type: ignore[call-overload]
    path = Path(_store_setup["dir"]) / f"hub{n}.db"  # type: ignore[arg-type]
    store = SqliteStore(path, config.id_ttl, config.max_ids, clock=clock, wallclock=wall)
    _open_stores.append(store)
    return store


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Peer:
    """Stands in for a connection: the hub only hands it back."""

    label: str


EPOCH = 1_795_521_600.0  # 2026-11-24T12:00:00Z


def make_hub(**options: object) -> tuple[Hub, Clock, Clock]:
    clock, wall = Clock(), Clock(EPOCH)
    options.setdefault("rate", 1000.0)
    options.setdefault("burst", 1000)
    options.setdefault("quiet_arrival", 0.0)
    store = new_store(clock, wall, **options)
    hub = Hub(HubConfig(**options), store, clock=clock, wallclock=wall)  # type: ignore[arg-type]
    return hub, clock, wall


def join(hub: Hub, name: str) -> Member:
    member, _, _ = hub.join(name, Peer(name))
    return member


def only(deliveries: list[Delivery]) -> Delivery:
    assert len(deliveries) == 1
    return deliveries[0]


def receivers(delivery: Delivery) -> set[str]:
    return {m.name for m in delivery.to}


def error_of(call, *args, **kwargs) -> ProtocolError:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError) as info:
        call(*args, **kwargs)
    return info.value


# -- membership ------------------------------------------------------------------


def test_join_welcomes_and_tells_the_others() -> None:
    hub, _, _ = make_hub(motd="be kind")
    join(hub, "bob")
    member, welcome, deliveries = hub.join("Ana", Peer("ana"))
    assert member.name == "Ana"
    assert welcome.users == ["Ana", "bob"]
    assert welcome.rooms == ["general"]
    assert welcome.motd == "be kind"
    delivery = only(deliveries)
    assert isinstance(delivery.out.frame, Joined)
    assert delivery.out.frame.name == "Ana"
    assert delivery.out.frame.ts == "2026-11-24T12:00:00.000Z"
    assert receivers(delivery) == {"bob"}


def test_names_are_unique_by_casefold_and_nfc() -> None:
    hub, _, _ = make_hub()
    join(hub, "José")
    for clash in ("josé", "JOSE\u0301", "Jose\u0301"):
        assert error_of(hub.join, clash, Peer("x")).code is ErrorCode.NAME_TAKEN
    assert hub.find("JOSÉ") is not None


def test_server_full_then_room_after_a_leave() -> None:
    hub, _, _ = make_hub(max_clients=2)
    ana = join(hub, "ana")
    join(hub, "bob")
    assert error_of(hub.join, "cleo", Peer("cleo")).code is ErrorCode.SERVER_FULL
    hub.remove(ana, LeftReason.QUIT)
    assert join(hub, "cleo").name == "cleo"


def test_leave_is_idempotent() -> None:
    hub, _, _ = make_hub()
    ana = join(hub, "ana")
    join(hub, "bob")
    first = only(hub.remove(ana, LeftReason.LOST))
    assert isinstance(first.out.frame, Left)
    assert first.out.frame.reason == "lost"
    assert receivers(first) == {"bob"}
    assert hub.remove(ana, LeftReason.QUIT) == []
    assert hub.names() == ["bob"]


def test_a_stale_member_cannot_remove_its_successor() -> None:
    hub, _, _ = make_hub()
    old = join(hub, "ana")
    hub.remove(old, LeftReason.LOST)
    new = join(hub, "ana")
    assert hub.remove(old, LeftReason.LOST) == []
    assert hub.find("ana") is new


def test_rename_announces_to_everyone_and_frees_the_old_name() -> None:
    hub, _, _ = make_hub()
    ana = join(hub, "ana")
    join(hub, "bob")
    delivery = only(hub.rename(ana, "anita"))
    assert isinstance(delivery.out.frame, Renamed)
    assert (delivery.out.frame.old, delivery.out.frame.new) == ("ana", "anita")
    assert receivers(delivery) == {"anita", "bob"}
    assert hub.find("ana") is None
    assert hub.find("anita") is ana
    assert error_of(hub.rename, ana, "BOB").code is ErrorCode.NAME_TAKEN
    assert error_of(hub.rename, ana, "an ita").code is ErrorCode.BAD_NAME


def test_case_only_rename_is_allowed_and_same_name_only_confirms() -> None:
    hub, _, _ = make_hub()
    ana = join(hub, "ana")
    join(hub, "bob")
    assert receivers(only(hub.rename(ana, "Ana"))) == {"Ana", "bob"}
    assert ana.name == "Ana"
    assert receivers(only(hub.rename(ana, "Ana"))) == {"Ana"}


def test_who_and_unknown_rooms() -> None:
    hub, _, _ = make_hub()
    join(hub, "bob")
    join(hub, "Ana")
    assert hub.who().users == ["Ana", "bob"]
    assert hub.who("GENERAL").room == "general"
    assert error_of(hub.who, "random").code is ErrorCode.NO_SUCH_ROOM


# -- messages ---------------------------------------------------------------------


def test_say_acks_the_sender_and_relays_to_the_others() -> None:
    hub, _, wall = make_hub()
    ana, _, _ = join(hub, "ana"), join(hub, "bob"), join(hub, "cleo")
    wall.now = EPOCH + 0.25
    ack, deliveries = hub.say(ana, "hola\x1b[1m", id="k1")
    assert (ack.id, ack.ts) == ("k1", "2026-11-24T12:00:00.250Z")
    delivery = only(deliveries)
    message = delivery.out.frame
    assert isinstance(message, Message)
    assert (message.seq, message.from_, message.text, message.room) == (
        ack.seq,
        "ana",
        "hola[1m",
        "general",
    )
    assert receivers(delivery) == {"bob", "cleo"}


def test_seq_strictly_increases_within_each_conversation() -> None:
    hub, _, _ = make_hub()
    ana, bob = join(hub, "ana"), join(hub, "bob")
    room: list[int] = []
    dms: list[int] = []
    for i in range(30):
        if i % 3:
            room.append(hub.say(ana if i % 2 else bob, f"m{i}", id=f"s{i}")[0].seq)
        else:
            sender, to = (ana, "bob") if i % 2 else (bob, "ana")
            dms.append(hub.dm(sender, to, f"d{i}", id=f"d{i}")[0].seq)
    assert room == sorted(set(room))
    assert dms == sorted(set(dms))  # ana to bob and bob to ana: one conversation
    assert (len(room), len(dms)) == (20, 10)


@memory_only
def test_seq_continues_from_the_store() -> None:
    store = MemoryStore(10, 600, 100)
    store.append("general", Message(seq=41, ts="t", room="general", from_="x", text="old"))
    hub = Hub(HubConfig(), store=store)
    ana = join(hub, "ana")
    assert hub.say(ana, "new")[0].seq == 42


def test_a_new_conversation_starts_numbering_at_the_clock() -> None:
    hub, _, wall = make_hub()
    ana, _ = join(hub, "ana"), join(hub, "bob")
    wall.now = EPOCH + 2.0
    assert hub.dm(ana, "bob", "first", id="d1")[0].seq == int((EPOCH + 2.0) * 1_000_000) + 1


def test_repeated_id_is_acked_again_and_not_relayed_or_stored() -> None:
    hub, clock, wall = make_hub()
    ana, bob = join(hub, "ana"), join(hub, "bob")
    ack, deliveries = hub.say(ana, "once", id="k1")
    assert receivers(only(deliveries)) == {"bob"}
    clock.now += 5
    wall.now += 5
    again, relayed = hub.say(ana, "once", id="k1")
    assert again == ack
    assert relayed == []
    assert [m.text for m in hub.history("general", None, 50, ana).messages] == ["once"]
    # Another sender may use the same id.
    other, relayed = hub.say(bob, "mine", id="k1")
    assert other.seq != ack.seq
    assert receivers(only(relayed)) == {"ana"}


def test_ids_survive_a_reconnect_under_the_same_name() -> None:
    hub, _, _ = make_hub()
    ana = join(hub, "ana")
    ack, _ = hub.say(ana, "hello", id="k1")
    hub.remove(ana, LeftReason.LOST)
    back = join(hub, "ANA")
    again, relayed = hub.say(back, "hello", id="k1")
    assert (again.seq, again.ts, relayed) == (ack.seq, ack.ts, [])


def test_idempotency_window_expires_after_id_ttl() -> None:
    hub, clock, _ = make_hub(id_ttl=60.0)
    ana = join(hub, "ana")
    join(hub, "bob")
    ack, _ = hub.say(ana, "x", id="k1")
    clock.now += 59.9
    assert hub.say(ana, "x", id="k1") == (ack, [])
    clock.now += 0.2
    fresh, deliveries = hub.say(ana, "x", id="k1")
    assert fresh.seq > ack.seq
    assert len(only(deliveries).to) == 1


def test_dm_repeat_is_acked_again() -> None:
    hub, _, _ = make_hub()
    ana, _ = join(hub, "ana"), join(hub, "bob")
    ack, deliveries = hub.dm(ana, "BOB", "psst", id="d1")
    frame = only(deliveries).out.frame
    assert isinstance(frame, DirectMessage)
    assert (frame.to, frame.from_, frame.seq) == ("bob", "ana", ack.seq)
    assert receivers(only(deliveries)) == {"bob"}
    assert hub.dm(ana, "bob", "psst", id="d1") == (ack, [])


def test_dm_errors_carry_the_id() -> None:
    hub, _, _ = make_hub()
    ana = join(hub, "ana")
    err = error_of(hub.dm, ana, "ghost", "hi", id="d9")
    assert (err.code, err.id) == (ErrorCode.NO_SUCH_USER, "d9")
    join(hub, "bob")
    err = error_of(hub.dm, ana, "bob", "\x07", id="d10")
    assert (err.code, err.id) == (ErrorCode.BAD_TEXT, "d10")


def test_dms_are_in_the_history_of_their_two_participants_only() -> None:
    hub, _, wall = make_hub()
    ana, bob, carol = join(hub, "ana"), join(hub, "bob"), join(hub, "carol")
    hub.dm(ana, "bob", "secret", id="d1")
    wall.now += 1
    hub.say(ana, "public", id="s1")
    wall.now += 1
    hub.dm(carol, "ana", "other", id="d2")

    def room(member: Member) -> list[str]:
        return [m.text for m in hub.history("general", None, 50, member).messages]

    def dms(member: Member, other: str) -> list[str]:
        return [m.text for m in hub.dm_history(other, None, 50, member).messages]

    assert room(ana) == room(bob) == room(carol) == ["public"]
    assert dms(ana, "bob") == dms(bob, "ANA") == ["secret"]
    assert dms(carol, "ana") == ["other"]
    assert dms(carol, "bob") == []
    assert hub.dm_history("Bob", None, 50, ana).with_ == "bob"  # as the server spells it
    dm = hub.dm_history("ana", None, 50, bob).messages[0]
    assert isinstance(dm, DirectMessage)
    assert (dm.from_, dm.to) == ("ana", "bob")
    # The welcome holds one's own latest DMs with the room's messages, by time;
    # someone who takes a participant's name sees them too.
    hub.remove(bob, LeftReason.QUIT)
    _, welcome, _ = hub.join("BOB", Peer("BOB"))
    assert [m.text for m in welcome.history] == ["secret", "public"]


def test_max_ids_caps_remembered_ids_oldest_first() -> None:
    hub, _, _ = make_hub(max_ids=3)
    ana, _ = join(hub, "ana"), join(hub, "bob")
    acks = [hub.say(ana, f"m{i}", id=f"k{i}")[0] for i in range(5)]
    # k0 and k1 were forgotten to keep at most 3: a resend is a new message.
    new, relayed = hub.say(ana, "m0", id="k0")
    assert new.seq > acks[-1].seq
    assert relayed
    # k3 and k4 are still known.
    assert hub.say(ana, "m4", id="k4") == (acks[4], [])


@memory_only
def test_store_forgets_expired_ids() -> None:
    """Expired ids must not stay in memory until `max_ids` pushes them out,
    even when an expired id is sent again (and remembered again)."""
    store = MemoryStore(10, id_ttl=10.0, max_ids=1000)
    store.remember(("ana", "a"), Receipt(1, "t"), now=0.0)
    store.remember(("ana", "b"), Receipt(2, "t"), now=1.0)
    # At 20 both have expired; "a" is sent again and remembered afresh.
    assert store.recall(("ana", "a"), now=20.0) is None
    store.remember(("ana", "a"), Receipt(3, "t"), now=20.0)
    store.remember(("ana", "c"), Receipt(4, "t"), now=20.0)
    assert store.recall(("ana", "a"), now=20.0) == Receipt(3, "t")
    assert store.recall(("ana", "b"), now=20.0) is None
    assert store.remembered == 2


# -- rate limit -------------------------------------------------------------------


def test_token_bucket_burst_then_refill() -> None:
    hub, clock, _ = make_hub(rate=2.0, burst=3)
    ana, _ = join(hub, "ana"), join(hub, "bob")
    for i in range(3):
        hub.say(ana, "x", id=f"b{i}")
    err = error_of(hub.say, ana, "x", id="over")
    assert (err.code, err.id) == (ErrorCode.RATE_LIMITED, "over")
    clock.now += 0.5  # one token back at 2 a second
    hub.say(ana, "x", id="later")
    assert error_of(hub.say, ana, "x", id="later2").code is ErrorCode.RATE_LIMITED
    clock.now += 100  # refills to the burst, not beyond it
    for i in range(3):
        hub.say(ana, "x", id=f"c{i}")
    assert error_of(hub.say, ana, "x", id="c3").code is ErrorCode.RATE_LIMITED


def test_dm_and_say_share_the_bucket_and_repeats_are_free() -> None:
    hub, _, _ = make_hub(rate=0.001, burst=2)
    ana, _ = join(hub, "ana"), join(hub, "bob")
    ack, _ = hub.say(ana, "x", id="s1")
    hub.dm(ana, "bob", "y", id="d1")
    for _ in range(10):
        assert hub.say(ana, "x", id="s1") == (ack, [])
    assert error_of(hub.dm, ana, "bob", "z", id="d2").code is ErrorCode.RATE_LIMITED


def test_a_refused_send_is_not_remembered() -> None:
    hub, clock, _ = make_hub(rate=1.0, burst=1)
    ana, _ = join(hub, "ana"), join(hub, "bob")
    hub.say(ana, "x", id="s1")
    assert error_of(hub.say, ana, "y", id="s2").code is ErrorCode.RATE_LIMITED
    clock.now += 1
    _, relayed = hub.say(ana, "y", id="s2")
    assert relayed


# -- history ----------------------------------------------------------------------


@memory_only
def test_history_is_oldest_first_and_bounded() -> None:
    hub, _, _ = make_hub(history_size=5, welcome_history=3)
    ana = join(hub, "ana")
    acks = [hub.say(ana, f"m{i}", id=f"k{i}")[0] for i in range(8)]
    _, welcome, _ = hub.join("bob", Peer("bob"))
    assert [m.text for m in welcome.history] == ["m5", "m6", "m7"]
    assert [m.text for m in hub.history("general", None, 200, ana).messages] == [
        "m3",
        "m4",
        "m5",
        "m6",
        "m7",
    ]
    before = hub.history("general", acks[6].seq, 2, ana).messages
    assert [m.text for m in before] == ["m4", "m5"]
    assert error_of(hub.history, "elsewhere", None, 5, ana).code is ErrorCode.NO_SUCH_ROOM


@memory_only
def test_no_history_kept_when_history_size_is_zero() -> None:
    hub, _, _ = make_hub(history_size=0)
    ana = join(hub, "ana")
    first = hub.say(ana, "x", id="a")[0].seq
    assert hub.history("general", None, 50, ana).messages == []
    assert hub.say(ana, "y", id="b")[0].seq == first + 1


def test_outbound_encodes_once_per_format() -> None:
    hub, _, _ = make_hub()
    ana, _ = join(hub, "ana"), join(hub, "bob")
    _, deliveries = hub.say(ana, "two\nlines", id="k")
    out = only(deliveries).out
    assert out.json.count(b"\n") == 1
    assert out.text.endswith(b"ana: two\n    lines\n")
    assert out.text is out.text


def test_names_stay_in_case_insensitive_order_through_joins_renames_and_leaves() -> None:
    hub, _, _ = make_hub()
    members = {name: join(hub, name) for name in ["carol", "Bob", "ana", "Émile", "dave"]}
    assert hub.names() == ["ana", "Bob", "carol", "dave", "Émile"]
    hub.rename(members["dave"], "Aaron")
    hub.remove(members["carol"], LeftReason.QUIT)
    hub.rename(members["ana"], "ANA")  # a case-only rename keeps its place
    assert hub.names() == ["Aaron", "ANA", "Bob", "Émile"]
    assert hub.who().users == hub.names()
    _, welcome, _ = hub.join("zoe", Peer("zoe"))
    # Casefolded code-point order: é (U+00E9) sorts after z.
    assert welcome.users == ["Aaron", "ANA", "Bob", "zoe", "Émile"]


@memory_only
def test_a_restarted_hub_never_reuses_a_seq() -> None:
    wall = Clock(EPOCH)
    fast = HubConfig(rate=1e6, burst=10**6)
    first = Hub(fast, clock=Clock(), wallclock=wall)
    ana = join(first, "ana")
    last = max(first.say(ana, f"m{i}")[0].seq for i in range(1000))
    wall.now += 0.5  # a restart half a second later, after a thousand messages
    second = Hub(fast, clock=Clock(), wallclock=wall)
    assert second.say(join(second, "ana"), "again")[0].seq > last
