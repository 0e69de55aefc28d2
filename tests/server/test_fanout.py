"""The batched fan-out: a turn's broadcasts joined once per audience and
sliced per listener (fanout.py), and, on real sockets, that each peer still
gets its own frames and everyone else's messages in order."""

from __future__ import annotations

import json

import pytest

from conexion_protocol import Message
from conexion_server.fanout import (
    AWAY,
    JSON,
    TEXT,
    AudienceStream,
    Reading,
    TurnFanout,
    interleave,
)
from conexion_server.hub import Audience, Outbound, Room


def message(seq: int, text: str, room: str = "general") -> Outbound:
    ts = "2026-11-29T12:00:00.000Z"
    return Outbound(Message(seq=seq, ts=ts, room=room, from_="x", text=text))


def stream_of(*texts: str) -> AudienceStream:
    fanout = TurnFanout()
    audience = Audience()
    for mark, text in enumerate(texts, start=1):
        fanout.append(audience, message(mark, text), mark)
    return fanout.streams[audience]


def texts(pieces: list[memoryview] | list[bytes | memoryview]) -> list[str]:
    return [json.loads(line)["text"] for line in b"".join(pieces).splitlines()]


@pytest.mark.parametrize(
    ("start", "end", "skip", "expected", "slices"),
    [
        (0, 4, [], ["a", "b", "c", "d"], 1),
        (0, 4, [1], ["a", "c", "d"], 2),
        (0, 4, [0, 3], ["b", "c"], 1),
        (0, 4, [0, 1, 2, 3], [], 0),
        (1, 3, [0, 3], ["b", "c"], 1),  # skips outside the range change nothing
        (2, 2, [], [], 0),
        (0, 4, [1, 2], ["a", "d"], 2),
    ],
)
def test_slices_leave_out_the_skipped(start, end, skip, expected, slices) -> None:
    stream = stream_of("a", "b", "c", "d")
    pieces = stream.slices(start, end, skip, JSON)
    assert texts(pieces) == expected
    assert len(pieces) == slices


def test_text_slices_are_the_plain_text_rendering() -> None:
    stream = stream_of("hola", "two\nlines")
    lines = b"".join(stream.slices(0, 2, [], TEXT)).decode().splitlines()
    assert [line.partition("] ")[2] for line in lines[:2]] == ["x: hola", "x: two"]
    assert lines[2].strip() == "lines"  # the continuation, indented
    assert len(lines) == 3


def test_away_slices_name_the_room() -> None:
    fanout, audience = TurnFanout(), Audience()
    fanout.append(audience, message(1, "hola", room="Lab"), 1)
    line = b"".join(fanout.streams[audience].slices(0, 1, [], AWAY)).decode()
    assert line.partition("] ")[2] == "#Lab x: hola\n"


def test_the_joined_bytes_follow_appends_made_after_a_slice() -> None:
    fanout, audience = TurnFanout(), Audience()
    fanout.append(audience, message(1, "a"), 1)
    stream = fanout.streams[audience]
    assert texts(stream.slices(0, 1, [], JSON)) == ["a"]
    fanout.append(audience, message(2, "b"), 2)
    assert texts(stream.slices(0, 2, [], JSON)) == ["a", "b"]


def test_first_after_finds_where_a_member_starts() -> None:
    fanout, audience = TurnFanout(), Audience()
    assert AudienceStream().first_after(5) == 0
    for mark in (3, 4, 7):
        fanout.append(audience, message(mark, "t"), mark)
    stream = fanout.streams[audience]
    assert [stream.first_after(m) for m in (0, 2, 3, 4, 5, 7, 9)] == [0, 0, 1, 2, 2, 3, 3]
    fanout.clear()
    assert (bool(fanout), fanout.count) == (False, 0)


def test_streams_of_several_audiences_are_merged_in_the_order_made() -> None:
    """A member of two busy rooms, with acks of its own in between: every
    item once, in the order the turn made it, in as few pieces as that
    allows."""
    fanout = TurnFanout()
    lab, general = Room("lab", "lab"), Room("general", "general")
    own: list[bytes] = []
    own_at: list[int] = []

    def say(room: Room, text: str) -> None:
        fanout.append(room.everyone, message(fanout.count + 1, text, room.name), fanout.count + 1)

    def ack(text: str) -> None:
        own.append(json.dumps({"text": text}).encode() + b"\n")
        own_at.append(fanout.count)

    say(general, "g1")
    say(general, "g2")
    say(lab, "l1")
    ack("ack1")
    say(lab, "l2")
    say(general, "g3")
    say(general, "g4")
    ack("ack2")
    readings = [
        Reading(fanout.streams[a.everyone], 0, len(fanout.streams[a.everyone]), [], JSON)
        for a in (lab, general)
    ]
    pieces = interleave(readings, own, own_at)
    assert texts(pieces) == ["g1", "g2", "l1", "ack1", "l2", "g3", "g4", "ack2"]
    # g1-g2 | l1 | ack1 | l2 | g3-g4 | ack2: consecutive items of one room are one slice.
    assert len(pieces) == 6


def test_one_stream_with_own_frames_cut_where_they_were_queued() -> None:
    fanout, audience = TurnFanout(), Audience()
    for n in range(3):
        fanout.append(audience, message(n, f"m{n}"), n + 1)
    stream = fanout.streams[audience]
    pieces = interleave([Reading(stream, 0, 3, [1], JSON)], [b'{"text":"mine"}\n'], [2])
    assert texts(pieces) == ["m0", "mine", "m2"]


async def test_own_frames_and_broadcasts_of_one_turn_keep_their_order(server, peers) -> None:
    """bob's burst arrives in one read: its messages go to ana through the
    turn's stream and its DM to her individually; she must see them in seq
    order, and bob his acks in order and none of his own messages."""
    ana = await peers("ana")
    bob = await peers("bob")
    await ana.expect("joined")
    burst = b"".join(
        json.dumps(frame).encode() + b"\n"
        for frame in (
            {"type": "say", "id": "s1", "text": "one"},
            {"type": "dm", "id": "d1", "to": "ana", "text": "psst"},
            {"type": "say", "id": "s2", "text": "two"},
            {"type": "say", "id": "s3", "text": "three"},
        )
    )
    await bob.send_raw(burst)
    got = [await ana.expect_any("message", "dm") for _ in range(4)]
    assert [(f["type"], f["text"]) for f in got] == [
        ("message", "one"),
        ("dm", "psst"),
        ("message", "two"),
        ("message", "three"),
    ]
    # seq orders each conversation on its own: the room's three messages.
    room_seqs = [f["seq"] for f in got if f["type"] == "message"]
    assert room_seqs == sorted(room_seqs)
    acks = [await bob.expect("ack") for _ in range(4)]
    assert [a["id"] for a in acks] == ["s1", "d1", "s2", "s3"]
    assert [a["seq"] for a in acks] == [f["seq"] for f in got]
    assert [f for f in await bob.sync() if f["type"] == "message"] == []


async def test_a_peer_that_joins_mid_turn_hears_each_message_once(server, peers) -> None:
    """A hello among other peers' messages: what was said before it is in the
    welcome's history, what came after arrives live, nothing twice."""
    ana = await peers("ana")
    cleo = await peers()
    await ana.send(type="say", id="before", text="before cleo")
    await cleo.send(type="hello", name="cleo", proto=1)
    await ana.send(type="say", id="after", text="after cleo")
    welcome = await cleo.recv()
    assert welcome["type"] == "welcome"
    seen = [f["text"] for f in await cleo.sync() if f["type"] == "message"]
    history = [m["text"] for m in welcome["history"]]
    # However the lines interleave, cleo gets each message exactly once: in
    # her welcome's history if it was said before she joined, live if after.
    assert sorted(history + seen) == ["after cleo", "before cleo"]
