"""Rooms through real sockets: joining (and creating), parting, topics, room
lists, who hears what, per-room seq and history, DM conversations, every
rooms refusal and limit at its edge. Each test runs against one server and
against a cluster of two instances (tests/server/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.peers import JsonPeer


async def join(peer: JsonPeer, room: str) -> dict[str, Any]:
    """Enter `room`; its `room` answer (or the error)."""
    await peer.send(type="join", room=room)
    return await peer.expect_any("room", "error")


async def error_for(peer: JsonPeer, **frame: Any) -> dict[str, Any]:
    """The `error` answering `frame` (relayed messages before it are skipped)."""
    await peer.send(**frame)
    return await until_frame(peer, "error")


async def until_frame(peer: JsonPeer, type: str, **fields: Any) -> dict[str, Any]:
    """The next frame of `type` with these fields, skipping anything else."""
    while True:
        frame = await peer.recv()
        if frame["type"] == type and all(frame.get(k) == v for k, v in fields.items()):
            return frame


async def mark(sender: JsonPeer, room: str, *listeners: JsonPeer) -> list[list[dict[str, Any]]]:
    """Say a marker in `room` and return what each listener got before it:
    what reached them of anything said earlier, across instances too."""
    text = f"marker-{id(sender)}-{room}"
    assert (await sender.say(text, room=room))["type"] == "ack"
    seen = []
    for peer in listeners:
        before: list[dict[str, Any]] = []
        while True:
            frame = await peer.recv()
            if frame["type"] == "message" and frame["text"] == text:
                break
            before.append(frame)
        seen.append(before)
    return seen


# -- joining, creating, parting ---------------------------------------------------------


async def test_join_creates_a_room_and_answers_how_it_is(peers) -> None:
    ana = await peers("ana")
    room = await join(ana, "Lab-3")
    assert room == {
        "type": "room",
        "room": "Lab-3",
        "topic": "",
        "users": ["ana"],
        "user_count": 1,
        "history": [],
        "created": True,
    }
    # Any spelling with the same skeleton is the same room, shown as created.
    again = await join(ana, "LAB-3")
    assert (again["room"], again.get("created", False)) == ("Lab-3", False)


async def test_a_newcomer_is_announced_to_the_room_only(peers) -> None:
    ana, bob, cleo = await peers("ana"), await peers("bob"), await peers("cleo")
    await join(ana, "lab")
    info = await join(bob, "lab")
    assert info["users"] == ["ana", "bob"]
    joined = await until_frame(ana, "joined", room="lab")
    assert joined["name"] == "bob"
    [seen_by_cleo] = await mark(ana, "general", cleo)
    assert [f for f in seen_by_cleo if f.get("room") == "lab"] == []


async def test_joining_a_room_you_are_in_tells_nobody(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await join(ana, "lab")
    await join(bob, "lab")
    await until_frame(ana, "joined", name="bob")
    await join(bob, "lab")
    [before] = await mark(bob, "lab", ana)
    assert [f for f in before if f["type"] == "joined"] == []


async def test_part_tells_the_room_and_the_one_who_left(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await join(ana, "lab")
    await join(bob, "lab")
    await bob.send(type="part", room="LAB")
    own = await until_frame(bob, "left", room="lab")
    assert (own["name"], own["reason"]) == ("bob", "part")
    theirs = await until_frame(ana, "left", room="lab")
    assert (theirs["name"], theirs["reason"]) == ("bob", "part")
    # Still connected, still in general, no longer in lab.
    assert (await bob.say("still here"))["type"] == "ack"
    refused = await bob.say("in lab?", room="lab")
    assert (refused["code"], refused["id"]) == ("not_in_room", refused["id"])


async def test_a_dropped_connection_leaves_each_of_its_rooms(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    for room in ("lab", "music"):
        await join(ana, room)
        await join(bob, room)
    await bob.send(type="bye")
    lefts = [await until_frame(ana, "left", name="bob") for _ in range(3)]
    assert sorted(f["room"] for f in lefts) == ["general", "lab", "music"]
    assert {f["reason"] for f in lefts} == {"quit"}


async def test_part_of_general_is_allowed(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send(type="part", room="general")
    assert (await until_frame(ana, "left", room="general"))["reason"] == "part"
    await until_frame(bob, "left", name="ana")
    await bob.send(type="who")
    assert (await bob.expect("users"))["users"] == ["bob"]


# -- isolation, seq and history ---------------------------------------------------------


async def test_messages_reach_the_members_of_their_room_only(peers) -> None:
    ana, bob, cleo = await peers("ana"), await peers("bob"), await peers("cleo")
    await join(ana, "lab")
    await join(bob, "lab")
    ack = await ana.say("in the lab", room="lab")
    message = await until_frame(bob, "message", room="lab")
    assert (message["text"], message["seq"], message["from"]) == ("in the lab", ack["seq"], "ana")
    [seen_by_cleo] = await mark(ana, "general", cleo)
    assert [f for f in seen_by_cleo if f["type"] == "message"] == []


async def test_each_room_counts_its_own_seq(peers) -> None:
    ana = await peers("ana")
    await join(ana, "lab")
    general = [(await ana.say(f"g{i}"))["seq"] for i in range(3)]
    lab = [(await ana.say(f"l{i}", room="lab"))["seq"] for i in range(3)]
    assert general == sorted(general)
    assert lab == sorted(lab)
    assert lab[1] == lab[0] + 1  # no other room's messages in between
    assert general[1] == general[0] + 1


async def test_history_is_per_room_and_for_its_members(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await join(ana, "lab")
    for i in range(3):
        await ana.say(f"lab {i}", room="lab")
    await ana.say("general 0")
    await ana.send(type="history", room="lab", limit=10)
    page = await ana.expect("history")
    assert (page["room"], [m["text"] for m in page["messages"]]) == (
        "lab",
        ["lab 0", "lab 1", "lab 2"],
    )
    assert (await error_for(bob, type="history", room="lab"))["code"] == "not_in_room"
    info = await join(bob, "lab")
    assert [m["text"] for m in info["history"]] == ["lab 0", "lab 1", "lab 2"]


async def test_dm_conversations_have_their_own_history(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await ana.send(type="dm", id="d1", to="bob", text="one")
    first = await until_frame(ana, "ack")
    await bob.send(type="dm", id="d2", to="ANA", text="two")
    second = await until_frame(bob, "ack")
    assert second["seq"] == first["seq"] + 1  # one conversation, both directions
    await ana.send(**{"type": "history", "with": "Bob", "limit": 10})
    page = await until_frame(ana, "history")
    assert page["with"] == "bob"
    assert [(m["type"], m["from"], m["text"]) for m in page["messages"]] == [
        ("dm", "ana", "one"),
        ("dm", "bob", "two"),
    ]
    older = {"type": "history", "with": "bob", "before": second["seq"], "limit": 10}
    await ana.send(**older)
    assert [m["text"] for m in (await until_frame(ana, "history"))["messages"]] == ["one"]


async def test_history_names_a_room_or_a_person_not_both(peers) -> None:
    ana = await peers("ana")
    frame = {"type": "history", "room": "general", "with": "bob"}
    assert (await error_for(ana, **frame))["code"] == "bad_frame"


# -- topics, lists, who ----------------------------------------------------------------


async def test_a_topic_is_set_by_a_member_and_announced_to_the_room(peers) -> None:
    ana, bob, cleo = await peers("ana"), await peers("bob"), await peers("cleo")
    await join(ana, "lab")
    await join(bob, "lab")
    await ana.send(type="topic", room="lab", topic="Friday:\nbring the\x1b kits  ")
    for peer in (ana, bob):
        topic = await until_frame(peer, "topic", room="lab")
        assert (topic["topic"], topic["by"]) == ("Friday: bring the kits", "ana")
    await cleo.send(type="topic", room="lab")
    shown = await cleo.expect("topic")
    assert (shown["topic"], shown["by"]) == ("Friday: bring the kits", "ana")
    refused = await error_for(cleo, type="topic", room="lab", topic="mine now")
    assert refused["code"] == "not_in_room"
    assert (await join(cleo, "lab"))["topic"] == "Friday: bring the kits"


async def test_a_topic_over_the_limit_is_refused_and_empty_clears_it(make_server, connect) -> None:
    server = await make_server(max_topic=10)
    ana = await connect(server, "ana")
    assert (await error_for(ana, type="topic", room="general", topic="x" * 11))["code"] == (
        "bad_text"
    )
    await ana.send(type="topic", room="general", topic="x" * 10)
    assert (await until_frame(ana, "topic"))["topic"] == "x" * 10
    await ana.send(type="topic", room="general", topic="")
    assert (await until_frame(ana, "topic"))["topic"] == ""


async def test_rooms_lists_every_room_with_its_topic_and_count(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await join(ana, "Lab")
    await join(bob, "Lab")
    await join(ana, "art")
    await ana.send(type="topic", room="art", topic="paint")
    await until_frame(ana, "topic", room="art")
    await bob.send(type="rooms")
    listed = (await bob.expect("rooms"))["rooms"]
    assert listed == [
        {"room": "art", "topic": "paint", "members": 1},
        {"room": "general", "topic": "", "members": 2},
        {"room": "Lab", "topic": "", "members": 2},
    ]


async def test_who_lists_a_room_even_to_someone_outside_it(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await join(ana, "lab")
    await bob.send(type="who", room="LAB")
    assert await bob.expect("users") == {"type": "users", "room": "lab", "users": ["ana"]}


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "join", "room": "#lab"},
        {"type": "join", "room": "lab 3"},
        {"type": "join", "room": "l" * 33},
        {"type": "join", "room": "pаypal"},  # a Cyrillic а among Latin letters
    ],
    ids=["hash", "space", "33", "mixed-scripts"],
)
async def test_a_malformed_room_name_is_a_bad_frame(peers, frame: dict[str, Any]) -> None:
    ana = await peers("ana")
    assert (await error_for(ana, **frame))["code"] == "bad_frame"


async def test_look_alike_spellings_are_one_room(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    await join(ana, "cafe")
    info = await join(bob, "ＣＡＦＥ")  # fullwidth letters: the same skeleton
    assert (info["room"], info["users"]) == ("cafe", ["ana", "bob"])


# -- limits, at their edges ---------------------------------------------------------------


async def test_rooms_per_user_at_the_limit(make_server, connect) -> None:
    server = await make_server(max_rooms_per_user=3)  # general and two more
    ana = await connect(server, "ana")
    assert (await join(ana, "one"))["type"] == "room"
    assert (await join(ana, "two"))["type"] == "room"
    refused = await join(ana, "three")
    assert refused["code"] == "room_limit"
    assert "3 rooms" in refused["message"]
    assert (await join(ana, "two"))["type"] == "room"  # one you are in is no new room
    await ana.send(type="part", room="one")
    await until_frame(ana, "left", room="one")
    assert (await join(ana, "three"))["type"] == "room"


async def test_rooms_on_the_server_at_the_limit(make_server, connect) -> None:
    server = await make_server(max_rooms=3, rooms=("news",))  # general, news and one more
    ana = await connect(server, "ana")
    bob = await connect(server, "bob")
    assert (await join(ana, "lab"))["created"] is True
    refused = await join(bob, "art")
    assert (refused["code"], "3 rooms" in refused["message"]) == ("room_limit", True)
    assert (await join(bob, "lab"))["type"] == "room"  # existing rooms still open
    assert (await join(bob, "news"))["type"] == "room"


async def test_room_creation_can_be_kept_to_the_operator(make_server, connect) -> None:
    server = await make_server(room_creation="admins", rooms=("lab-1",))
    ana = await connect(server, "ana")
    refused = await join(ana, "mine")
    assert refused["code"] == "forbidden"
    assert (await join(ana, "Lab-1"))["room"] == "lab-1"


async def test_joins_of_a_room_past_the_presence_limit_reach_only_watchers(
    make_server, connect
) -> None:
    server = await make_server(presence_limit=3)
    ana, bob, cleo = [await connect(server, name) for name in ("ana", "bob", "cleo")]
    # Three in general: at the limit everyone still hears.
    assert (await until_frame(ana, "joined", name="cleo"))["room"] == "general"
    await bob.send(type="who", room="general", watch=True)
    assert (await bob.expect("users"))["users"] == ["ana", "bob", "cleo"]
    dora = await connect(server, "dora")  # the fourth: past the limit
    assert (await until_frame(bob, "joined", name="dora"))["room"] == "general"
    [seen_by_ana] = await mark(dora, "general", ana)
    assert [f for f in seen_by_ana if f["type"] == "joined"] == []
    assert dora.name == "dora"
    await dora.send(type="bye")
    assert (await until_frame(bob, "left", name="dora"))["reason"] == "quit"
    await cleo.send(type="bye")  # back at the limit: everyone hears again
    assert (await until_frame(ana, "left", name="cleo"))["reason"] == "quit"


async def test_welcome_and_room_carry_a_first_page_and_the_whole_count(
    make_server, connect
) -> None:
    server = await make_server(welcome_users=2)
    for name in ("ana", "bob", "cleo"):
        await connect(server, name)
    dora = await connect(server)
    welcome = await dora.hello("dora")
    assert (welcome["users"], welcome["user_count"]) == (["ana", "bob"], 4)
    assert welcome["features"] == ["rooms", "accounts", "moderation", "actions", "search"]
    await dora.send(type="who", room="general")
    assert (await dora.expect("users"))["users"] == ["ana", "bob", "cleo", "dora"]
    info = await join(dora, "general")
    assert (info["users"], info["user_count"]) == (["ana", "bob"], 4)


async def test_a_request_s_id_comes_back_on_its_answer_or_its_error(make_server, connect) -> None:
    server = await make_server(max_rooms_per_user=2)
    ana = await connect(server, "ana")
    bob = await connect(server, "bob")
    await ana.send(type="join", room="lab", id="j1")
    info = await ana.expect("room")
    assert (info["room"], info["id"]) == ("lab", "j1")
    await ana.send(type="join", room="art", id="j2")
    refused = await ana.expect("error")
    assert (refused["code"], refused["id"]) == ("room_limit", "j2")
    await ana.send(type="part", room="nowhere", id="p1")
    assert (await ana.expect("error"))["id"] == "p1"
    for request, answer in (
        ({"type": "who", "room": "lab"}, "users"),
        ({"type": "rooms"}, "rooms"),
        ({"type": "history"}, "history"),
        ({"type": "topic", "room": "lab"}, "topic"),
    ):
        await bob.send(**request, id=f"q-{answer}")
        reply = await bob.expect(answer)
        assert reply["id"] == f"q-{answer}"
    # News of a topic set carries no id, even to the one who set it.
    await ana.send(type="topic", room="lab", topic="kits", id="t1")
    news = await ana.expect("topic")
    assert news["topic"] == "kits"
    assert "id" not in news
    # Without an id, an answer has none.
    await bob.send(type="rooms")
    assert "id" not in await bob.expect("rooms")
