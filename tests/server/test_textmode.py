"""Plain-text mode over a raw socket, as `nc` or `telnet` would use it."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from conexion_server.textformat import HELP_LINES
from tests.peers import TextPeer

CLOCK = r"\[\d\d:\d\d\]"


def local_clock(ts: str) -> str:
    epoch = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    return time.strftime("[%H:%M]", time.localtime(epoch))


# -- choosing a name ---------------------------------------------------------------------


async def test_welcome_lines(server, text_peers, peers) -> None:
    await peers("ana")
    bob = await TextPeer.connect(server.port)
    try:
        await bob.send_raw(b"\n   \nbob\r\n")  # blank lines first, then a name with CRLF
        assert await bob.text() == "* Welcome, bob. Type /help for commands."
        assert await bob.text() == "* 2 online: ana, bob"
        assert await bob.sync() == []
    finally:
        await bob.close()


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("ana smith", "a name cannot hold spaces"),
        ("ana!", "(not ! (U+0021))"),
        ("#room", "must start with a letter or a digit"),
        ("/cmd", "must start with a letter or a digit"),
        ("x" * 25, "at most 24 characters"),
        ("\u0301\u0301", "must start with a letter or a digit"),
        ("bell\x07", "U+0007"),
    ],
)
async def test_bad_name_gets_one_line_then_another_try(server, bad: str, why: str) -> None:
    peer = await TextPeer.connect(server.port)
    try:
        await peer.type(bad)
        line = await peer.text()
        assert line.startswith("! ")
        assert why in line
        assert line.endswith("type another name:")
        await peer.type("good")
        assert await peer.text() == "* Welcome, good. Type /help for commands."
    finally:
        await peer.close()


@pytest.mark.parametrize("taken", ["ana", "ANA", "Ana"])
async def test_taken_name(server, peers, taken: str) -> None:
    await peers("ana")
    peer = await TextPeer.connect(server.port)
    try:
        await peer.type(taken)
        assert await peer.text() == f"! the name {taken} is taken; type another name:"
        await peer.type("ana2")
        assert (await peer.text()).startswith("* Welcome, ana2.")
    finally:
        await peer.close()


async def test_names_in_nfd_are_shown_in_nfc(server, peers) -> None:
    ana = await peers("ana")
    peer = await TextPeer.connect(server.port)
    try:
        await peer.type("Jose\u0301")
        assert await peer.text() == "* Welcome, José. Type /help for commands."
        assert (await ana.expect("joined"))["name"] == "José"
    finally:
        await peer.close()


# -- chatting ---------------------------------------------------------------------------


async def test_each_line_is_confirmed_and_relayed(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.send_raw(b"one\r\n\n   \n\ttwo\n")
    first, second = await bob.text(), await bob.text()
    assert first == second == "* sent"
    assert await bob.sync() == []  # the blank lines produced nothing
    m1, m2 = await ana.expect("message"), await ana.expect("message")
    assert (m1["text"], m1["from"]) == ("one", "bob")
    assert m2["text"] == "\ttwo"
    assert m2["seq"] > m1["seq"]


async def test_json_and_text_users_see_each_other(peers, text_peers) -> None:
    ana = await peers("ana")
    cleo = await text_peers("cleo")
    bob = await text_peers("bob")
    ack = await ana.say("hola")
    line = await bob.until("hola")
    assert line == f"{local_clock(ack['ts'])} ana: hola"
    assert re.fullmatch(CLOCK + r" ana: hola", line)
    await bob.type("hi from text")
    message = await ana.expect("message")
    assert message["text"] == "hi from text"
    assert await cleo.until("hi from text") == f"{local_clock(message['ts'])} bob: hi from text"


async def test_multi_line_json_message_is_indented(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await ana.say("first line\nsecond line\n\nfourth\tline")
    head = await bob.until("first line")
    assert re.fullmatch(CLOCK + r" ana: first line", head)
    assert [await bob.text() for _ in range(3)] == [
        "    second line",
        "    ",
        "    fourth\tline",
    ]


async def test_a_line_starting_with_a_brace_after_the_name_is_text(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.type('{"type":"bye"}')
    assert (await bob.text()) == "* sent"
    assert (await ana.expect("message"))["text"] == '{"type":"bye"}'


async def test_double_slash_escapes_a_slash(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.type("//exit is not a command here")
    assert (await bob.text()) == "* sent"
    assert (await ana.expect("message"))["text"] == "/exit is not a command here"


async def test_invalid_utf8_line_is_explained_and_the_session_goes_on(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.send_raw(b"caf\xe9 latin-1\n")
    assert await bob.text() == "! that line is not valid UTF-8 text; nothing was sent"
    await bob.type("café")
    assert (await bob.text()) == "* sent"
    assert (await ana.expect("message"))["text"] == "café"


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("\x1b\x07", "! the message is empty"),
        ("x" * 4001, "! the message is 4001 characters long; the limit is 4000"),
    ],
    ids=["only-controls", "4001"],
)
async def test_bad_text_from_a_text_user(peers, text_peers, line: str, answer: str) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.type(line)
    assert await bob.text() == answer
    assert [f for f in await ana.sync() if f["type"] == "message"] == []


async def test_rate_limit_applies_to_text_users(make_server, connect) -> None:
    server = await make_server(rate=0.01, burst=2)
    bob = await connect(server, "bob", text=True)
    await bob.send_raw(b"a\nb\nc\n")
    lines = [await bob.text() for _ in range(3)]
    assert lines[0] == "* sent"
    assert lines[1] == "* sent"
    assert lines[2].startswith("! too many messages")


# -- commands ---------------------------------------------------------------------------


async def test_who(peers, text_peers) -> None:
    await peers("Ana")
    bob = await text_peers("bob")
    await text_peers("cleo")
    await bob.type("/who")
    assert await bob.until("online") == "* 3 online: Ana, bob, cleo"


async def test_help(text_peers) -> None:
    bob = await text_peers("bob")
    await bob.type("/help")
    assert [await bob.text() for _ in HELP_LINES] == list(HELP_LINES)
    for command in ("/me", "/msg", "/nick", "/who", "/help", "/exit", "//"):
        assert any(command in line for line in HELP_LINES)


async def test_msg(peers, text_peers) -> None:
    ana = await peers("ana")
    cleo = await text_peers("cleo")
    bob = await text_peers("bob")
    await bob.type("/msg ANA psst, ana")
    confirmation = await bob.text()
    assert confirmation == "* sent to ana"  # the name as the server stores it
    dm = await ana.expect("dm")
    assert (dm["from"], dm["to"], dm["text"]) == ("bob", "ana", "psst, ana")
    await ana.send(type="dm", id="back", to="cleo", text="psst, cleo\nsecond")
    ack = await ana.expect("ack")
    assert await cleo.until("[dm]") == f"{local_clock(ack['ts'])} [dm] ana: psst, cleo"
    assert await cleo.text() == "    second"
    assert not [line for line in await bob.sync() if "psst" in line]


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/msg ghost hello", "! nobody called ghost is online"),
        ("/msg ana", "! usage: /msg NAME TEXT"),
        ("/msg", "! usage: /msg NAME TEXT"),
        ("/nick", "! usage: /nick NAME"),
        ("/nick two words", "! a name cannot hold spaces ('two words'); try two_words"),
        ("/me", "! usage: /me TEXT"),
        ("/dance", "! unknown command /dance; type /help for the list"),
        ("/", "! unknown command /; type /help for the list"),
    ],
)
async def test_command_errors(peers, text_peers, line: str, answer: str) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await bob.type(line)
    assert await bob.text() == answer
    assert [f for f in await ana.sync() if f["type"] in ("message", "dm")] == []


async def test_nick(peers, text_peers) -> None:
    ana = await peers("ana")
    cleo = await text_peers("cleo")
    bob = await text_peers("bob")
    await bob.type("/nick bobby")
    assert await bob.text() == "* bob is now bobby"
    assert await cleo.until("is now") == "* bob is now bobby"
    renamed = await ana.expect("renamed")
    assert (renamed["old"], renamed["new"]) == ("bob", "bobby")
    await bob.type("/nick ANA")
    assert await bob.text() == "! the name ANA is taken"
    await bob.type("/nick bad!name")
    assert (await bob.text()).startswith("! a name may hold only")


async def test_me(peers, text_peers) -> None:
    ana = await peers("ana")
    cleo = await text_peers("cleo")
    bob = await text_peers("bob")
    await bob.type("/me waves")
    assert (await bob.text()) == "* sent"
    message = await ana.expect("message")
    assert (message["text"], message["action"]) == ("waves", True)
    assert await cleo.until("waves") == f"{local_clock(message['ts'])} * bob waves"


@pytest.mark.parametrize("command", ["/exit", "/quit", "/EXIT now"])
async def test_exit(peers, text_peers, command: str) -> None:
    ana = await peers("ana")
    cleo = await text_peers("cleo")
    bob = await text_peers("bob")
    await bob.type(command)
    assert await bob.text() == "* bye"
    assert await bob.closed()
    left = await ana.expect("left")
    assert (left["name"], left["reason"]) == ("bob", "quit")
    assert await cleo.until("left") == "* bob left (quit)"


async def test_welcome_shows_motd_and_recent_messages(make_server, connect) -> None:
    server = await make_server(motd="Be kind.\nNo spam.", welcome_history=2)
    ana = await connect(server, "ana")
    for text in ("one", "two", "three\nthree and a half"):
        await ana.say(text)
    bob: TextPeer = await connect(server, text=True)
    await bob.type("bob")
    lines = [await bob.text() for _ in range(9)]
    assert lines[0] == "* Welcome, bob. Type /help for commands."
    assert lines[1:3] == ["* Be kind.", "    No spam."]
    assert lines[3] == "* --- recent messages ---"
    assert re.fullmatch(CLOCK + " ana: two", lines[4])
    assert re.fullmatch(CLOCK + " ana: three", lines[5])
    assert lines[6] == "    three and a half"
    assert lines[7] == "* --- end of recent messages ---"
    assert lines[8] == "* 2 online: ana, bob"


async def test_text_and_json_users_share_history(peers, text_peers) -> None:
    bob = await text_peers("bob")
    await bob.type("said in plain text")
    assert await bob.text() == "* sent"
    welcome = await (await peers()).hello("ana")
    assert [(m["from"], m["text"]) for m in welcome["history"]] == [("bob", "said in plain text")]


async def test_welcome_shows_stored_dms_of_a_returning_text_user(server, peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    await ana.send(type="dm", id="d1", to="bob", text="psst")
    assert (await ana.expect("ack"))["type"] == "ack"
    await bob.until("[dm] ana: psst")
    await bob.type("/msg ana back at you")
    await bob.until("* sent to ana")
    await bob.type("/exit")
    await bob.closed()

    again = await text_peers()
    await again.type("bob")
    lines = [await again.text() for _ in range(5)]
    assert lines[1] == "* --- recent messages ---"
    assert lines[2].endswith("] [dm] ana: psst")
    assert lines[3].endswith("] [dm to ana] bob: back at you")
    assert lines[4] == "* --- end of recent messages ---"


async def test_a_silent_nc_user_is_greeted_then_asked_nothing_more(make_server, connect) -> None:
    server = await make_server(greet_after=0.2)
    peer = await connect(server, text=True)
    greeting = await peer.text()
    assert greeting.startswith("* This is a Conexion chat server. Type your name")
    await peer.type("ana")
    await peer.until(" online: ")
