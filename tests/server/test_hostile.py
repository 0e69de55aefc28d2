"""Hostile and careless input: whatever arrives, the server answers precisely,
relays only plain characters, holds bounded memory, and keeps serving others."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conexion_protocol import MAX_CLIENT_FRAME, LineFramer, encode
from conexion_server.config import ServerConfig
from conexion_server.connection import Connection
from conexion_server.hub import HubConfig
from conexion_server.server import ChatServer
from tests.peers import WAIT, JsonPeer, LinePeer, TextPeer
from tests.server.test_codec_properties import client_frames, frame_like_objects


@pytest.fixture
async def bystanders(peers, text_peers):
    """A JSON and a text user who must not notice anything."""
    return await peers("witness"), await text_peers("watcher")


async def still_served(bystanders: tuple[JsonPeer, TextPeer]) -> None:
    witness, watcher = bystanders
    ack = await witness.say("still fine?")
    assert ack["type"] == "ack"
    assert (await watcher.until("still fine?")).endswith("witness: still fine?")
    await watcher.type("yes")
    message = await witness.expect("message")
    assert (message["from"], message["text"]) == ("watcher", "yes")


def server_side(server: ChatServer, peer: LinePeer) -> Connection:
    local = peer.writer.get_extra_info("sockname")
    for conn in server.connections:
        assert conn.transport is not None
        if conn.transport.get_extra_info("peername") == local:
            return conn
    raise AssertionError("no such connection on the server")


class RecordingFramer(LineFramer):
    """A LineFramer that remembers the most it ever held between reads."""

    def __init__(self, max_line: int) -> None:
        super().__init__(max_line)
        self.peak = 0

    def feed(self, data: bytes) -> list[bytes]:
        try:
            return super().feed(data)
        finally:
            self.peak = max(self.peak, self.pending)


# -- bytes -------------------------------------------------------------------------------


async def test_a_megabyte_without_newline_is_refused_without_buffering_it(
    server, peers, bystanders
) -> None:
    ana = await peers("ana")
    conn = server_side(server, ana)
    framer = conn.session.framer = RecordingFramer(conn.session.framer.max_line)
    chunk = b"{" + b"x" * (64 * 1024 - 1)
    with contextlib.suppress(ConnectionError):  # the server may hang up mid-send
        for _ in range(16):
            await ana.send_raw(chunk)
    error = await ana.recv()
    assert (error["type"], error["code"]) == ("error", "too_long")
    assert await ana.closed()
    assert framer.peak < MAX_CLIENT_FRAME
    left = await bystanders[0].expect("left")
    assert (left["name"], left["reason"]) == ("ana", "error")
    await still_served(bystanders)


async def read_to_the_end(sock: socket.socket) -> tuple[bytes, str]:
    """Everything the server sends until it closes, and how it closed:
    "eof" for an orderly FIN, "reset" for an RST."""
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(WAIT):
        while True:
            try:
                chunk = await loop.sock_recv(sock, 65536)
            except ConnectionResetError:
                return data, "reset"
            if not chunk:
                return data, "eof"
            data += chunk


@pytest.mark.parametrize(
    ("flood", "code"),
    [
        pytest.param(b"{" + b"x" * (1024 * 1024), "too_long", id="too-long"),
        pytest.param(b"garbage\n" * 50_000, "bad_frame", id="bad-frames"),
    ],
)
async def test_the_answer_survives_a_peer_that_keeps_sending(
    server, bystanders, flood: bytes, code: str
) -> None:
    """The server closes a peer that is still sending with an orderly FIN after
    its answer, not with an RST: an RST lets the kernel throw away the answer
    (and a client's buffered copy of it) before the peer reads it."""
    loop = asyncio.get_running_loop()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.setblocking(False)
        await loop.sock_sendall(sock, b'{"type":"hello","name":"ana","proto":1}\n')
        with contextlib.suppress(ConnectionError):
            await loop.sock_sendall(sock, flood)
        data, how = await read_to_the_end(sock)
    frames = [json.loads(line) for line in data.splitlines()]
    assert frames[0]["type"] == "welcome"
    assert frames[-1]["code"] == code
    assert how == "eof"
    await still_served(bystanders)


async def test_a_megabyte_line_from_a_text_user(server, text_peers, bystanders) -> None:
    bob = await text_peers("bob")
    with contextlib.suppress(ConnectionError):
        await bob.send_raw(b"y" * (1024 * 1024) + b"\n")
    assert "longer than 65536 bytes" in await bob.until("longer than")
    assert await bob.closed()
    await still_served(bystanders)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"\xff\xfe\xfd", id="not-utf8"),
        pytest.param(b'{"type":"say","id":"u","text":"\xc3\x28"}', id="bad-utf8-in-string"),
        pytest.param(b'{"type":"say","id":"u","text":"\xed\xa0\x80"}', id="utf8-surrogate"),
        pytest.param(b'{"type":"say","id":"u","text":"a\x1bb"}', id="raw-control-in-string"),
        pytest.param(b"\x00" * 100, id="nul-bytes"),
        pytest.param(b"[1,2,3]", id="array"),
        pytest.param(b"123456", id="number"),
        pytest.param(b'"just a string"', id="string"),
        pytest.param(b'{"type":"ping","t":1e999}', id="1e999"),
        pytest.param(b'{"type":"hello","name":"x","proto":1e999}', id="proto-1e999"),
        pytest.param(b'{"type":"history","limit":1e999}', id="limit-1e999"),
        pytest.param(b'{"type":"history","before":1e999}', id="before-1e999"),
        pytest.param(b'{"type":"say","id":1e999,"text":"x"}', id="id-1e999"),
        pytest.param(b'{"type":"ping","t":' + b"[" * 10_000 + b"]" * 10_000 + b"}", id="deep-t"),
        pytest.param(
            b'{"type":"ping","t":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001, id="deep-o"
        ),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="deep-array"),
        pytest.param(rb'{"type":"say","id":"u","text":"\ud800"}', id="lone-surrogate-escape"),
        pytest.param(b'{"type":"say","id":"u","text":"x","text":5}', id="duplicate-key"),
    ],
)
async def test_garbage_from_a_joined_json_user(peers, bystanders, line: bytes) -> None:
    ana = await peers("ana")
    await ana.send_raw(line + b"\n")
    error = await ana.expect("error")
    assert error["code"] == "bad_frame"
    assert [f for f in await ana.sync() if f["type"] != "joined"] == []
    await still_served(bystanders)


@pytest.mark.parametrize(
    "value",
    [10**30, -(10**30), 2**64, 1.7976931348623157e308, 5e-324],
    ids=["1e30", "-1e30", "2^64", "max-double", "min-double"],
)
async def test_huge_numbers_that_json_allows(peers, bystanders, value: object) -> None:
    ana = await peers("ana")
    await ana.send_raw(b'{"type":"ping","t":' + json.dumps(value).encode() + b"}\n")
    assert await ana.recv() == {"type": "pong", "t": value}
    await ana.send_raw(b'{"type":"history","before":' + json.dumps(value).encode() + b"}\n")
    reply = await ana.recv()
    # An integer of any size is a valid `before`; a float is the wrong JSON type.
    if isinstance(value, int):
        assert (reply["type"], reply["messages"]) == ("history", [])
    else:
        assert (reply["type"], reply["code"]) == ("error", "bad_frame")
    await still_served(bystanders)


async def test_deep_but_acceptable_nesting_is_echoed(peers) -> None:
    ana = await peers("ana")
    t: object = "core"
    for _ in range(100):
        t = [t]
    await ana.send(type="ping", t=t)
    assert await ana.recv() == {"type": "pong", "t": t}


@pytest.mark.parametrize(
    "first_line",
    [
        b"\xff\xfe\n",
        b"[1,2,3]\n",
        b'"quoted"\n',
        b"ana smith\n",
        b"bell\x07\n",
        b"\xcc\x81\xcc\x88\n",
    ],
    ids=["not-utf8", "array", "string", "space", "control", "only-marks"],
)
async def test_garbage_as_the_first_line_is_a_plain_text_name(
    server, bystanders, first_line: bytes
) -> None:
    peer = await TextPeer.connect(server.port)
    try:
        await peer.send_raw(first_line)
        assert (await peer.text()).startswith("! ")
        await peer.type("newcomer")
        assert "Welcome, newcomer" in await peer.text()
    finally:
        await peer.close()
    await still_served(bystanders)


async def test_a_flood_of_garbage_lines_is_answered_then_cut(peers, bystanders) -> None:
    ana = await peers("ana")
    await ana.send_raw(b"\xff\n" * 1000)
    codes = []
    with contextlib.suppress(EOFError, ConnectionError):
        while True:
            frame = await ana.recv()
            if frame["type"] == "error":
                codes.append(frame["code"])
    assert codes == ["bad_frame"] * 20
    await still_served(bystanders)


# -- text that looks like commands to a terminal or to Rich --------------------------------

HOSTILE_TEXTS = [
    ("\u001b[31mred\u001b[0m", "[31mred[0m"),
    ("csi\u009b31mx", "csi31mx"),
    ("bell\u0007bell", "bellbell"),
    ("\u001b]0;pwned\u0007title", "]0;pwnedtitle"),
    ("[red]x[/red]", "[red]x[/red]"),
    ("[bold", "[bold"),
    ("[link=file:///etc/passwd]click[/link]", "[link=file:///etc/passwd]click[/link]"),
    ("tab\there\nnew line\r\nwindows", "tab\there\nnew line\nwindows"),
    ("nul\u0000del\u007fnel\u0085", "nuldelnel"),
    # Bidi overrides and isolates would reorder what follows them for
    # everyone (an `nc` user's terminal shows them as they come).
    ("invoice\u202egnp.exe", "invoicegnp.exe"),
    ("\u2066isolated\u2069 and \u202aembedded\u202c", "isolated and embedded"),
]


@pytest.mark.parametrize(("sent", "relayed"), HOSTILE_TEXTS, ids=[r for _, r in HOSTILE_TEXTS])
async def test_hostile_text_is_relayed_as_plain_characters(
    peers, text_peers, sent: str, relayed: str
) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    cleo = await text_peers("cleo")
    ack = await ana.say(sent)
    message = await bob.expect("message")
    assert (message["text"], message["seq"]) == (relayed, ack["seq"])
    await ana.send(type="dm", id="hostile-dm", to="bob", text=sent)
    assert (await ana.expect("ack"))["id"] == "hostile-dm"
    assert (await bob.expect("dm"))["text"] == relayed
    # The plain-text user gets the same characters, nothing a terminal acts on.
    lines = [line for line in await cleo.sync() if "joined" not in line]
    raw = "\n".join(lines)
    assert not any(ch in raw for ch in "\x00\x07\x1b\x7f\x85\x9b\r")
    head, *rest = relayed.split("\n")
    assert lines[0].endswith(f"ana: {head}")
    assert lines[1:] == [f"    {line}" for line in rest]
    # History keeps the cleaned text too.
    await ana.send(type="history")
    assert (await ana.expect("history"))["messages"][-1]["text"] == relayed


async def test_hostile_text_from_a_plain_text_user(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.send_raw(b"\x1b[2J\x1b[31mred\x07 [blink]x\x9b\n".replace(b"\x9b", "\u009b".encode()))
    assert (await bob.text()) == "* sent"
    message = await ana.expect("message")
    assert message["text"] == "[2J[31mred [blink]x"


# -- random frames against a live server ---------------------------------------------------

random_lines = st.one_of(
    client_frames.map(lambda frame: encode(frame)[:-1]),
    frame_like_objects().map(lambda obj: json.dumps(obj).encode()),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
)


async def exchange(lines: list[bytes]) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict] = []
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    server = ChatServer(ServerConfig(port=0, hub=HubConfig(rate=1e6, burst=10**6)))
    await server.start()
    witness, fuzzer = await JsonPeer.connect(server.port), await JsonPeer.connect(server.port)
    try:
        await witness.hello("witness")
        await fuzzer.hello("fuzzer")
        await fuzzer.send_raw(b"".join(line + b"\n" for line in lines))
        with contextlib.suppress(EOFError, ConnectionError):
            await fuzzer.sync()  # answered, or closed (bye, too many bad frames)
        await witness.send(type="say", id="after", text="after the fuzz")
        async with asyncio.timeout(WAIT):
            while (await witness.recv()).get("id") != "after":
                pass  # whatever the fuzzer caused (renames, messages, dms)
    finally:
        await witness.close()
        await fuzzer.close()
        await server.stop()
    assert not escaped, escaped


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(random_lines, min_size=1, max_size=25))
def test_random_frames_never_break_the_server(lines: list[bytes]) -> None:
    asyncio.run(exchange(lines))


text_lines = st.one_of(
    st.text(max_size=60).map(lambda t: t.replace("\n", " ").encode()),
    st.sampled_from(["/msg", "/nick", "/me", "/who", "/help", "/", "//", "/msg witness"]).flatmap(
        lambda cmd: st.text(max_size=20).map(lambda t: f"{cmd} {t}".replace("\n", "").encode())
    ),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
)


async def text_exchange(lines: list[bytes]) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict] = []
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    server = ChatServer(ServerConfig(port=0, hub=HubConfig(rate=1e6, burst=10**6)))
    await server.start()
    witness, typist = await JsonPeer.connect(server.port), await TextPeer.connect(server.port)
    try:
        await witness.hello("witness")
        await typist.send_raw(b"".join(line + b"\n" for line in [b"typist", *lines]))
        with contextlib.suppress(EOFError, ConnectionError):
            await typist.sync()  # answered, or closed by /exit
        await witness.send(type="say", id="after", text="after the fuzz")
        async with asyncio.timeout(WAIT):
            while (await witness.recv()).get("id") != "after":
                pass
    finally:
        await witness.close()
        await typist.close()
        await server.stop()
    assert not escaped, escaped


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(text_lines, min_size=1, max_size=25))
def test_random_text_lines_never_break_the_server(lines: list[bytes]) -> None:
    asyncio.run(text_exchange(lines))
