"""SVG snapshots of the screens (pytest-textual-snapshot). Times come from a
fixed clock and pings are off, so the pictures are the same on every run.

`snap_compare` runs the app in its own event loop, so the chat snapshots use
a real server in a background thread and raw peers on that server's loop.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update`, then look
at the SVGs before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from conexion_tui.config import UiConfig
from conexion_tui.conversation import dm_key, room_key
from conexion_tui.messages import JoinFailed
from conexion_tui.saved import SavedRooms
from conexion_tui.screens.help import HelpScreen
from conexion_tui.screens.password import PasswordDialog
from conexion_tui.screens.switcher import QuickSwitcher
from conexion_tui.widgets import ChatHeader, ChatInput, HandsPanel
from tests.peers import JsonPeer
from tests.tui.conftest import (
    ACCOUNT_PASSWORD,
    ThreadedServer,
    has_line,
    joined,
    log_in_on_start,
    make_app,
    send_line,
    wait_for,
)

SHOWN_ADDRESS = "127.0.0.1:8000"  # the real port is ephemeral; the header shows this


def test_start_screen(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="ana")
    assert snap_compare(app, terminal_size=(80, 24))


def test_start_screen_with_a_name_error(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="bob")

    async def run_before(pilot: Pilot[Any]) -> None:
        # The message the worker posts when the server answers name_taken.
        pilot.app.post_message(JoinFailed("name_taken", "the name bob is taken"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_start_screen_asking_for_a_password(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        # What the worker posts when the server answers bad_password; then a
        # password is typed: the field shows only bullets.
        pilot.app.post_message(JoinFailed("bad_password", "this server asks for a password"))
        await pilot.pause()
        await pilot.press(*"secret")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(100, 28), (60, 20)], ids=["wide", "narrow"])
def test_chat_screen(snap_compare, threaded_server: ThreadedServer, size) -> None:
    port = threaded_server.port
    run = threaded_server.call

    async def seed() -> JsonPeer:
        carol = await JsonPeer.connect(port)
        await carol.hello("carol")
        await carol.say("good morning, everyone")
        await carol.say("standup is at 10")
        await carol.close()
        bob = await JsonPeer.connect(port)
        await bob.hello("bob")
        return bob

    bob = run(seed())
    app = make_app(port, "ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        await threaded_server.run(bob.say("hi ana! [red]this is not red[/red]"))
        await threaded_server.run(bob.say("waves", action=True))
        await wait_for(pilot, lambda: has_line(pilot.app, "* bob waves"))
        await send_line(pilot, "hello bob 🎉 李雷")
        await wait_for(pilot, lambda: has_line(pilot.app, "李雷 ✓"))
        await threaded_server.run(bob.send(type="dm", id="d1", to="ana", text="psst, a secret"))
        await wait_for(pilot, lambda: has_line(pilot.app, "← bob: psst", dm_key("bob")))
        pilot.app.clear_notifications()  # they time out: a picture with them would vary
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        run(bob.close())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_rooms_sidebar(snap_compare, threaded_server: ThreadedServer, tmp_path, size) -> None:
    """Three rooms (restored from the rooms file) and a DM: the lab shown with
    its topic, general with two unread of which one mentions ana, design with
    one unread, a DM from bob waiting. The wide one keeps the toasts."""
    port = threaded_server.port
    run = threaded_server.call

    async def seed() -> JsonPeer:
        carol = await JsonPeer.connect(port)
        await carol.hello("carol")
        await carol.say("good morning, everyone")
        await carol.close()
        bob = await JsonPeer.connect(port)
        await bob.hello("bob")
        for room in ("lab", "design"):
            await bob.send(type="join", room=room)
            await bob.expect("room")
        await bob.send(type="topic", room="lab", topic="Friday: bring the sensor kits")
        await bob.expect("topic")
        await bob.say("the kits are in the cupboard", room="lab")
        return bob

    bob = run(seed())
    SavedRooms(tmp_path).save(f"127.0.0.1:{port}", ["general", "lab", "design"])
    wide = size[0] >= 160
    ui = UiConfig(notify_timeout=120.0)
    app = make_app(port, "ana", data_dir=tmp_path, ui=ui)

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        lab = screen.channels[room_key("lab")]
        await wait_for(pilot, lambda: not lab.joining and lab.roster.count == 2)
        await pilot.press("alt+2")
        await threaded_server.run(bob.say("who has the soldering iron?", room="lab"))
        await threaded_server.run(bob.say("coffee is ready"))
        await threaded_server.run(bob.say("ana, standup in 5 minutes"))
        await threaded_server.run(bob.say("new mockups are up", room="design"))
        await threaded_server.run(bob.send(type="dm", id="d1", to="ana", text="psst, a secret"))
        await wait_for(pilot, lambda: has_line(pilot.app, "soldering iron"))
        await wait_for(pilot, lambda: screen.channels.get(dm_key("bob")) is not None)
        await wait_for(pilot, lambda: screen.channels[dm_key("bob")].conversation.unread == 1)
        await wait_for(pilot, lambda: screen.channels[room_key("design")].conversation.unread)
        await wait_for(pilot, lambda: screen.channels[room_key("general")].conversation.unread == 2)
        await send_line(pilot, "I have it, on my desk")
        await wait_for(pilot, lambda: has_line(pilot.app, "on my desk ✓"))
        await wait_for(pilot, lambda: len(pilot.app._notifications) == 2)
        if not wide:
            pilot.app.clear_notifications()
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        run(bob.close())


def test_quick_switcher(snap_compare, threaded_server: ThreadedServer) -> None:
    port = threaded_server.port
    run = threaded_server.call

    async def seed() -> JsonPeer:
        bob = await JsonPeer.connect(port)
        await bob.hello("bob")
        for room in ("lab", "labrador", "design"):
            await bob.send(type="join", room=room)
            await bob.expect("room")
        return bob

    bob = run(seed())
    app = make_app(port, "ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        await send_line(pilot, "/join lab")
        await wait_for(pilot, lambda: screen.current.key == room_key("lab"))
        await pilot.press("alt+1")
        await pilot.press("ctrl+k")
        await pilot.press(*"#la")
        switcher = pilot.app.screen
        assert isinstance(switcher, QuickSwitcher)
        await wait_for(pilot, lambda: len(switcher.choices) == 3)  # lab, labrador, create #la
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        switcher.query_one("#switcher-query").cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
    finally:
        run(bob.close())


def test_start_screen_asking_for_an_account_password(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        # What the worker posts when the server answers login_required; then
        # the password is typed: the field shows only bullets.
        message = "the name ana is registered; log in with its password"
        pilot.app.post_message(JoinFailed("login_required", message))
        await pilot.pause()
        await pilot.press(*"secret")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_register_dialog_with_the_servers_reason(
    snap_compare, threaded_server: ThreadedServer
) -> None:
    app = make_app(threaded_server.port, "ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        await send_line(pilot, "/register")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PasswordDialog))
        await pilot.press(*"short", "enter", *"short", "enter")
        box = pilot.app.screen
        said = box.query_one("#password-message")
        await wait_for(pilot, lambda: "at least 8" in str(said.render()))
        for field in box.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("then", ["reply", "select"])
def test_rich_messages(snap_compare, threaded_server: ThreadedServer, then: str) -> None:
    """A room with a code block, reactions (one of them ours), an edited and a
    deleted message, and a reply with its quote; ana is replying to the code,
    or has the message with reactions selected (which lists who reacted)."""
    port = threaded_server.port
    run = threaded_server.call

    async def seed() -> JsonPeer:
        bob = await JsonPeer.connect(port)
        await bob.hello("bob")
        code = (
            "Here is the helper:\n```python\n"
            "def greet(name: str) -> str:\n    return f'hola {name}'\n```"
        )
        await bob.say(code)
        asked = await bob.say("Does **everyone** agree with `greet`? :rocket:")
        typo = await bob.say("typo hre")
        await bob.send(type="edit", room="general", seq=typo["seq"], text="typo here, fixed")
        await bob.expect("edited")
        gone = await bob.say("this one will go")
        await bob.send(type="delete", room="general", seq=gone["seq"])
        await bob.expect("deleted")
        for emoji in ("👍", "🎉"):
            await bob.send(type="react", room="general", seq=asked["seq"], emoji=emoji, on=True)
            await bob.expect("reacted")
        await bob.say("yes, ship it [red]not markup[/red]", reply_to=asked["seq"])
        return bob

    bob = run(seed())
    app = make_app(port, "ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        await wait_for(pilot, lambda: has_line(pilot.app, "ship it [red]not markup[/red]"))
        await send_line(pilot, "+:thumbsup:")  # ours, on the latest: the reply
        await wait_for(pilot, lambda: has_line(pilot.app, "👍 1"))
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        if then == "reply":
            await pilot.press("ctrl+up", "up", "up", "up", "up", "r")
        else:
            await pilot.press("ctrl+up", "up", "up", "up")  # the one with reactions: who
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(90, 26), run_before=run_before)
    finally:
        run(bob.close())


async def _teacher(port: int, room: str = "lab") -> JsonPeer:
    """A registered Teacher who created `room` (its owner), on the server's loop."""
    peer = await JsonPeer.connect(port)
    await peer.hello("Teacher")
    await peer.send(type="register", password=ACCOUNT_PASSWORD)
    await peer.expect("registered")
    await peer.send(type="join", room=room)
    await peer.expect("room")
    return peer


def test_a_student_in_a_moderated_room(snap_compare, threaded_server: ThreadedServer) -> None:
    """ana in #lab: the owner's badge, a moderated room, her raised hand, an
    announcement waiting for F3, a deleted message, and a mute (until lifted,
    so the picture does not depend on the time) in the message box."""
    port = threaded_server.port
    run = threaded_server.call
    teacher = run(_teacher(port))
    app = make_app(port, "ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await joined(pilot)
        await send_line(pilot, "/join lab")
        await wait_for(pilot, lambda: has_line(pilot.app, "here: ana, Teacher"))
        await threaded_server.run(teacher.send(type="mode", room="lab", moderated=True))
        said = await threaded_server.run(teacher.say("the lab opens at nine", room="lab"))
        await threaded_server.run(teacher.send(type="delete", room="lab", seq=said["seq"]))
        await threaded_server.run(teacher.expect("deleted"))
        await threaded_server.run(teacher.say("Exam moved to Friday", room="lab", announce=True))
        await send_line(pilot, "/hand [bold]what is a compiler?[/]")
        await threaded_server.run(
            teacher.send(
                type="mod", action="mute", name="ana", room="lab", reason="[red]talking over others"
            )
        )
        box = screen.query_one("#input", ChatInput)
        await wait_for(pilot, lambda: box.has_class("-muted"))
        await wait_for(pilot, lambda: has_line(pilot.app, "F3: seen"))
        await wait_for(pilot, lambda: has_line(pilot.app, "number 1 in line"))
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        box.cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)
    finally:
        run(teacher.close())


def test_a_teacher_with_hands_up(snap_compare, threaded_server: ThreadedServer) -> None:
    """The owner of #lab: badges in the list, two hands in the panel with
    their questions (one hostile), F4 in the footer, an announcement with its
    count, and a mute in the log."""
    port = threaded_server.port
    run = threaded_server.call
    run(run_and_close(_teacher(port)))

    async def students() -> list[JsonPeer]:
        peers = []
        for name in ("ana", "bob"):
            peer = await JsonPeer.connect(port)
            await peer.hello(name)
            peers.append(peer)
        return peers

    ana, bob = run(students())
    app = make_app(port, "Teacher")

    async def run_before(pilot: Pilot[Any]) -> None:
        await log_in_on_start(pilot)
        screen = await joined(pilot)
        await send_line(pilot, "/join lab")
        await wait_for(pilot, lambda: has_line(pilot.app, "here:"), what="#lab")
        for peer in (ana, bob):
            await threaded_server.run(peer.send(type="join", room="lab"))
            await threaded_server.run(peer.expect("room"))
        await wait_for(pilot, lambda: screen.current.roster.count == 3, what="three in #lab")
        await send_line(pilot, "/announce Exam moved to Friday")
        await threaded_server.run(
            ana.send(type="hand", room="lab", question="what does a compiler do?")
        )
        await threaded_server.run(bob.send(type="hand", room="lab", question="[blink]me[/]"))
        seq = (await threaded_server.run(ana.expect("message")))["seq"]
        await threaded_server.run(ana.send(type="seen", room="lab", seq=seq))
        await send_line(pilot, "/mute bob chatting")  # untimed: no real clock in the picture
        await wait_for(pilot, lambda: has_line(pilot.app, "1 of 2 have"), what="1 of 2")
        await wait_for(pilot, lambda: has_line(pilot.app, "you muted bob"), what="the mute")
        hands = screen.query_one("#hands", HandsPanel)
        await wait_for(pilot, lambda: len(hands.names) == 2, what="two hands")
        screen.query_one("#header", ChatHeader).address = SHOWN_ADDRESS
        screen.query_one("#input", ChatInput).cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)
    finally:
        run(ana.close())
        run(bob.close())


async def run_and_close(opened: Any) -> None:
    peer = await opened
    await peer.close()


def test_help_overlay(snap_compare) -> None:
    app = make_app(8000, name=None, suggested="ana")

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(HelpScreen())
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
