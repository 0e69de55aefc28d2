"""Chatting over real sockets: broadcast, acks, idempotent resends, DMs, names,
who, ping/pong, bye and welcome, as PROTOCOL.md describes them."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.peers import JsonPeer

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# -- broadcast ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 8])
async def test_broadcast_reaches_everyone_but_the_sender_in_seq_order(peers, n: int) -> None:
    group: list[JsonPeer] = [await peers(f"user{i}") for i in range(n)]
    per_peer = 4
    # Everyone sends at once, without waiting for acks.
    for round_ in range(per_peer):
        for i, peer in enumerate(group):
            await peer.send(type="say", id=f"u{i}-{round_}", text=f"from {i} #{round_}")

    async def collect(i: int, peer: JsonPeer) -> tuple[dict[str, dict], list[dict]]:
        acks: dict[str, dict] = {}
        messages: list[dict] = []
        while len(acks) < per_peer or len(messages) < (n - 1) * per_peer:
            frame = await peer.recv()
            if frame["type"] == "ack":
                acks[frame["id"]] = frame
            elif frame["type"] == "message":
                messages.append(frame)
            else:
                assert frame["type"] == "joined", frame
        assert await peer.sync() == []  # nothing more: not its own messages
        return acks, messages

    results = await asyncio.gather(*(collect(i, p) for i, p in enumerate(group)))
    seq_of = {}
    for i, (acks, _) in enumerate(results):
        assert sorted(acks) == sorted(f"u{i}-{r}" for r in range(per_peer))
        for ack in acks.values():
            assert TS.match(ack["ts"])
            seq_of[ack["id"]] = ack["seq"]
    assert len(set(seq_of.values())) == n * per_peer  # every send its own seq
    for i, (_, messages) in enumerate(results):
        seqs = [m["seq"] for m in messages]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)  # strictly increasing
        assert all(m["from"] != f"user{i}" for m in messages)
        assert all(m["room"] == "general" for m in messages)
        # Each message carries the seq its sender was acknowledged with.
        for m in messages:
            sender, round_ = re.fullmatch(r"from (\d+) #(\d+)", m["text"]).groups()  # type: ignore[union-attr]
            assert m["from"] == f"user{sender}"
            assert m["seq"] == seq_of[f"u{sender}-{round_}"]
        assert len(messages) == (n - 1) * per_peer


async def test_sender_gets_an_ack_and_not_its_own_message(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    assert (await ana.recv())["type"] == "joined"
    await ana.send(type="say", id="k1", text="hola")
    ack = await ana.recv()
    assert ack["type"] == "ack"
    assert ack["id"] == "k1"
    assert isinstance(ack["seq"], int)
    assert TS.match(ack["ts"])
    assert await ana.sync() == []  # no `message` of its own
    message = await bob.expect("message")
    assert message == {
        "type": "message",
        "seq": ack["seq"],
        "ts": ack["ts"],
        "room": "general",
        "from": "ana",
        "text": "hola",
    }


async def test_repeated_id_is_acked_again_and_relayed_once(peers) -> None:
    ana, bob, cleo = await peers("ana"), await peers("bob"), await peers("cleo")
    first = await ana.say("only once", id="dup-1")
    again = await ana.say("only once", id="dup-1")
    changed = await ana.say("a different text, same id", id="dup-1")
    assert first["type"] == again["type"] == changed["type"] == "ack"
    assert (
        (again["seq"], again["ts"])
        == (changed["seq"], changed["ts"])
        == (
            first["seq"],
            first["ts"],
        )
    )
    marker = await ana.say("marker", id="dup-2")
    assert marker["seq"] > first["seq"]
    for peer in (bob, cleo):
        frames = [f for f in await peer.sync() if f["type"] == "message"]
        assert [(f["text"], f["seq"]) for f in frames] == [
            ("only once", first["seq"]),
            ("marker", marker["seq"]),
        ]


async def test_resend_after_reconnect_under_the_same_name_is_not_duplicated(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    ack = await ana.say("sent before the drop", id="r-1")
    assert (await bob.expect("message"))["seq"] == ack["seq"]
    await ana.close()
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "lost")
    back = await peers("ANA")
    again = await back.say("sent before the drop", id="r-1")
    assert (again["type"], again["seq"], again["ts"]) == ("ack", ack["seq"], ack["ts"])
    assert [f["type"] for f in await bob.sync()] == ["joined"]  # and no second message


async def test_action_is_relayed_with_its_flag(peers, text_peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    cleo = await text_peers("cleo")
    ack = await ana.say("waves", action=True)
    message = await bob.expect("message")
    assert (message["action"], message["text"], message["seq"]) == (True, "waves", ack["seq"])
    assert re.fullmatch(r"\[\d\d:\d\d\] \* ana waves", await cleo.until("waves"))


async def test_joined_goes_to_the_others_only(peers) -> None:
    ana = await peers("ana")
    bob = await peers("bob")
    joined = await ana.recv()
    assert joined["type"] == "joined"
    assert joined["name"] == "bob"
    assert TS.match(joined["ts"])
    assert joined.get("room", "general") == "general"
    assert await bob.sync() == []


# -- direct messages ----------------------------------------------------------------


async def test_dm_goes_to_its_target_only(peers) -> None:
    ana, bob, cleo = await peers("ana"), await peers("bob"), await peers("cleo")
    await ana.send(type="dm", id="d1", to="BOB", text="psst")
    ack = await ana.expect("ack")
    assert ack["id"] == "d1"
    dm = await bob.expect("dm")
    assert dm == {
        "type": "dm",
        "seq": ack["seq"],
        "ts": ack["ts"],
        "from": "ana",
        "to": "bob",
        "text": "psst",
    }
    assert [f for f in await cleo.sync() if f["type"] != "joined"] == []
    assert [f for f in await ana.sync() if f["type"] != "joined"] == []


async def test_dm_to_nobody(peers) -> None:
    ana = await peers("ana")
    await ana.send(type="dm", id="d2", to="ghost", text="anyone?")
    error = await ana.expect("error")
    assert (error["code"], error["id"]) == ("no_such_user", "d2")


# -- names ------------------------------------------------------------------------


async def test_nick_is_announced_to_everyone(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send(type="nick", name="anita")
    for peer in (ana, bob):
        renamed = await peer.expect("renamed")
        assert (renamed["old"], renamed["new"]) == ("ana", "anita")
        assert TS.match(renamed["ts"])
    await bob.send(type="who")
    assert (await bob.expect("users"))["users"] == ["anita", "bob"]
    # The old name is free again.
    assert (await peers("ana")).name == "ana"


@pytest.mark.parametrize(
    ("new", "code"),
    [("BOB", "name_taken"), ("bOb", "name_taken"), ("an a", "bad_name"), ("#x", "bad_name")],
)
async def test_nick_refused(peers, new: str, code: str) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send(type="nick", name=new)
    assert (await ana.expect("error"))["code"] == code
    assert [f for f in await bob.sync() if f["type"] == "renamed"] == []
    await ana.send(type="who")
    assert (await ana.expect("users"))["users"] == ["ana", "bob"]


async def test_case_only_rename_is_allowed(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send(type="nick", name="Ana")
    assert (await bob.expect("renamed"))["new"] == "Ana"
    assert (await ana.expect("renamed"))["new"] == "Ana"


async def test_who_lists_everyone(peers, text_peers) -> None:
    ana = await peers("ana")
    await peers("Cleo")
    await text_peers("bob")
    await ana.send(type="who")
    users = await ana.expect("users")
    assert users == {"type": "users", "room": "general", "users": ["ana", "bob", "Cleo"]}


# -- ping / pong ------------------------------------------------------------------

T_VALUES = [0, -1, 1.5, "text", "", True, None, [1, [2, {"a": None}]], {"k": "v"}, 10**30]


@pytest.mark.parametrize("t", T_VALUES, ids=[repr(t)[:20] for t in T_VALUES])
async def test_client_ping_echoes_any_json_value(peers, t: Any) -> None:
    ana = await peers("ana")
    await ana.send(type="ping", t=t)
    pong = await ana.recv()
    assert pong == {"type": "pong", "t": t} or (t is None and pong == {"type": "pong"})


async def test_ping_without_t_before_hello(peers) -> None:
    anon = await peers()
    await anon.send(type="ping")
    assert await anon.recv() == {"type": "pong"}


# -- welcome, history, rooms ----------------------------------------------------------


async def test_welcome_contents(make_server, connect) -> None:
    server = await make_server(welcome_history=3, motd="Be kind.\nNo spam.")
    ana = await connect(server, "ana")
    acks = [await ana.say(f"m{i}") for i in range(5)]
    bob = await connect(server)
    await bob.send(type="hello", name="bob", proto=1, client="tests/1", password="ignored")
    welcome = await bob.recv()
    assert welcome["type"] == "welcome"
    assert welcome["proto"] == 1
    assert welcome["name"] == "bob"
    assert welcome["server"].startswith("conexion/")
    assert welcome["users"] == ["ana", "bob"]
    assert welcome["rooms"] == ["general"]
    assert welcome["motd"] == "Be kind.\nNo spam."
    history = welcome["history"]
    assert [m["text"] for m in history] == ["m2", "m3", "m4"]  # oldest first, capped
    assert [m["seq"] for m in history] == [a["seq"] for a in acks[2:]]
    assert all(m["type"] == "message" and m["from"] == "ana" for m in history)


async def test_welcome_without_motd_or_history(peers) -> None:
    welcome = await (await peers()).hello("ana")
    assert "motd" not in welcome
    assert welcome["history"] == []
    assert welcome["users"] == ["ana"]


async def test_history_request(peers) -> None:
    ana = await peers("ana")
    acks = [await ana.say(f"h{i}") for i in range(6)]
    await ana.send(type="history", room="general", before=acks[4]["seq"], limit=3)
    reply = await ana.expect("history")
    assert reply["room"] == "general"
    assert [m["text"] for m in reply["messages"]] == ["h1", "h2", "h3"]


# -- bye ----------------------------------------------------------------------------


async def test_bye_tells_the_others_and_closes(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send(type="bye", reason="done for today")
    assert await ana.closed()
    left = await bob.expect("left")
    assert (left["name"], left["reason"]) == ("ana", "quit")
    assert TS.match(left["ts"])
    await bob.send(type="who")
    assert (await bob.expect("users"))["users"] == ["bob"]


async def test_bye_before_hello_closes(peers) -> None:
    anon = await peers()
    await anon.send(type="bye")
    assert await anon.closed()


async def test_frames_queued_before_bye_are_delivered(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send_raw(b'{"type":"say","id":"last","text":"last words"}\n{"type":"bye"}\n')
    assert (await ana.expect("ack"))["id"] == "last"
    assert await ana.closed()
    assert (await bob.expect("message"))["text"] == "last words"
    assert (await bob.expect("left"))["reason"] == "quit"


async def test_a_restarted_server_continues_the_seq(make_server) -> None:
    from tests.peers import JsonPeer

    first = await make_server()
    ana = await JsonPeer.connect(first.port)
    await ana.hello("ana")
    before = (await ana.say("before the restart"))["seq"]
    await ana.close()
    await first.stop()
    second = await make_server()
    ana = await JsonPeer.connect(second.port)
    await ana.hello("ana")
    assert (await ana.say("after the restart"))["seq"] > before
    await ana.close()
