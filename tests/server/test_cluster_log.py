"""A cluster's logs decoded and applied to one instance's hub, with no Redis:
the fields are what the Lua scripts write (see cluster_scripts.py), given
here as a Redis reply would give them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from conexion_protocol import (
    DirectMessage,
    Joined,
    Left,
    LeftReason,
    Message,
    Renamed,
    RoomInfo,
    TopicInfo,
    Welcome,
)
from conexion_server.cluster_log import (
    Applied,
    Entered,
    LogError,
    NameChanged,
    Offline,
    Online,
    Parted,
    Replica,
    RoomCreated,
    Sent,
    TopicSet,
    decode_dm,
    decode_global,
    decode_room,
    receipt,
)
from conexion_server.hub import Delivery, Hub, HubConfig, Member

MS = "1800000000123"
TS = "2027-01-15T08:00:00.123Z"


@dataclass(eq=False)
class FakePeer:
    """A local connection as the replica sees it."""

    closing: bool = False
    address: str = "127.0.0.1"
    welcomes: list[Welcome] = field(default_factory=list)
    closed: list[LeftReason] = field(default_factory=list)
    answering: bool = False  # its request's answer is still on the way
    later: list[Callable[[], None]] = field(default_factory=list)

    def welcomed(self, member: Member, welcome: Welcome) -> None:
        self.welcomes.append(welcome)

    def after_answer(self, action: Callable[[], None]) -> None:
        if self.answering:
            self.later.append(action)
        else:
            action()

    def close(self, reason: LeftReason, final: bytes = b"") -> None:
        self.closed.append(reason)

    def login_failed(self) -> float:
        return 0.0

    def login_succeeded(self) -> None:
        pass

    def hold_back(self, delay: float) -> None:
        pass


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Instance:
    hub: Hub
    replica: Replica
    sent: list[Delivery]
    clock: Clock

    def heard(self, peer: FakePeer) -> list[object]:
        """The frames `peer` received, in order."""
        return [d.out.frame for d in self.sent for m in d.to if m.peer is peer]


def instance() -> Instance:
    hub = Hub(HubConfig(quiet_arrival=0.0), clock=lambda: 0.0, wallclock=lambda: 1_800_000_000.0)
    sent: list[Delivery] = []
    clock = Clock()
    return Instance(hub, Replica(hub, sent.extend, clock=clock), sent, clock)


def join_here(inst: Instance, name: str, token: str) -> tuple[FakePeer, Applied]:
    peer = FakePeer()
    inst.replica.joining[token] = peer
    applied = inst.replica.apply(Online(name, token, TS))
    return peer, applied


def enter(inst: Instance, room: str, name: str, token: str) -> Applied:
    inst.replica.apply(RoomCreated(room))
    return inst.replica.apply(Entered(room.casefold(), name, token, TS))


# -- decoding --------------------------------------------------------------------


def test_a_room_message_entry_is_its_message_with_the_seq_of_its_id() -> None:
    fields = {"k": "m", "f": "ana", "r": "Lab", "x": "hola", "a": "0", "o": "i/1", "ms": MS}
    entry = decode_room("lab", "1800000000000017-0", fields)
    assert entry == Sent(
        Message(seq=1800000000000017, ts=TS, room="Lab", from_="ana", text="hola"), "i/1"
    )


def test_room_presence_and_topic_entries() -> None:
    assert decode_room("lab", "5-1", {"k": "j", "n": "ana", "o": "i/1", "ms": MS}) == Entered(
        "lab", "ana", "i/1", TS
    )
    left = {"k": "l", "n": "ana", "w": "part", "o": "i/1", "ms": MS}
    assert decode_room("lab", "5-2", left) == Parted("lab", "ana", "i/1", LeftReason.PART, TS)
    topic = {"k": "t", "x": "kits", "n": "ana", "o": "i/1", "ms": MS}
    assert decode_room("lab", "5-3", topic) == TopicSet("lab", "kits", "ana", "i/1", TS)


def test_global_entries() -> None:
    assert decode_global("1-0", {"k": "j", "n": "ana", "o": "i/1", "ms": MS}) == Online(
        "ana", "i/1", TS
    )
    gone = {"k": "l", "n": "ana", "w": "timeout", "o": "i/1", "ms": MS}
    assert decode_global("1-1", gone) == Offline("ana", "i/1", LeftReason.TIMEOUT, TS)
    renamed = {"k": "r", "p": "ana", "n": "anita", "o": "i/1", "ms": MS}
    assert decode_global("1-2", renamed) == NameChanged("ana", "anita", "i/1", TS)
    assert decode_global("1-3", {"k": "c", "n": "Lab", "ms": MS}) == RoomCreated("Lab")
    dm = {"k": "d", "s": "41", "c": "dm:ana:bob", "f": "ana", "t": "bob", "x": "psst", "o": "i/1"}
    assert decode_global("1-4", {**dm, "ms": MS}) == Sent(
        DirectMessage(seq=41, ts=TS, from_="ana", to="bob", text="psst"), "i/1"
    )


def test_a_dm_history_entry() -> None:
    fields = {"k": "d", "f": "ana", "t": "bob", "x": "psst", "o": "i/1", "ms": MS}
    assert decode_dm("41-0", fields) == DirectMessage(
        seq=41, ts=TS, from_="ana", to="bob", text="psst"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"k": "m", "ms": MS},  # no sender, room or text
        {"k": "l", "n": "ana", "w": "bored", "ms": MS},  # no such reason
        {"k": "j", "n": "ana", "ms": "soon"},  # not a time
        {"k": "z", "ms": MS},  # no such kind
    ],
)
def test_an_entry_no_script_writes_is_a_log_error(fields: dict[str, str]) -> None:
    with pytest.raises(LogError):
        decode_room("general", "7-0", fields)
    with pytest.raises(LogError):
        decode_global("7-0", fields)


def test_a_message_entry_id_must_carry_its_seq() -> None:
    with pytest.raises(LogError):
        decode_room("general", "x-0", {"k": "m", "f": "a", "r": "general", "x": "t", "ms": MS})


def test_a_remembered_send_id_is_its_original_ack() -> None:
    ack = receipt("k3f9-1", f"42 {MS}")
    assert (ack.id, ack.seq, ack.ts) == ("k3f9-1", 42, TS)
    with pytest.raises(LogError):
        receipt("k3f9-1", "garbage")


# -- applying the global log ----------------------------------------------------------


def test_our_join_welcomes_its_peer_and_settles_the_request() -> None:
    inst = instance()
    peer, applied = join_here(inst, "ana", "i/1")
    assert applied == Applied(joined="i/1")
    [welcome] = peer.welcomes
    assert (welcome.users, welcome.rooms) == (["ana"], ["general"])
    member = inst.hub.find("ana")
    assert member is not None
    assert member.peer is peer
    assert "general" in member.rooms


def test_a_join_elsewhere_is_a_member_without_a_peer_that_locals_hear_of() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    assert inst.replica.apply(Online("bob", "j/9", TS)) == Applied()
    bob = inst.hub.find("bob")
    assert bob is not None
    assert bob.peer is None
    assert [type(f) for f in inst.heard(ana)] == [Joined]


def test_a_join_whose_peer_went_away_meanwhile_must_be_left_again() -> None:
    inst = instance()
    peer = FakePeer(closing=True)
    inst.replica.joining["i/1"] = peer
    applied = inst.replica.apply(Online("ana", "i/1", TS))
    assert applied == Applied(joined="i/1", orphan=("ana", "i/1"))
    assert peer.welcomes == []


def test_a_second_join_of_a_name_replaces_a_member_whose_leave_was_missed() -> None:
    inst = instance()
    inst.replica.apply(Online("ana", "j/1", TS))
    peer, _ = join_here(inst, "ana", "i/2")
    member = inst.hub.find("ana")
    assert member is not None
    assert (member.token, member.peer) == ("i/2", peer)
    assert inst.hub.names() == ["ana"]


def test_going_offline_leaves_every_room_and_each_hears_it() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.replica.apply(Online("bob", "j/1", TS))
    enter(inst, "Lab", "ana", "i/1")
    enter(inst, "Lab", "bob", "j/1")
    inst.sent.clear()
    inst.replica.apply(Offline("bob", "j/1", LeftReason.QUIT, TS))
    lefts = [f for f in inst.heard(ana) if isinstance(f, Left)]
    assert sorted((f.room, f.reason) for f in lefts) == [("Lab", "quit"), ("general", "quit")]
    assert inst.hub.names() == ["ana"]
    assert inst.hub.rooms["lab"].names() == ["ana"]


def test_an_offline_of_another_connection_of_the_name_changes_nothing() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.replica.apply(Offline("ana", "i/0", LeftReason.LOST, TS))
    assert inst.hub.names() == ["ana"]
    assert ana.closed == []


def test_an_offline_the_cluster_decided_for_a_local_member_closes_its_peer() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.replica.apply(Offline("ana", "i/1", LeftReason.LOST, TS))
    assert ana.closed == [LeftReason.LOST]
    assert inst.hub.names() == []


def test_a_rename_is_applied_in_every_room_and_settles_our_request() -> None:
    inst = instance()
    _ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    enter(inst, "Lab", "ana", "i/1")
    inst.sent.clear()
    assert inst.replica.apply(NameChanged("ana", "anita", "i/1", TS)) == Applied(renamed="i/1")
    [renamed] = inst.heard(bob)
    assert isinstance(renamed, Renamed)
    assert (renamed.old, renamed.new) == ("ana", "anita")
    assert inst.hub.names() == ["anita", "bob"]
    assert inst.hub.rooms["lab"].names() == ["anita"]


def test_a_rename_by_a_stale_token_changes_nothing() -> None:
    inst = instance()
    join_here(inst, "ana", "i/1")
    assert inst.replica.apply(NameChanged("ana", "anita", "x/1", TS)) == Applied()
    assert inst.hub.names() == ["ana"]


def test_a_room_new_to_the_replica_is_created_once_and_followed() -> None:
    inst = instance()
    assert inst.replica.apply(RoomCreated("Lab-3")) == Applied(created="lab-3")
    assert inst.hub.rooms["lab-3"].name == "Lab-3"
    assert inst.replica.apply(RoomCreated("LAB-3")) == Applied()


# -- applying a room's log --------------------------------------------------------------


def test_entering_a_room_answers_our_peer_and_tells_the_room() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    enter(inst, "Lab", "ana", "i/1")
    inst.sent.clear()
    applied = inst.replica.apply(Entered("lab", "bob", "i/2", TS))
    assert applied.settled == ("i/2", "lab")
    assert isinstance(applied.info, RoomInfo)
    assert applied.info.users == ["ana", "bob"]
    [joined] = inst.heard(ana)
    assert isinstance(joined, Joined)
    assert (joined.name, joined.room) == ("bob", "Lab")
    assert inst.heard(bob) == []


def test_an_entry_of_someone_already_gone_is_ignored() -> None:
    inst = instance()
    inst.replica.apply(RoomCreated("Lab"))
    assert inst.replica.apply(Entered("lab", "ghost", "x/1", TS)) == Applied()
    assert inst.hub.rooms["lab"].names() == []


def test_a_part_tells_the_room_and_the_one_who_left() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    enter(inst, "Lab", "ana", "i/1")
    enter(inst, "Lab", "bob", "i/2")
    inst.sent.clear()
    applied = inst.replica.apply(Parted("lab", "bob", "i/2", LeftReason.PART, TS))
    assert applied.settled == ("i/2", "lab")
    for peer in (ana, bob):
        [left] = inst.heard(peer)
        assert isinstance(left, Left)
        assert (left.name, left.reason, left.room) == ("bob", "part", "Lab")
    assert inst.hub.rooms["lab"].names() == ["ana"]


def test_a_topic_is_set_and_everyone_in_the_room_hears_it() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    enter(inst, "Lab", "ana", "i/1")
    inst.sent.clear()
    applied = inst.replica.apply(TopicSet("lab", "kits on Friday", "ana", "i/1", TS))
    assert applied.settled == ("i/1", "lab")
    [topic] = inst.heard(ana)
    assert isinstance(topic, TopicInfo)
    assert (topic.topic, topic.by, topic.room) == ("kits on Friday", "ana", "Lab")


def test_a_message_reaches_the_room_but_not_its_own_sender() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    cleo, _ = join_here(inst, "cleo", "i/3")
    enter(inst, "Lab", "ana", "i/1")
    enter(inst, "Lab", "bob", "i/2")
    inst.sent.clear()
    message = Message(seq=10, ts=TS, room="Lab", from_="ana", text="hola")
    inst.replica.apply(Sent(message, "i/1"))
    assert inst.heard(bob) == [message]
    assert inst.heard(ana) == []
    assert inst.heard(cleo) == []  # not in the room
    assert inst.hub.store.before("lab", None, 10) == [message]


def test_a_dm_to_oneself_waits_for_the_senders_answer() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.sent.clear()
    ana.answering = True
    note = DirectMessage(seq=11, ts=TS, from_="ana", to="ana", text="remember")
    inst.replica.apply(Sent(note, "i/1"))
    assert inst.heard(ana) == []
    ana.later.pop()()
    assert inst.heard(ana) == [note]


def test_a_dm_reaches_only_its_local_recipient() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    inst.sent.clear()
    dm = DirectMessage(seq=12, ts=TS, from_="carol", to="bob", text="psst")
    inst.replica.apply(Sent(dm, "j/1"))
    assert inst.heard(bob) == [dm]
    assert inst.heard(ana) == []


# -- starting from snapshots ------------------------------------------------------------


def test_snapshots_load_who_is_online_the_rooms_and_their_history() -> None:
    inst = instance()
    inst.replica.load_global({"bob": "Bob", "cleo": "cleo"}, {"bob": "j/1", "cleo": "j/2"})
    old = Message(seq=3, ts=TS, room="Lab", from_="Bob", text="earlier")
    meta = {"name": "Lab", "topic": "kits", "topic_by": "Bob", "topic_ts": MS}
    inst.replica.load_room("Lab", meta, ["j/1", "z/9"], [old])
    assert inst.hub.names() == ["Bob", "cleo"]
    lab = inst.hub.rooms["lab"]
    assert lab.names() == ["Bob"]
    assert (lab.topic, lab.topic_by, lab.topic_ts) == ("kits", "Bob", TS)
    assert inst.hub.store.before("lab", None, 5) == [old]


def test_a_member_the_global_snapshot_missed_comes_into_its_rooms_with_its_arrival() -> None:
    inst = instance()
    inst.replica.load_global({}, {})
    inst.replica.load_room("Lab", {"name": "Lab"}, ["j/7"], [])
    assert inst.hub.rooms["lab"].names() == []
    inst.replica.apply(Online("dora", "j/7", TS))
    assert inst.hub.rooms["lab"].names() == ["dora"]


def test_memberships_of_tokens_that_never_come_online_are_forgotten() -> None:
    inst = instance()
    inst.replica.load_room("Lab", {"name": "Lab"}, ["stale/1"], [])
    inst.clock.now = 30.0
    inst.replica.forget_stale(older_than=10.0)
    inst.replica.apply(Online("late", "stale/1", TS))
    assert inst.hub.rooms["lab"].names() == []
