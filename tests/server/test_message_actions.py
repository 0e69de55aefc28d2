"""Replies, reactions, edits, deletes and search over real sockets, on one
server (in memory and on SQLite) and on a cluster; JSON and plain-text
users; who may do what; resends; history and restarts showing the current
state."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from tests.peers import JsonPeer, TextPeer
from tests.server.test_moderation import Lab, lab  # noqa: F401 (the fixture)


@pytest.fixture(params=["memory", "sqlite"])
async def chat(request, make_server, tmp_path):
    """A server on each kind of store (the cluster runs the memory variant)."""
    if request.param == "sqlite":
        if request.getfixturevalue("deployment") == "cluster":
            pytest.skip("a cluster keeps its history in Redis")
        return await make_server(db=str(tmp_path / "chat.db"), rate=1000.0, burst=1000)
    return await make_server(rate=1000.0, burst=1000)


async def pair(chat, connect) -> tuple[JsonPeer, JsonPeer]:
    ana: JsonPeer = await connect(chat, "ana")
    bob: JsonPeer = await connect(chat, "bob")
    await ana.expect("joined")
    return ana, bob


async def said(sender: JsonPeer, hearer: JsonPeer, text: str, **extra) -> dict:
    """`sender` says `text`; the message as `hearer` receives it."""
    ack = await sender.say(text, **extra)
    assert ack["type"] == "ack", ack
    message = await hearer.expect("message")
    assert message["seq"] == ack["seq"]
    return message


async def history(peer: JsonPeer, room: str = "general") -> dict[int, dict]:
    await peer.send(type="history", room=room)
    return {m["seq"]: m for m in (await peer.expect("history"))["messages"]}


# -- replies ----------------------------------------------------------------------------


async def test_a_reply_names_what_it_answers_live_and_in_history(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    question = await said(ana, bob, "who has the slides?")
    answer = await said(bob, ana, "I do", reply_to=question["seq"])
    assert (answer["reply_to"], answer["reply_from"]) == (question["seq"], "ana")
    kept = (await history(ana))[answer["seq"]]
    assert (kept["reply_to"], kept["reply_from"], kept["text"]) == (question["seq"], "ana", "I do")
    assert "reply_to" not in (await history(ana))[question["seq"]]


async def test_a_reply_to_no_message_is_refused_and_costs_nothing(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    last = (await ana.say("hello"))["seq"]
    for seq in (last + 1000, 1):
        await bob.send(type="say", id=f"r{seq}", text="to nothing", reply_to=seq)
        refused = await bob.expect_any("error")
        assert (refused["code"], refused["id"]) == ("no_such_message", f"r{seq}")
    for bad in (0, -1, 2**63, "1"):
        await bob.send(type="say", id="bad", text="x", reply_to=bad)
        assert (await bob.expect_any("error"))["code"] == "bad_frame"
    assert (await bob.say("still here"))["type"] == "ack"


async def test_a_resent_reply_is_stored_once(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    question = await said(ana, bob, "ready?")
    first = await bob.say("yes", id="same", reply_to=question["seq"])
    again = await bob.say("yes", id="same", reply_to=question["seq"])
    assert first == again
    assert (await ana.expect("message"))["seq"] == first["seq"]
    replies = [m for m in (await history(ana)).values() if m.get("reply_to") == question["seq"]]
    assert len(replies) == 1


# -- reactions ----------------------------------------------------------------------------


async def test_a_reaction_reaches_everyone_with_who_gave_it(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    cleo: JsonPeer = await connect(chat, "cleo")
    message = await said(ana, bob, "we shipped it")
    await cleo.expect("message")
    await bob.send(type="react", room="general", seq=message["seq"], emoji="🎉", on=True)
    for peer in (ana, bob, cleo):
        news = await peer.expect("reacted")
        assert {k: news[k] for k in ("seq", "emoji", "by", "on", "names", "author")} == {
            "seq": message["seq"],
            "emoji": "🎉",
            "by": "bob",
            "on": True,
            "names": ["bob"],
            "author": "ana",
        }
    await cleo.send(type="react", room="general", seq=message["seq"], emoji="🎉")  # a toggle
    assert (await ana.expect("reacted"))["names"] == ["bob", "cleo"]
    await cleo.send(type="react", room="general", seq=message["seq"], emoji="👍")
    assert (await ana.expect("reacted"))["emoji"] == "👍"
    kept = (await history(ana))[message["seq"]]
    assert kept["reactions"] == [
        {"emoji": "🎉", "names": ["bob", "cleo"]},
        {"emoji": "👍", "names": ["cleo"]},
    ]


async def test_a_resent_reaction_changes_nothing_and_is_answered(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    message = await said(ana, bob, "lunch?")
    react = {"type": "react", "room": "general", "seq": message["seq"], "emoji": "👍"}
    await bob.send(**react, on=True)
    await ana.expect("reacted")
    await bob.expect("reacted")
    await bob.send(**react, on=True)  # the resend of a client that lost its answer
    assert (await bob.expect("reacted"))["names"] == ["bob"]
    assert not [f for f in await ana.sync() if f["type"] == "reacted"]  # the room heard nothing
    await bob.send(**react, on=False)
    for peer in (ana, bob):
        news = await peer.expect("reacted")
        assert (news["on"], news["names"]) == (False, [])
    await bob.send(**react, on=False)
    assert (await bob.expect("reacted"))["names"] == []
    assert "reactions" not in (await history(ana))[message["seq"]]


async def test_a_reaction_is_one_emoji(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    message = await said(ana, bob, "hi")
    for bad in ("", "ok", "👍👍 lol", "[bold]x[/]", "\x1b[2J", " ", "\u200d", "1", "a" * 40):
        await bob.send(type="react", room="general", seq=message["seq"], emoji=bad, id="e")
        refused = await bob.expect_any("error")
        assert (refused["code"], refused["id"]) == ("bad_frame", "e"), bad
    for good in ("👍🏽", "🇪🇸", "1️⃣", "👩‍👩‍👧", "❤️"):
        await bob.send(type="react", room="general", seq=message["seq"], emoji=good, on=True)
        assert (await bob.expect("reacted"))["emoji"] == good


async def test_a_message_takes_twenty_different_reactions(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    message = await said(ana, bob, "vote")
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for one in emoji[:20]:
        await bob.send(type="react", room="general", seq=message["seq"], emoji=one, on=True)
        await bob.expect("reacted")
    await bob.send(type="react", room="general", seq=message["seq"], emoji=emoji[20], on=True)
    assert (await bob.expect_any("error"))["code"] == "reaction_limit"
    # One already there still takes more people.
    await ana.sync()
    await ana.send(type="react", room="general", seq=message["seq"], emoji=emoji[0], on=True)
    assert (await ana.expect("reacted"))["names"] == ["bob", "ana"]


# -- edits and deletes ----------------------------------------------------------------


async def test_an_edit_reaches_everyone_and_history_shows_it(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    message = await said(ana, bob, "teh meeting is at 3")
    await ana.send(type="edit", room="general", seq=message["seq"], text="the meeting is at 3")
    for peer in (ana, bob):
        news = await peer.expect("edited")
        assert (news["seq"], news["text"], news["by"], news["author"]) == (
            message["seq"],
            "the meeting is at 3",
            "ana",
            "ana",
        )
    kept = (await history(bob))[message["seq"]]
    assert (kept["text"], kept["edited"]) == ("the meeting is at 3", True)
    # An edit again (a resend) is the same state, told again.
    await ana.send(type="edit", room="general", seq=message["seq"], text="the meeting is at 3")
    assert (await bob.expect("edited"))["text"] == "the meeting is at 3"


async def test_nobody_edits_or_deletes_anothers_message(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    message = await said(ana, bob, "mine")
    await bob.send(type="edit", room="general", seq=message["seq"], text="yours", id="e1")
    refused = await bob.expect_any("error")
    assert (refused["code"], refused["id"]) == ("forbidden", "e1")
    await bob.send(type="delete", room="general", seq=message["seq"], id="d1")
    assert (await bob.expect_any("error"))["code"] == "forbidden"
    await bob.send(type="edit", room="general", seq=message["seq"] + 99, text="x", id="e2")
    assert (await bob.expect_any("error"))["code"] == "no_such_message"
    await ana.send(type="edit", room="general", seq=message["seq"], text="\x07", id="e3")
    assert (await ana.expect_any("error"))["code"] == "bad_text"
    assert (await history(bob))[message["seq"]]["text"] == "mine"


async def test_a_deleted_message_loses_its_reactions_and_takes_no_more(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    message = await said(ana, bob, "oops")
    await bob.send(type="react", room="general", seq=message["seq"], emoji="😂", on=True)
    await ana.expect("reacted")
    await bob.expect("reacted")
    await ana.send(type="delete", room="general", seq=message["seq"])
    await bob.expect("deleted")
    kept = (await history(bob))[message["seq"]]
    assert (kept["deleted"], kept["text"], "reactions" in kept) == (True, "", False)
    for frame in (
        {"type": "react", "emoji": "👍"},
        {"type": "edit", "text": "back"},
        {"type": "say", "id": "r", "text": "re", "reply_to": message["seq"]},
    ):
        where = {"room": "general", "seq": message["seq"]} if frame["type"] != "say" else {}
        await bob.send(**frame, **where)
        assert (await bob.expect_any("error"))["code"] == "no_such_message"


async def test_a_moderator_edits_and_deletes_anyones_message(lab: Lab) -> None:  # noqa: F811
    message = await lab.gus.say("my password is hunter2", room="lab")
    await lab.teacher.send(type="edit", room="lab", seq=message["seq"], text="(removed a password)")
    assert (await lab.ana.expect("message"))["seq"] == message["seq"]
    news = await lab.ana.expect("edited")
    assert (news["by"], news["author"], news["text"]) == ("teacher", "gus", "(removed a password)")


async def test_a_muted_member_cannot_edit_or_react(lab: Lab) -> None:  # noqa: F811
    message = await lab.gus.say("hi", room="lab")
    await lab.teacher.send(type="mod", action="mute", name="gus", room="lab")
    await lab.gus.expect("moderation")
    await lab.gus.send(type="edit", room="lab", seq=message["seq"], text="x")
    assert (await lab.gus.expect_any("error"))["code"] == "muted"
    await lab.gus.send(type="react", room="lab", seq=message["seq"], emoji="👍")
    assert (await lab.gus.expect_any("error"))["code"] == "muted"


# -- search ----------------------------------------------------------------------------


async def test_search_finds_words_in_your_rooms_and_dms_newest_first(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    cleo: JsonPeer = await connect(chat, "cleo")
    await cleo.send(type="join", room="secret")
    await cleo.expect("room")
    assert (await cleo.say("the deployment key is here", room="secret"))["type"] == "ack"
    first = await ana.say("Deployment starts at noon")
    await bob.send(type="dm", id="d1", to="ana", text="how is the déploiement going?")
    await bob.expect_any("ack")
    await bob.send(type="dm", id="d2", to="cleo", text="deployment gossip")
    await bob.expect_any("ack")
    assert (await ana.expect("dm"))["from"] == "bob"
    second = await ana.say("the DEPLOY went well")
    await ana.sync()
    await ana.send(type="search", text="Déplo*", id="s1")  # case and accents do not count
    found = await ana.expect("found")
    assert found["id"] == "s1"
    # Newest first (messages of one millisecond in two conversations may
    # come in either order: their times are all that compares them).
    assert sorted(hit["text"] for hit in found["hits"]) == [
        "Deployment starts at noon",
        "how is the déploiement going?",
        "the DEPLOY went well",
    ]
    assert [h["seq"] for h in found["hits"] if h["type"] == "message"] == [
        second["seq"],
        first["seq"],
    ]
    assert "next" not in found
    # One room only; words must all be there.
    await ana.send(type="search", text="deployment noon", room="general")  # whole words
    assert [h["text"] for h in (await ana.expect("found"))["hits"]] == ["Deployment starts at noon"]
    await ana.send(type="search", text="deplo*", **{"with": "bob"})
    hits = (await ana.expect("found"))["hits"]
    assert [h["type"] for h in hits] == ["dm"]


async def test_search_pages_and_sees_edits_and_deletes(chat, connect) -> None:
    ana, bob = await pair(chat, connect)
    seqs = [(await ana.say(f"report number {i}"))["seq"] for i in range(7)]
    await ana.send(type="edit", room="general", seq=seqs[0], text="summary only")
    await ana.expect("edited")
    await ana.send(type="delete", room="general", seq=seqs[1])
    await ana.expect("deleted")
    await bob.sync()
    pages: list[list[str]] = []
    before = None
    while True:
        extra = {"before": before} if before else {}
        await bob.send(type="search", text="report", limit=2, **extra)
        found = await bob.expect("found")
        pages.append([h["text"] for h in found["hits"]])
        before = found.get("next")
        if before is None:
            break
    assert pages == [
        ["report number 6", "report number 5"],
        ["report number 4", "report number 3"],
        ["report number 2"],
    ]
    await bob.send(type="search", text="summary")
    (hit,) = (await bob.expect("found"))["hits"]
    assert (hit["seq"], hit["edited"]) == (seqs[0], True)


async def test_search_refuses_what_it_cannot_answer(chat, connect) -> None:
    ana, _ = await pair(chat, connect)
    for frame, code in (
        ({"text": "  !!! "}, "bad_text"),
        ({"text": "x" * 201}, "too_long"),
        ({"text": "hi", "before": "not a cursor"}, "bad_frame"),
        ({"text": "hi", "limit": 51}, "bad_frame"),
        ({"text": "hi", "room": "nowhere"}, "no_such_room"),
    ):
        await ana.send(type="search", id="q", **frame)
        refused = await ana.expect_any("error")
        assert (refused["code"], refused["id"]) == (code, "q"), frame
    await ana.send(type="search", text='" OR * NEAR( ^ -')  # FTS syntax is only words here
    assert (await ana.expect_any("found", "error"))["type"] == "found"


# -- plain-text users -------------------------------------------------------------------


async def test_text_users_reply_react_edit_delete_and_search(chat, connect) -> None:
    ana: JsonPeer = await connect(chat, "ana")
    bob: TextPeer = await connect(chat, "bob", text=True)
    await ana.expect("joined")
    question = await ana.say("anyone for the lab at 4?")
    await bob.until("anyone for the lab")
    await bob.type("/reply ana count me in")
    reply = await ana.expect("message")
    assert (reply["text"], reply["reply_to"], reply["reply_from"]) == (
        "count me in",
        question["seq"],
        "ana",
    )
    await bob.type("/react :+1: ana")
    assert (await ana.expect("reacted"))["emoji"] == "👍"
    await bob.type("/edit count me in, with a laptop")
    assert (await ana.expect("edited"))["text"] == "count me in, with a laptop"
    await ana.send(type="react", room="general", seq=reply["seq"], emoji="🎉", on=True)
    await ana.expect("reacted")
    assert "* ana reacted 🎉 to bob" in await bob.until("reacted 🎉")
    await ana.send(type="edit", room="general", seq=question["seq"], text="lab at 5 now")
    await ana.expect("edited")
    assert await bob.until("edited") == "* ana edited a message: lab at 5 now"
    await bob.type("/search laptop")
    assert "] #general bob: count me in, with a laptop" in await bob.until("with a laptop")
    await bob.type("/delete")
    assert (await ana.expect("deleted"))["seq"] == reply["seq"]
    await bob.type("/edit again")
    assert "! there is no recent message by bob" in await bob.until("!")
    await bob.type("/react lol")
    assert "! a reaction is one emoji" in await bob.until("!")
    await bob.type("/history 3")
    shown = await bob.until("lab at 5 now")
    assert "(edited)" in shown


async def test_text_users_page_a_search(chat, connect) -> None:
    bob: TextPeer = await connect(chat, "bob", text=True)
    for i in range(25):
        await bob.type(f"note {i}")
    await bob.sync()
    await bob.type("/search note")
    await bob.until("/search more")  # the end of the first page
    await bob.type("/search more")
    assert "more messages with 'note'" in await bob.until("more messages")
    await bob.until("note 0")
    await bob.type("/search more")
    assert "nothing more" in await bob.until("!")


# -- durability ------------------------------------------------------------------------


@pytest.mark.single_server("a restart of one server on its database file")
async def test_replies_reactions_and_edits_survive_a_restart(make_server, connect, tmp_path):
    db = str(tmp_path / "chat.db")
    server = await make_server(db=db)
    ana, bob = await pair(server, connect)
    message = await said(ana, bob, "first draft")
    reply = await said(bob, ana, "looks good", reply_to=message["seq"])
    await ana.send(type="edit", room="general", seq=message["seq"], text="second draft")
    await bob.expect("edited")
    await ana.expect("edited")
    await bob.send(type="react", room="general", seq=message["seq"], emoji="👀", on=True)
    await ana.expect("reacted")
    await server.stop()
    server = await make_server(db=db)
    cleo: JsonPeer = await connect(server, "cleo")
    kept = await history(cleo)
    assert (kept[message["seq"]]["text"], kept[message["seq"]]["edited"]) == ("second draft", True)
    assert kept[message["seq"]]["reactions"] == [{"emoji": "👀", "names": ["bob"]}]
    assert kept[reply["seq"]]["reply_from"] == "ana"
    await cleo.send(type="search", text="second")
    assert [h["seq"] for h in (await cleo.expect("found"))["hits"]] == [message["seq"]]
    await cleo.send(type="search", text="first")
    assert (await cleo.expect("found"))["hits"] == []


@pytest.mark.single_server("an upgrade of one server's database file")
async def test_a_database_from_before_search_is_indexed_on_upgrade(make_server, connect, tmp_path):
    db = tmp_path / "chat.db"
    server = await make_server(db=str(db))
    ana: JsonPeer = await connect(server, "ana")
    old = (await ana.say("an old message about kites"))["seq"]
    await server.stop()
    # Back to schema 2: no reply, reaction or search columns, no index.
    with contextlib.closing(sqlite3.connect(db)) as file:
        for statement in (
            "DROP TRIGGER message_words_add",
            "DROP TRIGGER message_words_change",
            "DROP TRIGGER message_words_drop",
            "DROP TABLE message_words",
            "DROP INDEX messages_by_doc",
            "ALTER TABLE messages DROP COLUMN sent_id",
            *(f"ALTER TABLE messages DROP COLUMN {c}" for c in ("doc", "reactions")),
            *(f"ALTER TABLE messages DROP COLUMN {c}" for c in ("reply_from", "reply_to")),
            "PRAGMA user_version = 2",
        ):
            file.execute(statement)
        file.commit()
    server = await make_server(db=str(db))
    ana = await connect(server, "ana")
    await ana.send(type="search", text="kites")
    assert [h["seq"] for h in (await ana.expect("found"))["hits"]] == [old]
    new = (await ana.say("kites again"))["seq"]
    await ana.send(type="search", text="kites")
    assert [h["seq"] for h in (await ana.expect("found"))["hits"]] == [new, old]
