"""The sans-I/O codec: frames, framing, and the name and text rules, edge by edge."""

from __future__ import annotations

import gc
import json

import pytest

from conexion_protocol import (
    MAX_CLIENT_FRAME,
    MAX_ID_LEN,
    MAX_NAME_LEN,
    MAX_TEXT_LEN,
    UNSET,
    Ack,
    Bye,
    Dm,
    ErrorCode,
    FrameTooLong,
    Hello,
    History,
    LineFramer,
    Message,
    Ping,
    ProtocolError,
    Say,
    Welcome,
    Who,
    clean_text,
    decode_client,
    decode_server,
    encode,
    format_ts,
    name_key,
    normalize_name,
    normalize_room,
)
from conexion_server.store import IdCache, Receipt


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()


def decode_error(line: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_client(line)
    return info.value


# -- decoding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"type": "hello", "name": "ana", "proto": 1}, Hello(name="ana", proto=1)),
        (
            {"type": "say", "id": "k1", "text": "hola", "action": True},
            Say(id="k1", text="hola", action=True),
        ),
        (
            {"type": "dm", "id": "k2", "to": "bob", "text": "psst"},
            Dm(id="k2", to="bob", text="psst"),
        ),
        ({"type": "who"}, Who(room="general")),
        ({"type": "history", "before": 7}, History(before=7, limit=50)),
        ({"type": "ping", "t": {"any": [1, "json", None]}}, Ping(t={"any": [1, "json", None]})),
        ({"type": "bye"}, Bye()),
    ],
)
def test_valid_frames_decode(obj: dict, expected: object) -> None:
    assert decode_client(dumps(obj)) == expected


def test_unknown_fields_are_ignored_and_cr_is_tolerated() -> None:
    line = dumps({"type": "say", "id": "a", "text": "x", "future": {"v": 2}}) + b"\r"
    assert decode_client(line) == Say(id="a", text="x")


def test_omitted_room_means_general() -> None:
    frame = decode_client(b'{"type":"say","id":"a","text":"x"}')
    assert isinstance(frame, Say)
    assert frame.room == "general"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b'{"type":"say","id":"a","text":"\xff"}', id="invalid-utf8"),
        pytest.param(b"\xc3\x28", id="invalid-utf8-bare"),
        pytest.param(b"hello there", id="not-json"),
        pytest.param(b'{"type":"ping"', id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b'[{"type":"ping"}]', id="array"),
        pytest.param(b"42", id="number"),
        pytest.param(b'"ping"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"name":"ana","proto":1}', id="no-type"),
        pytest.param(b'{"type":7}', id="type-not-string"),
        pytest.param(b'{"type":"hello","proto":1}', id="missing-name"),
        pytest.param(b'{"type":"hello","name":"ana","proto":true}', id="proto-bool"),
        pytest.param(b'{"type":"hello","name":"ana","proto":"1"}', id="proto-string"),
        pytest.param(b'{"type":"hello","name":5,"proto":1}', id="name-number"),
        pytest.param(b'{"type":"say","id":"a"}', id="missing-text"),
        pytest.param(b'{"type":"say","id":"","text":"x"}', id="id-empty"),
        pytest.param(dumps({"type": "say", "id": "i" * 65, "text": "x"}), id="id-too-long"),
        pytest.param(b'{"type":"say","id":7,"text":"x"}', id="id-number"),
        pytest.param(b'{"type":"say","id":"a","text":"x","action":"yes"}', id="action-str"),
        pytest.param(b'{"type":"say","id":"a","text":"x","room":5}', id="room-number"),
        pytest.param(b'{"type":"history","limit":201}', id="limit-over"),
        pytest.param(b'{"type":"history","limit":0}', id="limit-zero"),
        pytest.param(b'{"type":"ping","t":1e999}', id="huge-float"),
        pytest.param(b'{"type":"ping","t":' + b"[" * 10_000 + b"]" * 10_000 + b"}", id="deep"),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="deep-array"),
        pytest.param(rb'{"type":"say","id":"a","text":"x\ud800"}', id="lone-surrogate"),
    ],
)
def test_malformed_frames_are_bad_frame(line: bytes) -> None:
    assert decode_error(line).code is ErrorCode.BAD_FRAME


def test_huge_integer_is_echoable() -> None:
    """A 30-digit integer is valid JSON; `t` is "any JSON value", echoed as is."""
    frame = decode_client(b'{"type":"ping","t":' + str(10**30).encode() + b"}")
    assert isinstance(frame, Ping)
    assert frame.t == 10**30
    assert json.loads(encode(Ping(t=frame.t)))["t"] == 10**30


def test_unknown_type() -> None:
    err = decode_error(b'{"type":"dance","id":"x1"}')
    assert err.code is ErrorCode.UNKNOWN_TYPE
    assert err.id == "x1"


@pytest.mark.parametrize(
    ("line", "expected_id"),
    [
        (b'{"type":"say","id":"m-1"}', "m-1"),
        (b'{"type":"say","id":"m-2","text":"x","action":1}', "m-2"),
        (b'{"type":"dm","id":"m-3","text":"x"}', "m-3"),
        (dumps({"type": "say", "id": "i" * 65}), None),
        (b'{"type":"say","id":7}', None),
    ],
)
def test_bad_frame_echoes_a_usable_id(line: bytes, expected_id: str | None) -> None:
    err = decode_error(line)
    assert err.code is ErrorCode.BAD_FRAME
    assert err.id == expected_id
    frame = err.to_frame()
    assert (frame.id if frame.id is not UNSET else None) == expected_id


def test_id_length_edge() -> None:
    ok = decode_client(dumps({"type": "say", "id": "é" * MAX_ID_LEN, "text": "x"}))
    assert isinstance(ok, Say)
    assert len(ok.id) == MAX_ID_LEN


def test_encode_is_one_line_with_escaped_newlines() -> None:
    line = encode(
        Message(seq=1, ts="2026-11-24T12:00:00.123Z", room="general", from_="ana", text="a\nb")
    )
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    obj = json.loads(line)
    assert obj == {
        "type": "message",
        "seq": 1,
        "ts": "2026-11-24T12:00:00.123Z",
        "room": "general",
        "from": "ana",
        "text": "a\nb",
    }


def test_server_frames_round_trip() -> None:
    welcome = Welcome(
        proto=1, name="ana", server="conexion/x", users=["ana"], rooms=["general"], history=[]
    )
    assert decode_server(encode(welcome)[:-1]) == welcome
    ack = Ack(id="k", seq=3, ts="2026-11-24T12:00:00.123Z")
    assert decode_server(encode(ack)[:-1]) == ack
    assert "motd" not in json.loads(encode(welcome))


# -- framing ----------------------------------------------------------------------


def test_framer_accepts_exactly_the_limit() -> None:
    framer = LineFramer(MAX_CLIENT_FRAME)
    line = b"x" * (MAX_CLIENT_FRAME - 1)
    assert framer.feed(line) == []
    assert framer.pending == MAX_CLIENT_FRAME - 1
    assert framer.feed(b"\n") == [line]
    assert framer.pending == 0


def test_framer_refuses_one_byte_more_before_the_newline_arrives() -> None:
    framer = LineFramer(MAX_CLIENT_FRAME)
    with pytest.raises(FrameTooLong):
        framer.feed(b"x" * MAX_CLIENT_FRAME)
    assert framer.pending == 0


def test_framer_keeps_lines_before_a_long_one() -> None:
    framer = LineFramer(10)
    with pytest.raises(FrameTooLong) as info:
        framer.feed(b"one\ntwo\n" + b"x" * 20 + b"\nthree\n")
    assert info.value.lines == [b"one", b"two"]


def test_framer_splits_chunks() -> None:
    framer = LineFramer(100)
    assert framer.feed(b"ab") == []
    assert framer.feed(b"c\nde") == [b"abc"]
    assert framer.feed(b"\n\nf\n") == [b"de", b"", b"f"]


# -- names, rooms, text ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["ana", "José", "李雷", "देवनागरी", "a_b-c.d", "7up", "x" * MAX_NAME_LEN, "e\u0301" * 24],
)
def test_valid_names(name: str) -> None:
    normal = normalize_name(name)
    assert 1 <= len(normal) <= MAX_NAME_LEN


@pytest.mark.parametrize(
    "name",
    [
        "",
        "ana smith",
        "#room",
        "/cmd",
        "ana\x07",
        "ana\x1b[31m",
        "ana\u0085",
        "\u0301\u0302",
        "x" * (MAX_NAME_LEN + 1),
        "_ana",
        "ana!",
        "ana\u200b",
        "ana\n",
    ],
)
def test_bad_names(name: str) -> None:
    with pytest.raises(ProtocolError) as info:
        normalize_name(name)
    assert info.value.code is ErrorCode.BAD_NAME
    assert info.value.message


def test_names_are_stored_in_nfc_and_compared_by_casefold() -> None:
    nfd = "Jose\u0301"
    assert normalize_name(nfd) == "José"
    assert name_key(nfd) == name_key("JOSÉ") == name_key("josé")
    assert name_key("Ana") == name_key("ana")


def test_rooms() -> None:
    assert normalize_room("General") == "general"
    for bad in ("", "#general", "a b", "x" * 33):
        with pytest.raises(ProtocolError) as info:
            normalize_room(bad)
        assert info.value.code is ErrorCode.BAD_FRAME


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),
        ("a\u009bb", "ab"),
        ("ding\x07", "ding"),
        ("del\x7f", "del"),
        ("line1\nline2\tend", "line1\nline2\tend"),
        ("cr\r\nlf", "cr\nlf"),
        ("[red]x[/red] [bold", "[red]x[/red] [bold"),
    ],
)
def test_clean_text_removes_controls_but_keeps_newline_and_tab(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize("raw", ["", "\x1b", "\x00\x01\x7f\u0080\u009f"])
def test_clean_text_refuses_empty(raw: str) -> None:
    with pytest.raises(ProtocolError) as info:
        clean_text(raw)
    assert info.value.code is ErrorCode.BAD_TEXT


def test_text_length_edge_counts_code_points_after_cleaning() -> None:
    assert len(clean_text("ñ" * MAX_TEXT_LEN)) == MAX_TEXT_LEN
    assert len(clean_text("x" * MAX_TEXT_LEN + "\x1b" * 10)) == MAX_TEXT_LEN
    with pytest.raises(ProtocolError) as info:
        clean_text("x" * (MAX_TEXT_LEN + 1))
    assert info.value.code is ErrorCode.BAD_TEXT


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_795_521_600.123, "2026-11-24T12:00:00.123Z"),
        (1_795_521_600.9999, "2026-11-24T12:00:01.000Z"),
    ],
)
def test_format_ts(epoch: float, text: str) -> None:
    assert format_ts(epoch) == text


def test_frames_and_remembered_ids_are_not_walked_by_the_collector() -> None:
    # A server holds history, a commit's worth of frames and a window of
    # send ids; a client its log. None of them can be part of a cycle, and
    # every collection would walk them all.
    line = b'{"type":"message","seq":1,"ts":"t","room":"general","from":"a","text":"x"}'
    decoded = decode_server(line)
    assert isinstance(decoded, Message)
    assert not gc.is_tracked(decoded)
    ids = IdCache(ttl=60.0, max_ids=10)
    ids.remember(("ana", "k1"), Receipt(1, "t"), now=0.0)
    gc.collect()  # a tuple of plain values is untracked when a collection sees it
    assert not any(gc.is_tracked(entry) for entry in ids._ids.values())
    assert ids.recall(("ana", "k1"), now=1.0) == Receipt(1, "t")
