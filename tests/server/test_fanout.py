"""The batched fan-out: a turn's room broadcasts joined once and sliced per
member (fanout.py), and, on real sockets, that each peer still gets its own
frames and everyone else's messages in order."""

from __future__ import annotations

import json

import pytest

from conexion_protocol import Message
from conexion_server.fanout import TurnStream
from conexion_server.hub import Outbound


def message(seq: int, text: str) -> Outbound:
    ts = "2026-11-29T12:00:00.000Z"
    return Outbound(Message(seq=seq, ts=ts, room="general", from_="x", text=text))


def stream_of(*texts: str) -> TurnStream:
    stream = TurnStream()
    for mark, text in enumerate(texts, start=1):
        stream.append(message(mark, text), mark)
    return stream


def texts(pieces: list[memoryview]) -> list[str]:
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
    pieces = stream.slices(start, end, skip, json=True)
    assert texts(pieces) == expected
    assert len(pieces) == slices


def test_text_slices_are_the_plain_text_rendering() -> None:
    stream = stream_of("hola", "two\nlines")
    lines = b"".join(stream.slices(0, 2, [], json=False)).decode().splitlines()
    assert [line.partition("] ")[2] for line in lines[:2]] == ["x: hola", "x: two"]
    assert lines[2].strip() == "lines"  # the continuation, indented
    assert len(lines) == 3


def test_the_joined_bytes_follow_appends_made_after_a_slice() -> None:
    stream = stream_of("a")
    assert texts(stream.slices(0, 1, [], json=True)) == ["a"]
    stream.append(message(2, "b"), 2)
    assert texts(stream.slices(0, 2, [], json=True)) == ["a", "b"]


def test_first_after_finds_where_a_member_starts() -> None:
    stream = TurnStream()
    assert stream.first_after(5) == 0
    for mark in (3, 4, 7):
        stream.append(message(mark, "t"), mark)
    assert [stream.first_after(m) for m in (0, 2, 3, 4, 5, 7, 9)] == [0, 0, 1, 2, 2, 3, 3]
    stream.clear()
    assert (len(stream), stream.first_after(1)) == (0, 0)


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
    assert [f["seq"] for f in got] == sorted(f["seq"] for f in got)
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
