"""The IRC gateway over real sockets, on one server and on a cluster: an
IRC client registers (with CAP and SASL), joins channels, and talks with
JSON and plain-text users in the same rooms; the numerics it is owed."""

from __future__ import annotations

import base64

import pytest

from tests.peers import IrcPeer, JsonPeer, TextPeer
from tests.server.test_accounts import PASSWORD, operator


@pytest.fixture
async def chat(make_server):
    return await make_server(rate=1000.0, burst=1000, irc_port=0)


async def irc_user(chat, nick: str, **options) -> IrcPeer:
    peer = await IrcPeer.connect(chat.irc_port())
    await peer.register(nick, **options)
    return peer


async def test_registration_gives_the_welcome_burst_and_general(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    peer = await IrcPeer.connect(chat.irc_port())
    lines = await peer.register("bob")
    codes = [line.split()[1] for line in lines]
    for code in ("001", "002", "003", "004", "005", "251", "JOIN", "353", "366"):
        assert code in codes, (code, lines)
    assert lines[0] == ":conexion 001 bob :Welcome to the Conexion chat, bob"
    isupport = next(line for line in lines if " 005 " in line)
    assert "CHANTYPES=#" in isupport
    assert "PREFIX=(qo)~@" in isupport
    assert ":bob!bob@conexion JOIN #general" in lines
    names = next(line for line in lines if " 353 " in line)
    assert names.endswith(":ana bob")
    assert (await ana.expect("joined"))["name"] == "bob"
    await peer.close()
    assert (await ana.expect("left"))["name"] == "bob"


async def test_irc_json_and_text_users_talk_in_one_room(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    cleo: TextPeer = await connect(chat, "cleo", text=True)
    bob = await irc_user(chat, "bob")
    await bob.send("PRIVMSG #general :hello from irc")
    message = await ana.expect("message")
    assert (message["from"], message["text"]) == ("bob", "hello from irc")
    assert message["room"] == "general"
    assert "bob: hello from irc" in await cleo.until("hello from irc")
    await ana.say("hi bob\nsecond line")
    lines = await bob.until("second line")
    assert ":ana!ana@conexion PRIVMSG #general :hi bob" in lines
    assert lines[-1] == ":ana!ana@conexion PRIVMSG #general :second line"
    await bob.send("PRIVMSG #general :\x01ACTION waves\x01")
    assert (await ana.expect("message"))["action"] is True
    await cleo.type("/me nods")
    nods = ":cleo!cleo@conexion PRIVMSG #general :\x01ACTION nods\x01"
    assert (await bob.until("ACTION nods"))[-1] == nods
    assert (await ana.expect("message"))["text"] == "nods"
    # Direct messages, both ways.
    await bob.send("PRIVMSG ana :psst")
    dm = await ana.expect("dm")
    assert (dm["from"], dm["to"], dm["text"]) == ("bob", "ana", "psst")
    await ana.send(type="dm", id="d1", to="bob", text="yes?")
    assert (await bob.until("yes?"))[-1] == ":ana!ana@conexion PRIVMSG bob :yes?"


async def test_channels_are_rooms(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    bob = await irc_user(chat, "bob")
    await bob.send("JOIN #lab")
    lines = await bob.until(" 366 ")
    assert ":bob!bob@conexion JOIN #lab" in lines
    await ana.send(type="join", room="lab")
    await ana.expect("room")
    assert (await bob.until("JOIN #lab"))[-1] == ":ana!ana@conexion JOIN #lab"
    await bob.send("TOPIC #lab :Lab 3: sorting")
    news = await ana.expect("topic")
    assert (news["topic"], news["by"]) == ("Lab 3: sorting", "bob")
    await bob.until("TOPIC #lab")  # the setter sees it too
    await bob.send("TOPIC #lab")
    assert (await bob.until(" 332 "))[-1] == ":conexion 332 bob #lab :Lab 3: sorting"
    await bob.send("NAMES #lab")
    assert (await bob.until(" 353 "))[-1].endswith(":ana bob")
    await bob.send("LIST")
    listed = await bob.until(" 323 ")
    assert any(" 322 bob #lab 2 :Lab 3: sorting" in line for line in listed)
    await bob.send("WHO #lab")
    who = await bob.until(" 315 ")
    assert sum(" 352 " in line for line in who) == 2
    await bob.send("WHOIS ana")
    whois = await bob.until(" 318 ")
    assert any(" 319 bob ana :" in line and "#lab" in line for line in whois)
    await ana.send(type="part", room="lab")
    assert (await bob.until("PART"))[-1] == ":ana!ana@conexion PART #lab"
    await bob.send("PART #lab")
    assert (await bob.until("PART #lab"))[-1] == ":bob!bob@conexion PART #lab"
    await bob.send("PRIVMSG #lab :anyone?")
    assert " 404 bob #lab " in (await bob.until(" 404 "))[-1]


async def test_a_rename_and_a_quit_reach_everyone(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    bob = await irc_user(chat, "bob")
    await ana.expect("joined")
    await bob.send("NICK bobby")
    renamed = await ana.expect("renamed")
    assert (renamed["old"], renamed["new"]) == ("bob", "bobby")
    assert (await bob.until("NICK"))[-1] == ":bob!bob@conexion NICK bobby"
    await ana.send(type="nick", name="anita")
    await ana.expect("renamed")
    assert (await bob.until("NICK anita"))[-1] == ":ana!ana@conexion NICK anita"
    await bob.send("QUIT :lunch")
    assert "ERROR :Closing Link: lunch" in await bob.until("ERROR")
    left = await ana.expect("left")
    assert (left["name"], left["reason"]) == ("bobby", "quit")


async def test_nick_problems_get_their_numerics(chat, connect) -> None:
    await connect(chat, "ana")
    peer = await IrcPeer.connect(chat.irc_port())
    await peer.send("NICK ana")
    await peer.send("USER x 0 * :x")
    assert " 433 * ana :Nickname is already in use" in (await peer.until(" 433 "))[-1]
    await peer.send("NICK [bad]")
    assert " 432 " in (await peer.until(" 432 "))[-1]
    await peer.send("NICK bob")
    assert " 001 bob " in (await peer.until(" 001 "))[-1]
    await peer.send("FROB")
    assert (await peer.until(" 421 "))[-1] == ":conexion 421 bob FROB :Unknown command"
    await peer.send("PRIVMSG nobody :hi")
    assert " 401 bob nobody " in (await peer.until(" 401 "))[-1]


async def test_commands_before_registration_are_refused(chat) -> None:
    peer = await IrcPeer.connect(chat.irc_port())
    await peer.send("JOIN #general")
    assert (await peer.until(" 451 "))[-1] == ":conexion 451 * :You have not registered"
    await peer.send("PING :abc")
    assert (await peer.until("PONG"))[-1] == ":conexion PONG conexion abc"


async def test_server_time_and_echo_message(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    bob = await irc_user(chat, "bob", caps=("server-time", "echo-message", "message-tags"))
    await bob.send("PRIVMSG #general :mine")
    echo = (await bob.until("PRIVMSG #general :mine"))[-1]
    assert echo.startswith("@time=20")
    assert echo.endswith(":bob!bob@conexion PRIVMSG #general :mine")
    ack_ts = (await ana.expect("message"))["ts"]
    assert echo.startswith(f"@time={ack_ts} ")
    sent = await ana.say("stamped")
    line = (await bob.until("stamped"))[-1]
    assert line == f"@time={sent['ts']} :ana!ana@conexion PRIVMSG #general :stamped"


async def test_a_long_message_is_cut_to_fit_irc_lines(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    bob = await irc_user(chat, "bob")
    text = "é" * 1500  # 3,000 bytes of UTF-8
    await ana.say(text)
    got = ""
    while len(got) < 1500:
        line = (await bob.until("PRIVMSG #general"))[-1]
        assert len(line.encode()) + 2 <= 512
        got += line.split(" :", 1)[1]
    assert got == text


async def test_sasl_logs_in_to_an_account(make_server, tmp_path, connect) -> None:
    server = await make_server(db=str(tmp_path / "chat.db"), irc_port=0)
    assert operator(server, tmp_path, "add", "teacher", password=PASSWORD) == 0
    # Without SASL the registered name is refused, with a hint.
    peer = await IrcPeer.connect(server.irc_port())
    await peer.send("NICK teacher")
    await peer.send("USER t 0 * :t")
    assert "SASL" in (await peer.until(" 433 "))[-1]
    await peer.close()
    peer = await IrcPeer.connect(server.irc_port())
    await peer.send("CAP LS 302")
    assert "sasl=PLAIN" in (await peer.until(" LS "))[-1]
    await peer.send("CAP REQ :sasl")
    await peer.until(" ACK ")
    await peer.send("NICK teacher")
    await peer.send("USER t 0 * :t")
    await peer.send("AUTHENTICATE PLAIN")
    await peer.until("AUTHENTICATE +")
    wrong = base64.b64encode(b"\0teacher\0not the password").decode()
    await peer.send(f"AUTHENTICATE {wrong}")
    assert " 904 " in (await peer.until(" 904 ", timeout=10))[-1]
    await peer.send("AUTHENTICATE PLAIN")
    await peer.until("AUTHENTICATE +")
    right = base64.b64encode(f"\0teacher\0{PASSWORD}".encode()).decode()
    await peer.send(f"AUTHENTICATE {right}")
    await peer.until(" 903 ", timeout=10)
    await peer.send("CAP END")
    await peer.until(" 366 ")
    await peer.send("WHOIS teacher")
    assert any(" 330 " in line for line in await peer.until(" 318 "))


async def test_moderation_maps_to_kick_and_mode(make_server, tmp_path, connect) -> None:
    server = await make_server(db=str(tmp_path / "chat.db"), irc_port=0, rate=1000.0, burst=1000)
    assert operator(server, tmp_path, "add", "teacher", password=PASSWORD) == 0
    teacher: JsonPeer = await connect(server)
    await teacher.send(type="hello", name="teacher", proto=1, account_password=PASSWORD)
    await teacher.expect("welcome")
    await teacher.send(type="join", room="lab")
    await teacher.expect("room")
    gus = await irc_user(server, "gus")
    await gus.send("JOIN #lab")
    names = await gus.until(" 353 ")
    assert names[-1].endswith(":~teacher gus") or names[-1].endswith(":gus ~teacher")
    await gus.send("MODE #lab +m")
    assert " 482 gus #lab " in (await gus.until(" 482 "))[-1]
    await teacher.send(type="mode", room="lab", moderated=True)
    await gus.until("NOTICE #lab")
    await gus.send("MODE #lab")
    assert (await gus.until(" 324 "))[-1] == ":conexion 324 gus #lab +m"
    await gus.send("PRIVMSG #lab :can I?")
    assert " 404 gus #lab " in (await gus.until(" 404 "))[-1]
    await teacher.send(type="mod", action="kick", name="gus", room="lab", reason="testing")
    assert (await gus.until("KICK"))[-1] == ":teacher!teacher@conexion KICK #lab gus :testing"


async def test_a_bad_line_harms_nobody(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    bob = await irc_user(chat, "bob")
    await bob.send_raw(b"PRIVMSG #general :\xff\xfe\r\n")
    assert "not UTF-8" in (await bob.until("NOTICE"))[-1]
    await bob.send_raw(b"\r\n\r\n   \r\n")
    await bob.send("PRIVMSG #general :[bold]x[/] \x1b[2J")
    message = await ana.expect("message")
    assert message["text"] == "[bold]x[/] [2J"  # controls stripped, markup only text
    await bob.send("MODE")
    assert " 461 " in (await bob.until(" 461 "))[-1]


async def test_irc_over_tls_and_plain_side_by_side(make_server, connect, tls_files) -> None:
    server = await make_server(irc_port=0, irc_tls_port=0, **tls_files.server_options())
    ana: JsonPeer = await connect(server, tls=tls_files.client_context())
    await ana.hello("ana")
    secure = await IrcPeer.connect(server.irc_port("irc-tls"), tls=tls_files.client_context())
    await secure.register("sam")
    assert secure.writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    plain = await IrcPeer.connect(server.irc_port())
    await plain.register("pat")
    await secure.send("PRIVMSG #general :over tls")
    assert (await plain.until("over tls"))[-1] == ":sam!sam@conexion PRIVMSG #general :over tls"
    assert (await ana.expect("message"))["text"] == "over tls"


async def test_a_flooding_irc_client_is_limited_and_others_carry_on(make_server, connect) -> None:
    server = await make_server(irc_port=0, rate=5.0, burst=5)
    ana: JsonPeer = await connect(server, "ana")
    bob = await irc_user(server, "bob")
    await bob.send_raw(b"".join(b"PRIVMSG #general :spam %d\r\n" % i for i in range(50)))
    notices = await bob.until("too many messages")
    assert notices[-1].startswith(":conexion NOTICE bob :too many messages")
    got = [await ana.expect("message") for _ in range(5)]
    assert [m["text"] for m in got] == [f"spam {i}" for i in range(5)]
    assert (await ana.say("still fine"))["type"] == "ack"


async def test_an_irc_client_that_never_slows_down_is_cut_off(make_server, connect) -> None:
    server = await make_server(irc_port=0, rate=1.0, burst=1, max_rate_limited=10)
    bob = await irc_user(server, "bob")
    await bob.send_raw(b"".join(b"PRIVMSG #general :x\r\n" for _ in range(30)))
    assert "Excess Flood" in (await bob.until("ERROR"))[-1]
    assert await bob.closed()
