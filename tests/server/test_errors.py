"""Every error code of protocol v1 (but bad_password, which comes with passwords),
triggered by real bytes, and the state of the connection afterwards."""

from __future__ import annotations

import json

import pytest

from conexion_protocol import MAX_CLIENT_FRAME, MAX_TEXT_LEN
from tests.peers import JsonPeer

PRESENCE = ("joined", "left")


async def error_for(peer: JsonPeer, line: bytes) -> dict:
    """Send one line and return the error it gets (others' arrivals skipped)."""
    await peer.send_raw(line + b"\n")
    frame = await peer.recv()
    while frame["type"] in PRESENCE:
        frame = await peer.recv()
    assert frame["type"] == "error", frame
    assert isinstance(frame["message"], str)
    assert frame["message"]
    return frame


async def replies(peer: JsonPeer, n: int) -> list[dict]:
    """The next `n` frames, others' arrivals skipped."""
    got: list[dict] = []
    while len(got) < n:
        frame = await peer.recv()
        if frame["type"] not in PRESENCE:
            got.append(frame)
    return got


async def assert_open(peer: JsonPeer) -> None:
    """The connection still answers, and nothing but others' arrivals was pending."""
    assert [f for f in await peer.sync() if f["type"] not in PRESENCE] == []


# -- bad_frame ----------------------------------------------------------------------

BAD_FRAMES = [
    pytest.param(b'{"type":"say","id":"a","text":"caf\xe9"}', id="invalid-utf8"),
    pytest.param(b"{not json at all", id="not-json"),
    pytest.param(b'{"type":"ping"}{"type":"ping"}', id="two-objects"),
    pytest.param(b'{"type":"ping"', id="truncated"),
    pytest.param(b"{}", id="no-type"),
    pytest.param(b'{"type":null}', id="type-null"),
    pytest.param(b'{"type":"hello","name":"ana"}', id="hello-missing-proto"),
    pytest.param(b'{"type":"hello","name":"ana","proto":true}', id="proto-true"),
    pytest.param(b'{"type":"hello","name":["ana"],"proto":1}', id="name-list"),
    pytest.param(b'{"type":"say","text":"x"}', id="say-missing-id"),
    pytest.param(b'{"type":"say","id":"","text":"x"}', id="id-empty"),
    pytest.param(json.dumps({"type": "say", "id": "x" * 65, "text": "y"}).encode(), id="id-65"),
    pytest.param(b'{"type":"say","id":"a","text":null}', id="text-null"),
    pytest.param(b'{"type":"dm","id":"a","text":"x"}', id="dm-missing-to"),
    pytest.param(b'{"type":"nick"}', id="nick-missing-name"),
    pytest.param(b'{"type":"history","limit":500}', id="limit-500"),
    pytest.param(b'{"type":"who","room":"#general"}', id="malformed-room"),
]


@pytest.mark.parametrize("line", BAD_FRAMES)
async def test_bad_frame_after_hello_keeps_the_connection(peers, line: bytes) -> None:
    ana = await peers("ana")
    assert (await error_for(ana, line))["code"] == "bad_frame"
    await assert_open(ana)


@pytest.mark.parametrize(
    "line",
    [b"{[1, 2, 3]", b'{"type":"hello","name":"ana","proto":"one"}', b"{\xff\xfe}"],
)
async def test_bad_frame_before_hello_keeps_the_connection(peers, line: bytes) -> None:
    anon = await peers()
    assert (await error_for(anon, line))["code"] == "bad_frame"
    await assert_open(anon)
    assert (await anon.hello("ana"))["name"] == "ana"


@pytest.mark.parametrize(
    "line",
    [b"[]", b'[{"type":"ping"}]', b"42", b'"ping"', b"null", b"true"],
)
async def test_json_that_is_not_an_object_is_bad_frame(peers, line: bytes) -> None:
    ana = await peers("ana")
    # The connection is already JSON, so a line not starting with `{` is a frame too.
    assert (await error_for(ana, line))["code"] == "bad_frame"
    await assert_open(ana)


async def test_second_hello_is_bad_frame(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    error = await error_for(ana, b'{"type":"hello","name":"other","proto":1}')
    assert error["code"] == "bad_frame"
    await assert_open(ana)
    await bob.send(type="who")
    assert (await bob.expect("users"))["users"] == ["ana", "bob"]


async def test_bad_frame_echoes_a_usable_id(peers) -> None:
    ana = await peers("ana")
    error = await error_for(ana, b'{"type":"say","id":"m-7","text":17}')
    assert (error["code"], error["id"]) == ("bad_frame", "m-7")


async def test_twenty_bad_frames_in_a_row_close_the_connection(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send_raw(b"garbage\n" * 20)
    assert [f["code"] for f in await replies(ana, 20)] == ["bad_frame"] * 20
    assert await ana.closed()
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "error")


async def test_the_bad_frame_limit_is_an_option(make_server, connect) -> None:
    server = await make_server(max_bad_frames=3)
    anon = await connect(server)
    await anon.send_raw(b"{x\n" * 3)
    assert [(await anon.recv())["code"] for _ in range(3)] == ["bad_frame"] * 3
    assert await anon.closed()


@pytest.mark.parametrize(
    "good",
    [
        pytest.param(b'{"type":"ping"}', id="ping"),
        pytest.param(b'{"type":"dance"}', id="unknown-type"),
        pytest.param(rb'{"type":"say","id":"e","text":"\u001b"}', id="bad-text"),
        pytest.param(b'{"type":"who","room":"random"}', id="no-such-room"),
    ],
)
async def test_a_decodable_frame_resets_the_bad_frame_count(peers, good: bytes) -> None:
    ana = await peers("ana")
    await ana.send_raw(b"garbage\n" * 19 + good + b"\n" + b"garbage\n" * 19)
    frames = await replies(ana, 39)
    assert [f.get("code") for f in frames[:19] + frames[20:]] == ["bad_frame"] * 38
    assert frames[19].get("code") != "bad_frame"
    await assert_open(ana)


# -- too_long -----------------------------------------------------------------------


def ping_of_size(size: int) -> bytes:
    """A `ping` line of exactly `size` bytes, newline included."""
    head, tail = b'{"type":"ping","t":"', b'"}\n'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_a_frame_of_exactly_the_limit_is_accepted(peers) -> None:
    ana = await peers("ana")
    line = ping_of_size(MAX_CLIENT_FRAME)
    assert len(line) == 65_536
    await ana.send_raw(line)
    pong = await ana.recv()
    assert pong["type"] == "pong"
    assert len(pong["t"]) == MAX_CLIENT_FRAME - 23


async def test_a_frame_with_cr_of_exactly_the_limit_is_accepted(peers) -> None:
    ana = await peers("ana")
    line = ping_of_size(MAX_CLIENT_FRAME - 1)[:-1] + b"\r\n"
    assert len(line) == 65_536
    await ana.send_raw(line)
    assert (await ana.recv())["type"] == "pong"


async def test_one_byte_more_is_too_long_and_closes(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send_raw(ping_of_size(MAX_CLIENT_FRAME + 1))
    [error] = await replies(ana, 1)
    assert error["type"] == "error"
    assert error["code"] == "too_long"
    assert await ana.closed()
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "error")


async def test_too_long_after_good_frames_in_the_same_packet(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send_raw(
        b'{"type":"say","id":"before","text":"first"}\n' + ping_of_size(MAX_CLIENT_FRAME + 100)
    )
    ack, error = await replies(ana, 2)
    assert (ack["type"], error["code"]) == ("ack", "too_long")
    assert await ana.closed()
    assert (await bob.expect("message"))["text"] == "first"


async def test_the_frame_limit_is_an_option(make_server, connect) -> None:
    server = await make_server(max_frame=100)
    ana = await connect(server, "ana")
    await ana.send_raw(ping_of_size(100))
    assert (await ana.recv())["type"] == "pong"
    await ana.send_raw(ping_of_size(101))
    assert (await ana.recv())["code"] == "too_long"
    assert await ana.closed()


# -- unknown_type, not_joined ----------------------------------------------------------


@pytest.mark.parametrize("joined", [True, False])
async def test_unknown_type_keeps_the_connection(peers, joined: bool) -> None:
    peer = await peers("ana" if joined else None)
    error = await error_for(peer, b'{"type":"dance","id":"d-1","steps":3}')
    assert (error["code"], error["id"]) == ("unknown_type", "d-1")
    await assert_open(peer)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "say", "id": "s", "text": "too early"},
        {"type": "dm", "id": "s", "to": "bob", "text": "too early"},
        {"type": "nick", "name": "ana"},
        {"type": "who"},
        {"type": "join", "room": "general"},
        {"type": "part", "room": "general"},
        {"type": "history", "room": "general"},
    ],
    ids=lambda f: f["type"],
)
async def test_not_joined(peers, frame: dict) -> None:
    bob = await peers("bob")
    anon = await peers()
    error = await error_for(anon, json.dumps(frame).encode())
    assert error["code"] == "not_joined"
    await assert_open(anon)
    assert await bob.sync() == []  # nothing leaked to the room
    await anon.hello("ana")


async def test_ping_pong_and_bye_are_allowed_before_hello(peers) -> None:
    anon = await peers()
    await anon.send(type="ping", t=1)
    assert await anon.recv() == {"type": "pong", "t": 1}
    await anon.send(type="pong", t=1)  # an unsolicited pong is harmless
    await assert_open(anon)
    await anon.send(type="bye")
    assert await anon.closed()


# -- names ----------------------------------------------------------------------------

BAD_NAMES = [
    "ana smith",
    "tab\there",
    "bell\x07",
    "esc\x1b[31m",
    "nul\x00",
    "c1\u0085",
    "\u0301\u0308",
    "x" * 25,
    "",
    "#room",
    "/cmd",
    "-dash",
    "ana!",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:16] for n in BAD_NAMES])
async def test_bad_name_keeps_the_connection_for_another_try(peers, name: str) -> None:
    bob = await peers("bob")
    anon = await peers()
    await anon.send(type="hello", name=name, proto=1)
    error = await anon.recv()
    assert (error["type"], error["code"]) == ("error", "bad_name")
    await assert_open(anon)
    assert (await anon.hello("ana"))["users"] == ["ana", "bob"]
    assert [f["name"] for f in await bob.sync() if f["type"] == "joined"] == ["ana"]


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("José", "José"),
        ("Jose\u0301", "José"),  # NFD is stored and shown as NFC
        ("李雷", "李雷"),
        ("देवनागरी", "देवनागरी"),
        ("x" * 24, "x" * 24),
        ("e\u0301" * 24, "é" * 24),  # 48 code points in NFD, 24 in NFC
        ("a_b-c.d9", "a_b-c.d9"),
    ],
)
async def test_valid_names(peers, sent: str, shown: str) -> None:
    welcome = await (await peers()).hello(sent)
    assert welcome["name"] == shown
    assert welcome["users"] == [shown]


@pytest.mark.parametrize(
    ("first", "second"),
    [("ana", "ANA"), ("José", "Jose\u0301"), ("Jose\u0301", "JOSÉ"), ("Straße", "STRASSE")],
)
async def test_name_taken(peers, first: str, second: str) -> None:
    await peers(first)
    anon = await peers()
    await anon.send(type="hello", name=second, proto=1)
    assert (await anon.recv())["code"] == "name_taken"
    await assert_open(anon)
    assert (await anon.hello("other"))["type"] == "welcome"


# -- text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "\x1b", "\x00\x07\x7f\u0085\u009b", "x" * (MAX_TEXT_LEN + 1), "é" * (MAX_TEXT_LEN + 1)],
    ids=["empty", "esc", "controls", "4001", "4001-accented"],
)
async def test_bad_text(peers, text: str) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    for kind in ("say", "dm"):
        await ana.send(type=kind, id=f"bt-{kind}", to="bob", text=text)
        error = await ana.expect("error")
        assert (error["code"], error["id"]) == ("bad_text", f"bt-{kind}")
    await assert_open(ana)
    assert await bob.sync() == []


async def test_text_of_exactly_the_limit_is_accepted(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    text = "ñ" * (MAX_TEXT_LEN - 1) + "\x1b" * 50 + "!"
    assert (await ana.say(text))["type"] == "ack"
    assert (await bob.expect("message"))["text"] == "ñ" * (MAX_TEXT_LEN - 1) + "!"


# -- rate_limited ---------------------------------------------------------------------


async def test_rate_limited_after_the_burst(make_server, connect) -> None:
    server = await make_server(rate=0.01, burst=3)
    ana, bob = await connect(server, "ana"), await connect(server, "bob")
    for i in range(3):
        assert (await ana.say(f"m{i}", id=f"r{i}"))["type"] == "ack"
    for kind in ("say", "dm"):
        await ana.send(type=kind, id=f"over-{kind}", to="bob", text="one too many")
        error = await ana.expect("error")
        assert (error["code"], error["id"]) == ("rate_limited", f"over-{kind}")
    # Repeats of known ids are acknowledged again and not counted.
    for _ in range(5):
        assert (await ana.say("m0", id="r0"))["type"] == "ack"
    await assert_open(ana)
    texts = [f["text"] for f in await bob.sync() if f["type"] == "message"]
    assert texts == ["m0", "m1", "m2"]


async def test_rate_refills(make_server, connect) -> None:
    server = await make_server(rate=5.0, burst=1)  # one token every 200 ms
    ana = await connect(server, "ana")
    assert (await ana.say("a"))["type"] == "ack"
    assert (await ana.say("b"))["code"] == "rate_limited"
    assert await ana.silent(0.3)  # time for one token, and nothing arrives meanwhile
    assert (await ana.say("c"))["type"] == "ack"
    assert (await ana.say("d"))["code"] == "rate_limited"  # the burst caps the refill


# -- no_such_user, no_such_room ---------------------------------------------------------


async def test_no_such_user(peers) -> None:
    ana = await peers("ana")
    error = await error_for(ana, b'{"type":"dm","id":"x","to":"nobody","text":"hi"}')
    assert (error["code"], error["id"]) == ("no_such_user", "x")
    await assert_open(ana)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "say", "id": "room-1", "text": "hi", "room": "random"},
        {"type": "who", "room": "random"},
        {"type": "part", "room": "random"},
        {"type": "topic", "room": "random"},
        {"type": "history", "room": "random"},
    ],
    ids=lambda f: f["type"],
)
async def test_no_such_room(peers, frame: dict) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    error = await error_for(ana, json.dumps(frame).encode())
    assert error["code"] == "no_such_room"
    assert error.get("id") == frame.get("id")
    await assert_open(ana)
    assert await bob.sync() == []


async def test_malformed_room_in_say_echoes_the_id(peers) -> None:
    ana = await peers("ana")
    error = await error_for(ana, b'{"type":"say","id":"room-2","text":"hi","room":"#x y"}')
    assert (error["code"], error["id"]) == ("bad_frame", "room-2")


# -- unsupported_proto, server_full --------------------------------------------------------


@pytest.mark.parametrize("proto", [0, 2, -1, 10**30])
async def test_unsupported_proto_then_a_correct_hello(peers, proto: int) -> None:
    anon = await peers()
    error = await error_for(
        anon, json.dumps({"type": "hello", "name": "ana", "proto": proto}).encode()
    )
    assert error["code"] == "unsupported_proto"
    await assert_open(anon)
    assert (await anon.hello("ana"))["name"] == "ana"


@pytest.mark.single_server("--max-clients counts the users of one instance")
async def test_server_full_until_someone_leaves(make_server, connect) -> None:
    server = await make_server(max_clients=2)
    ana, bob = await connect(server, "ana"), await connect(server, "bob")
    cleo = await connect(server)
    await cleo.send(type="hello", name="cleo", proto=1)
    error = await cleo.recv()
    assert (error["type"], error["code"]) == ("error", "server_full")
    await assert_open(cleo)
    assert all(f.get("name") != "cleo" for f in await ana.sync())
    await bob.send(type="bye")
    assert await bob.closed()
    await ana.expect("left")
    assert (await cleo.hello("cleo"))["users"] == ["ana", "cleo"]
