"""Rooms in the app, against a real server: joining and leaving, switching by
key, by click and by the quick switcher, unread counts and mention markers,
notifications, each room's own log, scroll position and user list, topics,
the room list dialog, DMs as conversations of their own, and the rooms
joined again after a reconnect or a restart of the client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.pilot import Pilot

from conexion_tui.conversation import dm_key, room_key
from conexion_tui.saved import SavedRooms
from conexion_tui.screens.chat import ChatScreen
from conexion_tui.screens.room_list import RoomListDialog
from conexion_tui.screens.switcher import QuickSwitcher
from conexion_tui.widgets import ChatHeader, ChatInput, Sidebar, UserList
from tests.peers import JsonPeer
from tests.tui.conftest import (
    chat,
    has_line,
    joined,
    log_lines,
    make_app,
    running,
    send_line,
    type_line,
    wait_for,
)
from tests.tui.proxy import Proxy

GENERAL = room_key("general")
LAB = room_key("lab")
DEV = room_key("dev")


def shown(app: Any) -> str:
    """The key of the conversation on screen."""
    return chat(app).current.key


def sidebar(app: Any) -> list[tuple[str, int, int]]:
    """Each sidebar line as (label, unread, mentions)."""
    items = app.screen.query_one(Sidebar).items
    return [(("#" if i.room else "") + i.label, i.unread, i.mentions) for i in items]


def drawn_sidebar(app: Any) -> str:
    """The sidebar's lines as they are painted."""
    lines = app.screen.query_one("#sidebar-lines")
    return "\n".join(s.text for s in lines.render_lines(Region(0, 0, *lines.size)))


async def join_room(pilot: Pilot[Any], room: str) -> ChatScreen:
    """Type /join ROOM and wait until the room is shown."""
    screen = chat(pilot.app)
    await type_line(pilot, f"/join {room}")
    key = room_key(room.removeprefix("#"))
    await wait_for(pilot, lambda: screen.current.key == key, what=f"{room} shown")
    return screen


async def bob_in(peers: Any, *rooms: str) -> JsonPeer:
    bob = await peers("bob")
    for room in rooms:
        await bob.send(type="join", room=room)
        await bob.expect("room")
    return bob


# -- joining, leaving, switching ---------------------------------------------------


async def test_join_creates_a_room_and_switches_to_it(server, peers) -> None:
    bob = await bob_in(peers)
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await bob.expect("joined")
        screen = await join_room(pilot, "#Lab")
        assert has_line(app, "you joined #Lab (you created it)")
        assert has_line(app, "1 here: ana")
        header = screen.query_one(ChatHeader)
        assert "#Lab" in str(header.render())
        assert sidebar(app) == [("#general", 0, 0), ("#Lab", 0, 0)]
        await send_line(pilot, "hola lab")
        await wait_for(pilot, lambda: has_line(app, "ana: hola lab ✓"))
        # bob is not in the lab: nothing of it reaches him, and general is untouched.
        assert not has_line(app, "hola lab", GENERAL)
        await bob.send(type="join", room="LAB")
        info = await bob.expect("room")
        assert [m["text"] for m in info["history"]] == ["hola lab"]
        await wait_for(pilot, lambda: has_line(app, "bob joined"))
        assert screen.current.roster.names == ["ana", "bob"]
        # /join of a room we are in only goes to it.
        await pilot.press("alt+1")
        await type_line(pilot, "/join lab")
        assert shown(app) == LAB


async def test_switching_by_keys_and_by_click(server, peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await join_room(pilot, "lab")
        await join_room(pilot, "dev")
        assert shown(app) == DEV
        await pilot.press("alt+up")
        assert shown(app) == LAB
        await pilot.press("alt+up", "alt+up")
        assert shown(app) == DEV  # round from the top to the bottom
        await pilot.press("alt+down")
        assert shown(app) == GENERAL
        await pilot.press("ctrl+pagedown")
        assert shown(app) == LAB
        await pilot.press("ctrl+pageup")
        assert shown(app) == GENERAL
        await pilot.press("alt+3")
        assert shown(app) == DEV
        await pilot.press("alt+9")  # no ninth conversation
        assert shown(app) == DEV
        assert app.bells == 1
        # The sidebar's lines: a heading, then the rooms in order.
        await pilot.click(Sidebar, offset=(3, 2))
        assert shown(app) == GENERAL
        assert "Message #general" in app.screen.query_one(ChatInput).placeholder


async def test_each_room_keeps_its_draft(server) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await join_room(pilot, "lab")
        await type_line(pilot, "half a thought", enter=False)
        await pilot.press("alt+1")
        box = app.screen.query_one(ChatInput)
        assert box.text == ""
        await pilot.press("alt+2")
        assert box.text == "half a thought"


async def test_part_leaves_the_room_and_the_last_room_stays(server, peers) -> None:
    bob = await bob_in(peers, "lab")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await join_room(pilot, "lab")
        await bob.expect("joined")
        await type_line(pilot, "/part")
        left = await bob.expect("left")
        assert (left["name"], left["reason"], left["room"]) == ("ana", "part", "lab")
        await wait_for(pilot, lambda: LAB not in chat(app).channels, what="lab closed")
        assert shown(app) == GENERAL
        assert has_line(app, "you left #lab")
        # The last room is not left: there would be nowhere to type.
        await type_line(pilot, "/part")
        assert has_line(app, "#general is your last room")
        await type_line(pilot, "/part #nowhere")
        assert has_line(app, "you are not in #nowhere")


# -- the quick switcher and the palette ---------------------------------------------


async def test_quick_switcher_goes_joins_creates_and_messages(server, peers) -> None:
    bob = await bob_in(peers, "lab", "labrador")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await join_room(pilot, "lab")
        await pilot.press("alt+1")

        # Part of a name, Enter: an open conversation.
        await pilot.press("ctrl+k")
        assert isinstance(app.screen, QuickSwitcher)
        await pilot.press(*"lb")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert shown(app) == LAB

        # A room we are not in (from the server's list): joined.
        await pilot.press("ctrl+k")
        switcher = app.screen
        assert isinstance(switcher, QuickSwitcher)
        await pilot.press(*"labr")
        await wait_for(pilot, lambda: [p.name for p in switcher.choices] == ["labrador"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app) == room_key("labrador"), what="joined")

        # A #name nobody has made: created.
        await pilot.press("ctrl+k")
        await pilot.press(*"#brand-new")
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app) == room_key("brand-new"), what="created")
        assert has_line(app, "you joined #brand-new (you created it)")

        # A person: their conversation opens; Esc closes the switcher.
        await pilot.press("ctrl+k")
        await pilot.press(*"@bo")
        await pilot.press("down", "up", "enter")
        await wait_for(pilot, lambda: shown(app) == dm_key("bob"))
        await type_line(pilot, "just us")
        got = await bob.expect("dm")
        assert (got["to"], got["text"]) == ("bob", "just us")
        await pilot.press("ctrl+k")
        await pilot.press("escape")
        assert app.screen is screen
        assert shown(app) == dm_key("bob")


async def test_palette_offers_join_message_and_leave(server) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        titles = {command.title: command for command in app.get_system_commands(screen)}
        for title in ("Join room…", "Message user…", "Leave room", "Room list"):
            assert title in titles
        titles["Join room…"].callback()
        await pilot.pause()
        assert isinstance(app.screen, QuickSwitcher)
        assert app.screen.query_text == "#"
        await pilot.press("escape")
        await join_room(pilot, "lab")
        titles["Leave room"].callback()
        await wait_for(pilot, lambda: LAB not in screen.channels, what="left")


async def test_rooms_dialog_lists_rooms_and_joins_one(server, peers) -> None:
    bob = await bob_in(peers, "lab")
    await bob.send(type="topic", room="lab", topic="[red]kits[/red] on Friday")
    await bob.expect("topic")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/rooms")
        await wait_for(pilot, lambda: isinstance(app.screen, RoomListDialog), what="dialog")
        dialog = app.screen
        assert isinstance(dialog, RoomListDialog)
        assert [r.room for r in dialog.rooms] == ["general", "lab"]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: shown(app) == LAB, what="joined")
        assert has_line(app, "topic: [red]kits[/red] on Friday")


# -- unread counts, mentions, notifications -------------------------------------------


async def test_unread_counts_mention_markers_and_one_notice(server, peers) -> None:
    bob = await bob_in(peers, "lab")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await join_room(pilot, "lab")
        await bob.say("just chatting")  # in general, while ana looks at the lab
        await bob.say("[b]ana[/b], look")  # a mention, with markup that must stay text
        await bob.say("ana again")
        await wait_for(pilot, lambda: sidebar(app)[0] == ("#general", 3, 2), what="counts")
        assert sidebar(app)[1] == ("#lab", 0, 0)
        # What is drawn follows, too (a new count redraws the same lines
        # without a layout of the screen).
        await wait_for(pilot, lambda: "@2" in drawn_sidebar(app), what="the count drawn")
        # One toast and one bell for the first mention, not one per message.
        await wait_for(pilot, lambda: len(app._notifications) == 1, what="a toast")
        (toast,) = app._notifications
        assert toast.message == "bob in #general: [b]ana[/b], look"
        assert toast.markup is False
        assert app.bells == 1
        # A DM elsewhere is worth a notice of its own.
        await bob.send(type="dm", id="d1", to="ana", text="psst")
        await wait_for(pilot, lambda: dm_key("bob") in screen.channels)
        await wait_for(pilot, lambda: len(app._notifications) == 2, what="a DM toast")
        assert sidebar(app)[2] == ("bob", 1, 1)
        assert app.bells == 2
        # Looking clears the counts; a message in the room shown counts nothing.
        await pilot.press("alt+1")
        assert sidebar(app)[0] == ("#general", 0, 0)
        await bob.say("ana, now you see it")
        await wait_for(pilot, lambda: has_line(app, "now you see it"))
        assert sidebar(app)[0] == ("#general", 0, 0)
        assert app.bells == 2  # focused and at the bottom: no bell
        # ctrl+n goes to what is unread (mentions first).
        await bob.send(type="say", id="l1", room="lab", text="in the lab")
        await wait_for(pilot, lambda: sidebar(app)[1] == ("#lab", 1, 0))
        await pilot.press("ctrl+n")
        assert shown(app) == dm_key("bob")
        await pilot.press("ctrl+n")
        assert shown(app) == LAB
        await pilot.press("ctrl+n")  # nothing left unread
        assert shown(app) == LAB
        assert app.bells == 3


async def test_a_narrow_terminal_collapses_the_sidebar_and_the_header_counts(server, peers) -> None:
    bob = await bob_in(peers)
    app = make_app(server.port)
    async with running(app, size=(60, 20)) as pilot:
        screen = await joined(pilot)
        assert screen.has_class("-collapsed")
        assert not screen.query_one(Sidebar).display or not screen.query_one(Sidebar).region
        await join_room(pilot, "lab")
        await bob.say("ana: in general")
        header = screen.query_one(ChatHeader)
        await wait_for(pilot, lambda: "+1 unread (@1)" in str(header.render()), what="count")


# -- each room its own log, scroll position and user list --------------------------------


async def test_each_room_keeps_its_scroll_position(make_server) -> None:
    server = await make_server(rate=1000.0, burst=1000)
    bob = await JsonPeer.connect(server.port)
    app = make_app(server.port)
    async with running(app, size=(100, 20)) as pilot:
        screen = await joined(pilot)
        await join_room(pilot, "lab")
        lab = screen.log_view
        await pilot.press("alt+1")
        await bob.hello("bob")
        for n in range(40):
            await bob.send(type="say", id=f"g{n}", text=f"general {n}")
        await wait_for(pilot, lambda: has_line(app, "general 39"))
        general = screen.log_view
        assert lab is not general
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        position = general.scroll_y
        assert 0 < position < general.max_scroll_y
        await pilot.press("alt+2")
        await bob.send(type="say", id="g40", text="general 40, while away")
        await wait_for(pilot, lambda: sidebar(app)[0][1] == 1, what="unread in general")
        await pilot.press("alt+1")
        await pilot.pause()
        assert screen.log_view is general
        assert general.scroll_y == position  # where it was left, not moved by news
        assert general.unread == 1  # and the bar under the log says so
        await pilot.press("alt+2")
        assert lab.following
    await bob.close()


async def test_user_lists_are_per_room_and_complete_through_who_watch(make_server) -> None:
    # Rooms list two names and hear joins only to their watchers above two members.
    server = await make_server(rate=1000.0, burst=1000, welcome_users=2, presence_limit=2)
    peers = [await JsonPeer.connect(server.port) for _ in range(4)]
    for peer, name in zip(peers, ["bob", "carol", "dave", "erin"], strict=True):
        await peer.hello(name)
    bob, carol, dave, erin = peers
    await bob.send(type="join", room="lab")
    await bob.expect("room")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        users = screen.query_one(UserList)
        # welcome listed two of five; `who` with watch gave all of them.
        await wait_for(pilot, lambda: len(users.names) == 5, what="the whole list")
        assert users.names == ["ana", "bob", "carol", "dave", "erin"]
        await join_room(pilot, "lab")
        await wait_for(pilot, lambda: users.names == ["ana", "bob"], what="lab's list")
        await carol.send(type="join", room="lab")  # lab is now over the presence limit...
        await carol.expect("room")
        await wait_for(pilot, lambda: "carol" in users.names, what="carol in lab")  # ...watched
        await dave.send(type="nick", name="David")  # renames reach every list
        await wait_for(pilot, lambda: "David" in screen.channels[GENERAL].roster)
        await erin.send(type="bye")  # a leave touches the rooms erin was in only
        await wait_for(pilot, lambda: "erin" not in screen.channels[GENERAL].roster)
        assert users.names == ["ana", "bob", "carol"]
        await carol.send(type="part", room="lab")
        await wait_for(pilot, lambda: users.names == ["ana", "bob"], what="carol gone")
        assert "carol" in screen.channels[GENERAL].roster
        await pilot.press("alt+1")
        assert users.names == ["ana", "bob", "carol", "David"]
    for peer in peers:
        await peer.close()


async def test_topics_show_in_the_header_and_can_be_set(server, peers) -> None:
    bob = await bob_in(peers, "lab")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await join_room(pilot, "lab")
        header = screen.query_one(ChatHeader)
        await type_line(pilot, "/topic Friday: bring the sensor kits")
        got = await bob.expect("topic")
        assert (got["topic"], got["by"]) == ("Friday: bring the sensor kits", "ana")
        await wait_for(pilot, lambda: "Friday: bring the sensor kits" in str(header.render()))
        assert has_line(app, "ana set the topic: Friday: bring the sensor kits")
        await bob.send(type="topic", room="lab", topic="[red]not red[/red]")
        await wait_for(pilot, lambda: "[red]not red[/red]" in str(header.render()))
        await type_line(pilot, "/topic")
        await wait_for(pilot, lambda: has_line(app, "· topic: [red]not red[/red] (set by bob)"))
        await type_line(pilot, "/topic --clear")
        await wait_for(pilot, lambda: has_line(app, "ana cleared the topic"))
        await pilot.press("alt+1")
        await type_line(pilot, "/msg bob")
        await type_line(pilot, "/topic x")
        assert has_line(app, "a direct conversation has no topic")


# -- direct messages ----------------------------------------------------------------


async def test_dms_have_their_own_conversation_and_page_back(make_server, tmp_path) -> None:
    server = await make_server(db=str(tmp_path / "h.db"), rate=1000.0, burst=1000)
    bob = await JsonPeer.connect(server.port)
    await bob.hello("bob")
    ana = await JsonPeer.connect(server.port)
    await ana.hello("ana")
    for n in range(70):
        await bob.send(type="dm", id=f"d{n}", to="ana", text=f"dm {n}")
        await bob.expect("ack")
    await ana.close()
    await bob.expect("left")
    from conexion_tui.config import UiConfig

    app = make_app(server.port, ui=UiConfig(history_page=30))
    async with running(app, size=(80, 24)) as pilot:
        screen = await joined(pilot)
        key = dm_key("bob")
        assert key in screen.channels  # from the welcome's DMs
        await pilot.press("alt+2")
        assert shown(app) == key
        log = screen.log_view
        assert [line for line in log_lines(app) if "dm 19" in line] == []  # only the last 50
        while not has_line(app, "beginning of history"):
            count = len(log.entries)
            await pilot.press("pageup")
            if log.scroll_y == 0:
                await wait_for(
                    pilot,
                    lambda n=count: len(log.entries) > n or has_line(app, "beginning of history"),
                )
        texts = [line.split("← bob: ")[1] for line in log_lines(app) if "← bob: " in line]
        assert texts == [f"dm {n}" for n in range(70)]
        # A DM typed in the conversation goes to bob.
        await type_line(pilot, "got them all")
        got = await bob.expect("dm")
        assert got["text"] == "got them all"
        await type_line(pilot, "/me waves")
        assert has_line(app, "/me works in rooms")
    await bob.close()


# -- rejoining ------------------------------------------------------------------------


async def test_rooms_are_joined_again_after_a_reconnect_with_what_was_missed(server, peers) -> None:
    bob = await bob_in(peers, "lab")
    proxy = await Proxy(server.port).start()
    try:
        app = make_app(proxy.port)
        async with running(app) as pilot:
            screen = await joined(pilot)
            await join_room(pilot, "lab")
            await bob.expect("joined")
            await bob.send(type="say", id="s1", room="lab", text="seen live")
            await bob.expect("ack")
            await wait_for(pilot, lambda: has_line(app, "bob: seen live"))
            await pilot.press("alt+1")  # look at general while the lab misses things
            proxy.blackhole = True
            await bob.send(type="say", id="s2", room="lab", text="said during the gap")
            await bob.expect("ack")
            proxy.blackhole = False
            proxy.cut()
            await wait_for(pilot, lambda: has_line(app, "reconnected at"), what="reconnect")
            await wait_for(pilot, lambda: has_line(app, "said during the gap", LAB))
            lines = log_lines(app, LAB)
            gap = next(i for i, line in enumerate(lines) if "missed while offline" in line)
            said = next(i for i, line in enumerate(lines) if "said during the gap" in line)
            assert gap < said
            assert "\n".join(lines).count("seen live") == 1
            assert sidebar(app)[1] == ("#lab", 1, 0)  # missed, so unread
            # ana is really in the lab again: bob hears her there.
            await pilot.press("alt+2")
            await send_line(pilot, "back in the lab")
            got = await bob.expect("message")
            assert (got["room"], got["text"]) == ("lab", "back in the lab")
            assert not screen.current.joining
    finally:
        await proxy.close()


async def test_a_room_that_cannot_be_joined_again_is_marked_with_the_reason(
    make_server, tmp_path
) -> None:
    """After a restart the server lets only admins create rooms and has lost
    #design (it keeps nothing in memory) but made #lab at start: the rejoin of
    #design alone is refused, and its id tells the client which room it was."""
    from conexion_server.config import RoomCreation

    first = await make_server()
    port = first.port
    app = make_app(port, data_dir=tmp_path)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await join_room(pilot, "lab")
        await join_room(pilot, "design")
        await send_line(pilot, "a draft of the poster")
        await wait_for(pilot, lambda: has_line(app, "a draft of the poster ✓"))
        await first.stop()
        await wait_for(pilot, lambda: has_line(app, "connection lost at"), what="lost")
        await make_server(port=port, rooms=("lab",), room_creation=RoomCreation.ADMINS)
        design = screen.channels[room_key("design")]
        await wait_for(pilot, lambda: design.gone is not None, what="design refused")
        lab = screen.channels[LAB]
        await wait_for(pilot, lambda: not lab.joining, what="lab answered")
        assert lab.gone is None
        assert "(forbidden)" in design.gone
        assert not design.joining
        assert has_line(app, "could not join #design again:", room_key("design"))
        said = " ".join(line.strip() for line in log_lines(app, room_key("design")))
        assert "(forbidden); /join design tries again, /part closes it" in said
        assert has_line(app, "a draft of the poster")  # its log is kept
        items = {i.label: i for i in app.screen.query_one(Sidebar).items}
        assert items["design"].gone
        assert not items["lab"].gone
        assert list(app.client.session.rooms) == ["general", "lab"]
        await wait_for(
            pilot,
            lambda: SavedRooms(tmp_path).load(f"127.0.0.1:{port}") == ["general", "lab"],
            what="design forgotten",
        )
        # Typing there says why instead of sending into nothing.
        await send_line(pilot, "anyone here?")
        assert has_line(app, "you are not in #design")
        assert not has_line(app, "anyone here? …")
        # /join tries again (refused again, still marked); /part closes it.
        await type_line(pilot, "/join design")
        await wait_for(pilot, lambda: has_line(app, "joining #design…"))
        await wait_for(pilot, lambda: not design.joining and design.gone is not None)
        await type_line(pilot, "/part")
        await wait_for(pilot, lambda: room_key("design") not in screen.channels)


async def test_a_restarted_client_joins_the_rooms_it_was_in(server, peers, tmp_path) -> None:
    bob = await bob_in(peers, "lab")
    first = make_app(server.port, data_dir=tmp_path)
    async with running(first) as pilot:
        await joined(pilot)
        await join_room(pilot, "lab")
        await join_room(pilot, "dev")
        await pilot.press("alt+1")
    assert SavedRooms(tmp_path).load(f"127.0.0.1:{server.port}") == ["general", "lab", "dev"]
    await bob.expect("left")
    await bob.send(type="say", id="l1", room="lab", text="while ana was gone")
    await bob.expect("ack")

    second = make_app(server.port, data_dir=tmp_path)
    async with running(second) as pilot:
        screen = await joined(pilot)
        assert [c.title for c in screen.ordered()] == ["general", "lab", "dev"]
        await wait_for(pilot, lambda: not screen.channels[LAB].joining, what="lab answered")
        assert has_line(second, "bob: while ana was gone", LAB)
        await pilot.press("alt+2")
        await send_line(pilot, "I am back")
        got = await bob.expect("message")
        assert (got["room"], got["text"]) == ("lab", "I am back")
    # Another server has rooms of its own in the same file.
    saved = SavedRooms(tmp_path)
    assert saved.load("127.0.0.1:1") is None


@pytest.mark.parametrize("content", ["not json", '{"version": 99}', '{"version": 1, "servers": 3}'])
async def test_a_broken_rooms_file_is_ignored(server, tmp_path: Path, content: str) -> None:
    (tmp_path / "rooms.json").write_text(content)
    app = make_app(server.port, data_dir=tmp_path)
    async with running(app) as pilot:
        screen = await joined(pilot)
        assert list(screen.channels) == [GENERAL]
        await join_room(pilot, "lab")
    assert SavedRooms(tmp_path).load(f"127.0.0.1:{server.port}") == ["general", "lab"]


async def test_hostile_topics_are_shown_literally_everywhere(server, peers) -> None:
    hostile = "[red]x[/red] [link=http://evil]click[/link] \u202eevil\u202c"
    bob = await bob_in(peers, "lab")
    await bob.send(type="topic", room="lab", topic=hostile)
    await bob.expect("topic")
    app = make_app(server.port)
    async with running(app, size=(160, 30)) as pilot:
        screen = await joined(pilot)
        await type_line(pilot, "/rooms")
        await wait_for(pilot, lambda: isinstance(app.screen, RoomListDialog))
        dialog = app.screen
        options = dialog.query_one("#rooms-options")
        line = str(options.get_option_at_index(1).prompt)  # type: ignore[attr-defined]
        assert "[red]x[/red] [link=http://evil]click[/link] evil" in line
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: shown(app) == LAB)
        header = str(screen.query_one(ChatHeader).render())
        assert "[red]x[/red] [link=http://evil]click[/link] evil" in header
        assert "\u202e" not in header
        assert has_line(app, "topic: [red]x[/red] [link=http://evil]click[/link] evil")


async def test_who_names_at_most_who_shown_in_the_log(server, peers) -> None:
    from conexion_tui.config import UiConfig

    for name in ("bob", "carol", "dave"):
        await peers(name)
    app = make_app(server.port, ui=UiConfig(who_shown=2))
    async with running(app) as pilot:
        await joined(pilot)
        await type_line(pilot, "/who")
        await wait_for(pilot, lambda: has_line(app, "in #general (4): ana, bob and 2 more"))


async def test_a_long_topic_gives_way_in_the_header(server, peers) -> None:
    bob = await bob_in(peers, "lab")
    await bob.send(type="topic", room="lab", topic="a very long topic " * 10)
    await bob.expect("topic")
    app = make_app(server.port)
    async with running(app, size=(80, 24)) as pilot:
        screen = await joined(pilot)
        await join_room(pilot, "lab")
        header = screen.query_one(ChatHeader)
        shown_text = str(header.render())
        # The topic gives way to the state, your account's badge included.
        assert "#lab · a very lo" in shown_text
        assert "…" in shown_text
        assert "ana · guest" in shown_text
        assert shown_text.rstrip().endswith(f"127.0.0.1:{server.port}")  # the state stays
        assert len(shown_text) <= 80
