"""Moderation and the classroom tools in the app, against a real server with a
database: a teacher's view (the role badges, the hands panel and F4, mutes and
their news, op and deop shown live, announcements and their count, deleting
with the picker, the audit log, kicks) and a student's (the mute in the message
box and its countdown on an injected clock, an announcement and F3, a
tombstone, the dialog of a ban). Names and reasons are hostile on purpose:
they must show as typed, never as markup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Static

from conexion_tui.conversation import room_key
from conexion_tui.screens import ChatScreen
from conexion_tui.screens.audit import AuditDialog
from conexion_tui.screens.delete import DeletePicker
from conexion_tui.screens.sanction import SanctionDialog
from conexion_tui.widgets import ChatHeader, ChatInput, HandsPanel, RoomNotice, UserList
from tests.peers import JsonPeer
from tests.tui.conftest import (
    ACCOUNT_PASSWORD,
    FixedClock,
    chat,
    has_line,
    joined,
    log_in_on_start,
    log_text,
    make_app,
    register_name,
    running,
    send_line,
    start,
    wait_for,
)

LAB = room_key("lab")
HOSTILE = "[bold]x[/] \x1b[31mred"  # markup and an escape sequence
SHOWN = "[bold]x[/] [31mred"  # as drawn: the text as typed, ESC removed


def users_text(app: Any) -> str:
    return str(chat(app).query_one("#users", UserList).query_one("#user-names").render())


def hands_text(app: Any) -> str:
    return chat(app).query_one("#hands", HandsPanel).plain


def said(app: Any, text: str) -> bool:
    """`text` is in the log, however its lines wrapped."""
    return text in " ".join(log_text(app).split())


def notice_text(app: Any) -> str:
    return chat(app).query_one("#room-notice", RoomNotice).plain


async def teacher_peer(server: Any, room: str = "lab") -> JsonPeer:
    """A registered Teacher who created `room`: its owner."""
    await register_name(server, "Teacher")
    peer = await JsonPeer.connect(server.port)
    await peer.send(type="hello", name="Teacher", proto=1, account_password=ACCOUNT_PASSWORD)
    await peer.expect("welcome")
    await peer.send(type="join", room=room)
    assert (await peer.expect("room"))["roles"] == {"Teacher": "owner"}
    return peer


async def student_peer(
    server: Any, name: str = "ana", room: str = "lab", *, registered: bool = False
) -> JsonPeer:
    peer = await JsonPeer.connect(server.port)
    if registered:
        await peer.send(type="hello", name=name, proto=1, account_password=ACCOUNT_PASSWORD)
        await peer.expect("welcome")
    else:
        await peer.hello(name)
    await peer.send(type="join", room=room)
    await peer.expect("room")
    return peer


async def in_lab(pilot: Pilot[Any]) -> ChatScreen:
    screen = await joined(pilot)
    await send_line(pilot, "/join lab")
    await wait_for(pilot, lambda: LAB in screen.channels and screen.current.key == LAB)
    await wait_for(pilot, lambda: has_line(pilot.app, "here:"))
    return screen


async def test_a_teacher_sees_roles_hands_counts_and_the_audit_log(
    make_server, tmp_path: Path
) -> None:
    server = await make_server(db=str(tmp_path / "chat.db"), rate=1000.0, burst=1000)
    await register_name(server, "Teacher")
    app = make_app(server.port, name="Teacher")
    ana: JsonPeer | None = None
    guest: JsonPeer | None = None
    try:
        async with running(app, size=(140, 40)) as pilot:
            await log_in_on_start(pilot)
            screen = await in_lab(pilot)
            header = screen.query_one("#header", ChatHeader)
            await wait_for(pilot, lambda: header.role == "owner")
            assert "Teacher · registered · owner" in str(header.render())
            await wait_for(pilot, lambda: "Teacher (you) owner" in users_text(app))

            await register_name(server, "ana")
            ana = await student_peer(server, registered=True)
            await wait_for(pilot, lambda: "ana" in users_text(app))
            # A raised hand: the panel lists it at once, F4 takes it.
            hands = screen.query_one("#hands", HandsPanel)
            await wait_for(pilot, lambda: hands.display and "No hands up" in hands_text(app))
            await ana.send(type="hand", room="lab", question=HOSTILE)
            await wait_for(pilot, lambda: "1. ana" in hands_text(app))
            assert SHOWN in hands_text(app)
            assert screen.check_action("next_hand", ()) is True
            # The palette offers it, its words drawn as written (it reads markup).
            palette = {
                Content.from_markup(c.title).plain: Content.from_markup(c.help).plain
                for c in app.get_system_commands(screen)
            }
            assert palette["Take the next hand (ana)"] == "/next (F4)"
            assert palette["Mute…"] == "/mute NAME [DURATION] [REASON]"
            assert "Lower ana's hand" in palette
            assert "Server ban…" not in palette  # an owner, not an admin
            await pilot.press("f4")
            turn = await ana.expect("hand")
            while turn["state"] != "turn":
                turn = await ana.expect("hand")
            assert turn["by"] == "Teacher"
            await wait_for(pilot, lambda: "No hands up" in hands_text(app))

            # A mute with a hostile reason: the news says who, how long, why.
            await send_line(pilot, f"/mute ana 10m {HOSTILE}")
            news = await ana.expect("moderation")
            assert (news["action"], news["reason"]) == ("mute", HOSTILE.replace("\x1b", ""))
            await wait_for(pilot, lambda: has_line(app, "you muted ana in #lab for 10 minutes"))
            assert SHOWN in log_text(app)

            # Roles change live in the list.
            await send_line(pilot, "/op ana")
            await wait_for(pilot, lambda: "ana moderator" in users_text(app))
            await send_line(pilot, "/deop ana")
            await wait_for(pilot, lambda: "ana moderator" not in users_text(app))
            await wait_for(pilot, lambda: has_line(app, "took away ana's moderator role"))
            # The server decides: a guest cannot be made a moderator.
            guest = await student_peer(server, "gus")
            await send_line(pilot, "/op gus")
            await wait_for(pilot, lambda: has_line(app, "cannot op gus:"))
            assert has_line(app, "(not_registered)")

            # An announcement counts who has seen it.
            await send_line(pilot, "/announce Exam moved to Friday")
            message = await ana.expect("message")
            assert message["announcement"] is True
            await wait_for(pilot, lambda: has_line(app, "0 of 2 have seen this"))
            await ana.send(type="seen", room="lab", seq=message["seq"])
            await wait_for(pilot, lambda: has_line(app, "1 of 2 have seen this"))
            assert has_line(app, "Announcement · Teacher: Exam moved to Friday")

            # Deleting someone's message with the picker leaves a tombstone.
            await send_line(pilot, "/unmute ana")
            await ana.expect("moderation")
            await ana.say("a rude remark", room="lab")
            await wait_for(pilot, lambda: has_line(app, "ana: a rude remark"))
            await send_line(pilot, "/delete")
            await wait_for(pilot, lambda: isinstance(app.screen, DeletePicker))
            picker = app.screen
            hint = picker.query_one("#delete-hint", Static)
            await wait_for(pilot, lambda: " 20" in str(hint.render()), what="its full date")
            await pilot.press("enter")
            deleted = await ana.expect("deleted")
            assert deleted["by"] == "Teacher"
            await wait_for(pilot, lambda: has_line(app, "ana: message deleted"))
            assert not has_line(app, "a rude remark")

            # The audit log, oldest first, in its own screen.
            await send_line(pilot, "/audit")
            await wait_for(pilot, lambda: isinstance(app.screen, AuditDialog))
            audit = app.screen
            assert isinstance(audit, AuditDialog)
            text = "\n".join(audit.lines)
            assert "you muted ana in #lab" in text
            assert "you deleted a message by ana in #lab" in text
            assert SHOWN in text
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))

            # A kick with a reason: out of the room, from the list.
            await send_line(pilot, "/kick ana phone out in class")
            await wait_for(pilot, lambda: has_line(app, "you kicked ana out of #lab"))
            await wait_for(pilot, lambda: "ana" not in users_text(app))
    finally:
        for peer in (ana, guest):
            if peer is not None:
                await peer.close()


async def test_a_student_meets_a_mute_an_announcement_a_delete_and_a_ban(
    make_server, tmp_path: Path
) -> None:
    server = await make_server(db=str(tmp_path / "chat.db"), rate=1000.0, burst=1000)
    teacher = await teacher_peer(server)
    clock = FixedClock()
    app = make_app(server.port, name="ana")
    app.clock = clock
    try:
        async with running(app, size=(140, 40)) as pilot:
            screen = await in_lab(pilot)
            await wait_for(pilot, lambda: "Teacher owner" in users_text(app))
            # `joined` carries no role: the list learns it from a `who` after.
            await teacher.send(type="part", room="lab")
            await teacher.expect("left")
            await wait_for(pilot, lambda: "Teacher" not in users_text(app))
            await teacher.send(type="join", room="lab")
            await teacher.expect("room")
            await wait_for(pilot, lambda: "Teacher owner" in users_text(app))
            box = screen.query_one("#input", ChatInput)

            # Muted for 10 minutes: the box says so, with the reason and the
            # time left, and keeps what is typed instead of sending it.
            await teacher.send(
                type="mod", action="mute", name="ana", room="lab", minutes=10, reason=HOSTILE
            )
            await wait_for(pilot, lambda: box.has_class("-muted"))
            title = str(box.border_title)
            assert "10 min left" in title
            assert "by Teacher" not in title  # who and why: in the notice above it
            assert "You are muted in #lab by Teacher" in notice_text(app)
            await send_line(pilot, "let me speak")
            assert box.text == "let me speak"
            assert has_line(app, "You are muted in #lab")
            assert not has_line(app, "ana: let me speak")
            mute = screen.client.session.standing("lab").mute
            assert mute is not None
            assert mute.until is not None
            clock.stop_at(mute.until - 90)
            screen._tick()
            assert "(2 min left)" in str(box.border_title)
            clock.advance(60)
            screen._tick()
            assert "(30 s left)" in str(box.border_title)
            clock.advance(31)
            screen._tick()
            assert not box.has_class("-muted")
            assert has_line(app, "your mute in #lab has run out")
            box.load_text("")
            # (The server counts on its own clock: the teacher lifts it there.)
            await teacher.send(type="mod", action="unmute", name="ana", room="lab")
            await wait_for(pilot, lambda: has_line(app, "Teacher unmuted you in #lab"))

            # An announcement asks to be acknowledged; F3 says it was seen.
            await teacher.say("Exam moved to Friday", room="lab", announce=True)
            await wait_for(pilot, lambda: has_line(app, "F3: seen"))
            assert "Announcement from Teacher" in notice_text(app)
            assert screen.check_action("seen", ()) is True
            await pilot.press("f3")
            count = await teacher.expect("seen")
            assert (count["seen"], count["of"]) == (1, 1)
            await wait_for(pilot, lambda: has_line(app, "seen ✓"))
            assert "Announcement from" not in notice_text(app)

            # A message deleted right after it was said (both in one batch of
            # events, before the message reached the log) is a tombstone too.
            await teacher.send(type="say", id="oops", text="posted by mistake", room="lab")
            ack = await teacher.expect("ack")
            await teacher.send(type="delete", room="lab", seq=ack["seq"])
            await teacher.expect("deleted")
            await wait_for(pilot, lambda: has_line(app, "Teacher: message deleted"))
            assert not has_line(app, "posted by mistake")

            # The teacher deletes what ana said: a tombstone in its place.
            await send_line(pilot, "oops, wrong room")
            said = await teacher.expect("message")
            await teacher.send(type="delete", room="lab", seq=said["seq"])
            await wait_for(pilot, lambda: has_line(app, "ana: message deleted by Teacher"))
            assert not has_line(app, "oops, wrong room")

            # A ban: a dialog says who, why, until when and what is left to do.
            await teacher.send(
                type="mod", action="ban", name="ana", room="lab", minutes=60, reason=HOSTILE
            )
            await wait_for(pilot, lambda: isinstance(app.screen, SanctionDialog))
            dialog = app.screen
            assert isinstance(dialog, SanctionDialog)
            assert "Teacher banned you from #lab." in dialog.text
            assert f"Reason: {SHOWN}" in dialog.text
            assert "min left)." in dialog.text
            assert "/join lab is refused" in dialog.text
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
            assert screen.channels[LAB].gone is not None
            await send_line(pilot, "/join lab")
            await wait_for(pilot, lambda: has_line(app, "(banned)"))
            # The server's refusal says until when in RFC 3339: shown as a moment.
            assert "you are banned from lab by Teacher until" in " ".join(log_text(app).split())
            assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", log_text(app))
    finally:
        await teacher.close()


async def test_a_ban_from_the_whole_chat_stops_the_client_and_says_why(
    make_server, tmp_path: Path
) -> None:
    import io

    from conexion_server import account_admin
    from conexion_tui.client import State

    db = str(tmp_path / "chat.db")
    answers = iter([ACCOUNT_PASSWORD, ACCOUNT_PASSWORD])
    out = io.StringIO()
    args = ["--db", db, "add", "root", "--admin"]
    assert account_admin.main(args, ":unused:", out=out, ask=lambda _: next(answers)) == 0
    server = await make_server(db=db)
    root = await JsonPeer.connect(server.port)
    await root.send(type="hello", name="root", proto=1, account_password=ACCOUNT_PASSWORD)
    assert (await root.expect("welcome"))["admin"] is True
    app = make_app(server.port, name="ana")
    try:
        async with running(app, size=(120, 30)) as pilot:
            screen = await joined(pilot)
            await root.send(
                type="mod", action="ban", name="ana", server=True, minutes=60, reason=HOSTILE
            )
            await wait_for(pilot, lambda: isinstance(app.screen, SanctionDialog), what="dialog")
            dialog = app.screen
            assert isinstance(dialog, SanctionDialog)
            assert dialog.explanation.server
            assert "root banned you from this chat." in dialog.text
            assert f"Reason: {SHOWN}" in dialog.text
            assert "will not reconnect" in dialog.text
            assert app.client is not None
            await wait_for(pilot, lambda: app.client.state is State.CLOSED, what="no retries")
            header = screen.query_one("#header", ChatHeader)
            await wait_for(pilot, lambda: "banned from this chat" in str(header.render()))
            await pilot.click("#sanction-ok")  # stay, to read what is here
            await wait_for(pilot, lambda: app.screen is screen)
            assert "root banned you from this chat" in log_text(app)
        # Starting again: the start screen says so, in local time, and that
        # trying again will not help.
        again = make_app(server.port, name="ana")
        async with running(again) as pilot:
            message = start(again).query_one("#start-message", Static)
            await wait_for(pilot, lambda: "banned" in str(message.render()), what="refusal")
            text = str(message.render())
            assert "ask one of its admins" in text
            assert "Choose another name" not in text
            assert not re.search(r"\d{4}-\d\d-\d\dT", text)
    finally:
        await root.close()


async def test_a_teachers_settings_a_join_code_and_an_invitation(
    make_server, tmp_path: Path
) -> None:
    server = await make_server(db=str(tmp_path / "chat.db"), rate=1000.0, burst=1000)
    await register_name(server, "Teacher")
    app = make_app(server.port, name="Teacher")
    peers: list[JsonPeer] = []
    try:
        async with running(app, size=(140, 40)) as pilot:
            await log_in_on_start(pilot)
            screen = await in_lab(pilot)
            await wait_for(pilot, lambda: screen.standing_here().staff, what="owner")
            await send_line(pilot, "/slow 30")
            await wait_for(pilot, lambda: said(app, "slow mode (one message every 30 s)"))
            assert "as its owner you are not held back" in notice_text(app)
            await send_line(pilot, "/topiclock on")
            await wait_for(pilot, lambda: said(app, "topic locked (only moderators set it)"))
            await send_line(pilot, "/private on")
            await wait_for(pilot, lambda: said(app, "private (invitation or join code)"))
            await send_line(pilot, "/code")
            await wait_for(pilot, lambda: has_line(app, "the join code of #lab is "))
            line = next(line for line in log_text(app).splitlines() if "join code of" in line)
            code = line.split("the join code of #lab is ")[1].split(":")[0]
            # A guest is kept out, then comes in with the code.
            guest = await JsonPeer.connect(server.port)
            peers.append(guest)
            await guest.hello("gus")
            await guest.send(type="join", room="lab", id="j1")
            refused = await guest.expect("error")
            assert refused["code"] == "private_room"
            await guest.send(type="join", room="lab", code=code.lower(), id="j2")
            assert (await guest.expect("room"))["room"] == "lab"
            # An invitation: the invited one hears of it wherever they are.
            bea = await JsonPeer.connect(server.port)
            peers.append(bea)
            await bea.hello("bea")
            await send_line(pilot, "/invite bea")
            invited = await bea.expect("moderation")
            assert (invited["action"], invited["room"]) == ("invite", "lab")
            await wait_for(pilot, lambda: has_line(app, "you invited bea to #lab"))
            await send_line(pilot, "/slow off")
            await wait_for(pilot, lambda: "slow" not in notice_text(app))
    finally:
        for peer in peers:
            await peer.close()
