"""Rooms for plain-text users over a raw socket: /join, /part, /rooms, /topic,
/who ROOM, a current room per connection, lines from other rooms labelled,
the recap on joining; text and JSON users in the same rooms."""

from __future__ import annotations

import re

from tests.peers import JsonPeer, TextPeer

CLOCK = r"\[\d\d:\d\d\]"


async def lines_until(peer: TextPeer, last: str) -> list[str]:
    """Every line up to and including the first that contains `last`."""
    seen = []
    while True:
        line = await peer.text()
        seen.append(line)
        if last in line:
            return seen


async def json_join(peer: JsonPeer, room: str) -> dict:
    await peer.send(type="join", room=room)
    while True:
        frame = await peer.recv()
        if frame["type"] in ("room", "error"):
            return frame


async def test_join_creates_shows_the_room_and_makes_it_current(text_peers, peers) -> None:
    bob = await peers("bob")
    ana = await text_peers("ana")
    await ana.type("/join #Lab")
    shown = await lines_until(ana, " in #Lab: ")
    assert shown == [
        "* you are now in #Lab (created it)",
        "* no topic is set in #Lab; /topic TEXT sets one",
        "* 1 in #Lab: ana",
    ]
    await json_join(bob, "lab")
    assert await ana.until("joined") == "* bob joined #Lab"
    await ana.type("hola lab")  # the current room is #Lab now
    assert await ana.text() == "* sent"
    message = await bob.expect_any("message")
    assert (message["room"], message["text"]) == ("Lab", "hola lab")


async def test_lines_from_another_room_name_it(text_peers, peers) -> None:
    bob = await peers("bob")
    ana = await text_peers("ana")
    await ana.type("/join lab")
    await ana.until(" in #lab: ")
    await bob.say("lunch?")  # in general, which is not ana's current room
    line = await ana.until("lunch?")
    assert re.fullmatch(CLOCK + r" #general bob: lunch\?", line)
    await json_join(bob, "lab")
    await bob.say("in the lab", room="lab")
    line = await ana.until("in the lab")
    assert re.fullmatch(CLOCK + r" bob: in the lab", line)  # the current room: no label


async def test_joining_a_room_you_are_in_only_makes_it_current(text_peers) -> None:
    ana = await text_peers("ana")
    await ana.type("/join lab")
    await ana.until(" in #lab: ")
    await ana.type("/join general")
    assert await ana.text() == "* now talking in #general"


async def test_the_recap_on_joining_is_short(make_server, connect) -> None:
    server = await make_server(text_recap=3, rate=1000.0, burst=1000)
    bob = await connect(server, "bob")
    await bob.send(type="join", room="lab")
    await bob.expect("room")
    for i in range(5):
        await bob.say(f"m{i}", room="lab")
    ana = await connect(server, "ana", text=True)
    await ana.type("/join lab")
    shown = await lines_until(ana, " in #lab: ")
    assert shown[2] == "* --- recent messages in #lab ---"
    assert [line.partition("] ")[2] for line in shown[3:6]] == ["bob: m2", "bob: m3", "bob: m4"]
    assert shown[6] == "* --- end of recent messages ---"


async def test_rooms_lists_counts_and_topics(text_peers) -> None:
    ana = await text_peers("ana")
    await ana.type("/join art")
    await ana.until(" in #art: ")
    await ana.type("/topic paint and pixels")
    assert await ana.text() == "* ana set the topic of #art: paint and pixels"
    await ana.type("/rooms")
    assert await lines_until(ana, "#general") == [
        "* 2 rooms:",
        "*   #art (1): paint and pixels",
        "*   #general (1)",
    ]


async def test_topic_shows_and_sets_the_current_rooms_topic(text_peers, peers) -> None:
    bob = await peers("bob")
    ana = await text_peers("ana")
    await ana.type("/topic")
    assert await ana.text() == "* no topic is set in #general; /topic TEXT sets one"
    await ana.type("/topic welcome, class 3B")
    assert await ana.text() == "* ana set the topic: welcome, class 3B"
    topic = await bob.expect_any("topic")
    assert (topic["topic"], topic["by"]) == ("welcome, class 3B", "ana")
    await ana.type("/topic")
    line = await ana.text()
    assert re.fullmatch(
        r"\* topic of #general: welcome, class 3B \(set by ana at \d\d:\d\d\)", line
    )


async def test_who_lists_the_current_room_or_another(text_peers, peers) -> None:
    bob = await peers("bob")
    ana = await text_peers("ana")
    await json_join(bob, "lab")
    await ana.type("/who lab")
    assert await ana.text() == "* 1 in #lab: bob"
    await ana.type("/who")
    assert await ana.text() == "* 2 online: ana, bob"


async def test_part_leaves_and_general_becomes_current_again(text_peers, peers) -> None:
    bob = await peers("bob")
    ana = await text_peers("ana")
    await ana.type("/join lab")
    await ana.until(" in #lab: ")
    await json_join(bob, "lab")
    await ana.until("bob joined #lab")
    await ana.type("/part")
    assert await ana.text() == "* ana left #lab (part)"
    assert await ana.text() == "* now talking in #general"
    left = await bob.expect("left")
    assert (left["name"], left["room"], left["reason"]) == ("ana", "lab", "part")
    await ana.type("back in general")
    assert await ana.text() == "* sent"


async def test_a_user_in_no_room_is_told_how_to_talk(text_peers) -> None:
    ana = await text_peers("ana")
    await ana.type("/part general")
    assert await ana.text() == "* ana left (part)"
    assert await ana.text() == "* you are in no room now; /join one to talk"
    await ana.type("anyone?")
    assert await ana.text() == "! you are in no room; /join one to talk (/rooms lists them)"
    await ana.type("/topic")
    assert await ana.text() == "! you are in no room; name one, or /join one first"
    await ana.type("/join general")
    assert (await ana.until("online: ")).startswith("* 1 online")


async def test_room_commands_say_how_they_are_used(text_peers) -> None:
    ana = await text_peers("ana")
    for line, answer in [
        ("/join", "! usage: /join ROOM [CODE]"),
        ("/join three more words", "! usage: /join ROOM [CODE]"),
        ("/part a b", "! usage: /part [ROOM]"),
        ("/join #no!pe", "! a room name is 1 to 32 letters, digits, _ - or ."),
        ("/part nowhere", "! there is no room nowhere"),
        ("/who nowhere", "! there is no room nowhere"),
    ]:
        await ana.type(line)
        assert await ana.text() == answer, line


async def test_history_pages_back_through_the_current_room(make_server, connect) -> None:
    server = await make_server(rate=1000.0, burst=1000, text_recap=3)
    ana = await connect(server, "ana")
    for i in range(1, 31):
        await ana.say(f"note {i}")
    bob = await connect(server, "bob", text=True)
    await bob.type("/history")
    assert await bob.until("messages in") == "* --- messages in #general ---"
    lines = [await bob.text() for _ in range(20)]
    assert lines[0].endswith("ana: note 11")
    assert lines[-1].endswith("ana: note 30")
    assert "/history more" in await bob.text()
    await bob.type("/history more")
    await bob.until("older messages")
    lines = [await bob.text() for _ in range(10)]
    assert lines[0].endswith("ana: note 1")
    assert lines[-1].endswith("ana: note 10")
    await bob.type("/history 500")
    assert "usage: /history [N]" in await bob.until("!")
