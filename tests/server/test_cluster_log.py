"""A cluster's log entries decoded and applied to one instance's hub, with no
Redis: the fields are what the Lua scripts write (see cluster_scripts.py),
given here as a Redis reply would give them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from conexion_protocol import DirectMessage, Joined, Left, LeftReason, Message, Renamed, Welcome
from conexion_server.cluster_log import (
    Applied,
    Arrived,
    Departed,
    LogError,
    NameChanged,
    Replica,
    Sent,
    decode,
    receipt,
)
from conexion_server.hub import Delivery, Hub, Member

MS = "1800000000123"
TS = "2027-01-15T08:00:00.123Z"


@dataclass(eq=False)
class FakePeer:
    """A local connection as the replica sees it."""

    closing: bool = False
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


@dataclass
class Instance:
    hub: Hub
    replica: Replica
    sent: list[Delivery]

    def heard(self, peer: FakePeer) -> list[object]:
        """The frames `peer` received, in order."""
        return [d.out.frame for d in self.sent for m in d.to if m.peer is peer]


def instance() -> Instance:
    hub = Hub(clock=lambda: 0.0, wallclock=lambda: 1_800_000_000.0)
    sent: list[Delivery] = []
    return Instance(hub, Replica(hub, sent.extend), sent)


def join_here(inst: Instance, name: str, token: str) -> tuple[FakePeer, Applied]:
    peer = FakePeer()
    inst.replica.joining[token] = peer
    applied = inst.replica.apply(Arrived(name, token, TS))
    return peer, applied


# -- decoding --------------------------------------------------------------------


def test_a_room_message_entry_is_its_message_with_the_seq_of_its_id() -> None:
    fields = {"k": "m", "f": "ana", "r": "general", "x": "hola", "a": "0", "o": "i/1", "ms": MS}
    entry = decode("1800000000000017-0", fields)
    assert entry == Sent(
        Message(seq=1800000000000017, ts=TS, room="general", from_="ana", text="hola"), "i/1"
    )


def test_an_action_and_a_dm_entry() -> None:
    action = decode("5-0", {"k": "m", "f": "a", "r": "general", "x": "waves", "a": "1", "ms": MS})
    assert isinstance(action, Sent)
    assert isinstance(action.frame, Message)
    assert action.frame.action
    dm = decode("6-0", {"k": "d", "f": "ana", "t": "bob", "x": "psst", "o": "i/2", "ms": MS})
    assert dm == Sent(DirectMessage(seq=6, ts=TS, from_="ana", to="bob", text="psst"), "i/2")


def test_presence_entries() -> None:
    assert decode("6-1", {"k": "j", "n": "ana", "o": "i/1", "ms": MS}) == Arrived("ana", "i/1", TS)
    assert decode("6-2", {"k": "l", "n": "ana", "w": "timeout", "o": "i/1", "ms": MS}) == (
        Departed("ana", "i/1", LeftReason.TIMEOUT, TS)
    )
    assert decode("6-3", {"k": "r", "p": "ana", "n": "anita", "o": "i/1", "ms": MS}) == (
        NameChanged("ana", "anita", "i/1", TS)
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
        decode("7-0", fields)


def test_a_message_entry_id_must_carry_its_seq() -> None:
    with pytest.raises(LogError):
        decode("x-0", {"k": "m", "f": "a", "r": "general", "x": "t", "ms": MS})


def test_a_remembered_send_id_is_its_original_ack() -> None:
    ack = receipt("k3f9-1", f"42 {MS}")
    assert (ack.id, ack.seq, ack.ts) == ("k3f9-1", 42, TS)
    with pytest.raises(LogError):
        receipt("k3f9-1", "garbage")


# -- applying --------------------------------------------------------------------


def test_our_join_welcomes_its_peer_and_settles_the_request() -> None:
    inst = instance()
    peer, applied = join_here(inst, "ana", "i/1")
    assert applied == Applied(joined="i/1")
    [welcome] = peer.welcomes
    assert welcome.users == ["ana"]
    assert inst.hub.find("ana") is not None
    assert inst.hub.local["ana"].peer is peer


def test_a_join_elsewhere_is_a_member_without_a_peer_that_locals_hear_of() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    applied = inst.replica.apply(Arrived("bob", "j/9", TS))
    assert applied == Applied()
    bob = inst.hub.find("bob")
    assert bob is not None
    assert bob.peer is None
    assert [type(f) for f in inst.heard(ana)] == [Joined]


def test_a_join_whose_peer_went_away_meanwhile_must_be_left_again() -> None:
    inst = instance()
    peer = FakePeer(closing=True)
    inst.replica.joining["i/1"] = peer
    applied = inst.replica.apply(Arrived("ana", "i/1", TS))
    assert applied == Applied(joined="i/1", orphan=("ana", "i/1"))
    assert peer.welcomes == []
    member = inst.hub.find("ana")
    assert member is not None
    assert member.peer is None


def test_a_second_join_of_a_name_replaces_a_member_whose_leave_was_missed() -> None:
    inst = instance()
    inst.replica.apply(Arrived("ana", "j/1", TS))
    peer, _ = join_here(inst, "ana", "i/2")
    member = inst.hub.find("ana")
    assert member is not None
    assert member.token == "i/2"
    assert member.peer is peer
    assert inst.hub.names() == ["ana"]


def test_a_message_reaches_the_locals_but_not_its_own_sender() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    inst.sent.clear()
    message = Message(seq=10, ts=TS, room="general", from_="ana", text="hola")
    inst.replica.apply(Sent(message, "i/1"))
    assert inst.heard(bob) == [message]
    assert inst.heard(ana) == []
    assert inst.hub.history("general", None, 10).messages == [message]


def test_a_message_from_an_older_connection_of_the_same_name_is_not_skipped() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.sent.clear()
    message = Message(seq=10, ts=TS, room="general", from_="ana", text="from before")
    inst.replica.apply(Sent(message, "i/0"))
    assert inst.heard(ana) == [message]


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


def test_a_leave_removes_the_member_and_is_announced() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.replica.apply(Arrived("bob", "j/1", TS))
    inst.sent.clear()
    inst.replica.apply(Departed("bob", "j/1", LeftReason.QUIT, TS))
    [left] = inst.heard(ana)
    assert isinstance(left, Left)
    assert (left.name, left.reason, left.ts) == ("bob", "quit", TS)
    assert inst.hub.names() == ["ana"]


def test_a_leave_of_another_connection_of_the_name_changes_nothing() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.replica.apply(Departed("ana", "i/0", LeftReason.LOST, TS))
    assert inst.hub.names() == ["ana"]
    assert ana.closed == []


def test_a_leave_the_cluster_decided_for_a_local_member_closes_its_peer() -> None:
    inst = instance()
    ana, _ = join_here(inst, "ana", "i/1")
    inst.replica.apply(Departed("ana", "i/1", LeftReason.LOST, TS))
    assert ana.closed == [LeftReason.LOST]
    assert inst.hub.names() == []


def test_a_rename_is_applied_and_settles_our_request() -> None:
    inst = instance()
    _ana, _ = join_here(inst, "ana", "i/1")
    bob, _ = join_here(inst, "bob", "i/2")
    inst.sent.clear()
    assert inst.replica.apply(NameChanged("ana", "anita", "i/1", TS)) == Applied(renamed="i/1")
    [renamed] = inst.heard(bob)
    assert isinstance(renamed, Renamed)
    assert (renamed.old, renamed.new) == ("ana", "anita")
    assert inst.hub.names() == ["anita", "bob"]


def test_a_rename_by_a_stale_token_changes_nothing() -> None:
    inst = instance()
    join_here(inst, "ana", "i/1")
    assert inst.replica.apply(NameChanged("ana", "anita", "x/1", TS)) == Applied()
    assert inst.hub.names() == ["ana"]


def test_a_snapshot_loads_who_is_online_and_the_recent_history() -> None:
    inst = instance()
    old = Message(seq=3, ts=TS, room="general", from_="bob", text="earlier")
    inst.replica.load({"bob": "Bob", "cleo": "cleo"}, {"bob": "j/1"}, [old])
    assert inst.hub.names() == ["Bob", "cleo"]
    bob = inst.hub.find("bob")
    assert bob is not None
    assert bob.token == "j/1"
    peer, _ = join_here(inst, "ana", "i/1")
    assert peer.welcomes[0].history == [old]
