"""Moderation over real sockets, on one server and on a cluster: kicks, mutes,
bans (a room's and the server's), roles, the room settings, join codes, the
audit log; JSON and plain-text users alike."""

from __future__ import annotations

import pytest

from tests.peers import JsonPeer, TextPeer
from tests.server.test_accounts import PASSWORD, operator


async def logged_in(server, connect, name: str) -> JsonPeer:
    peer: JsonPeer = await connect(server)
    await peer.send(type="hello", name=name, proto=1, account_password=PASSWORD)
    welcome = await peer.expect("welcome")
    assert welcome["registered"] is True
    return peer


async def enter(peer: JsonPeer, room: str = "lab", **extra: object) -> dict:
    await peer.send(type="join", room=room, **extra)
    return await peer.expect_any("room", "error")


async def everyone_sees(lab: Lab, action: str) -> None:
    for peer in (lab.teacher, lab.root, lab.ana, lab.gus):
        assert (await peer.expect("moderation"))["action"] == action


class Lab:
    """A server with accounts: the teacher made #lab (its owner), root is an
    admin, ana a registered student, gus a guest; all in #lab."""

    def __init__(self, server, teacher, root, ana, gus) -> None:
        self.server = server
        self.teacher: JsonPeer = teacher
        self.root: JsonPeer = root
        self.ana: JsonPeer = ana
        self.gus: JsonPeer = gus


@pytest.fixture
async def lab(make_server, connect, tmp_path) -> Lab:
    server = await make_server(db=str(tmp_path / "chat.db"), rate=1000.0, burst=1000)
    for name, admin in (("teacher", False), ("root", True), ("ana", False)):
        args = ("add", name, "--admin") if admin else ("add", name)
        assert operator(server, tmp_path, *args, password=PASSWORD) == 0
    teacher = await logged_in(server, connect, "teacher")
    info = await enter(teacher)
    assert info["created"] is True
    assert info["roles"] == {"teacher": "owner"}
    root = await logged_in(server, connect, "root")
    ana = await logged_in(server, connect, "ana")
    gus = await connect(server, "gus")
    for peer in (root, ana, gus):
        assert (await enter(peer))["type"] == "room"
    for peer in (teacher, root, ana, gus):
        await peer.sync()
    return Lab(server, teacher, root, ana, gus)


async def test_a_kick_tells_the_room_and_the_target_why(lab: Lab) -> None:
    await lab.teacher.send(
        type="mod", action="kick", name="gus", room="lab", reason="spam", id="k1"
    )
    for peer in (lab.teacher, lab.ana, lab.gus):
        news = await peer.expect("moderation")
        assert {k: news[k] for k in ("action", "by", "name", "room", "reason")} == {
            "action": "kick",
            "by": "teacher",
            "name": "gus",
            "room": "lab",
            "reason": "spam",
        }
    left = await lab.gus.expect("left")
    assert (left["name"], left["reason"], left["room"]) == ("gus", "kicked", "lab")
    assert (await lab.ana.expect("left"))["reason"] == "kicked"
    assert (await enter(lab.gus))["type"] == "room"  # a kick is not a ban


async def test_a_member_may_not_moderate(lab: Lab) -> None:
    await lab.ana.send(type="mod", action="mute", name="gus", room="lab", id="m1")
    refused = await lab.ana.expect("error")
    assert (refused["code"], refused["id"]) == ("forbidden", "m1")
    assert "moderators of lab" in refused["message"]
    await lab.teacher.send(type="mod", action="kick", name="root", room="lab")
    outranked = await lab.teacher.expect("error")
    assert "root is an admin" in outranked["message"]


async def test_a_timed_mute_says_by_whom_and_until_when(lab: Lab) -> None:
    await lab.teacher.send(type="mod", action="mute", name="ana", room="lab", minutes=15)
    news = await lab.ana.expect("moderation")
    assert news["action"] == "mute"
    assert news["until"] > news["ts"]
    refused = await lab.ana.say("let me speak", room="lab")
    assert refused["code"] == "muted"
    assert "by teacher until" in refused["message"]
    assert (await lab.ana.say("elsewhere is fine"))["type"] == "ack"  # general
    # Coming back to the room, the mute is in its answer.
    await lab.ana.send(type="part", room="lab")
    await lab.ana.expect("left")
    info = await enter(lab.ana)
    assert info["muted"]["by"] == "teacher"
    assert info["muted"]["until"] == news["until"]
    await lab.teacher.send(type="mod", action="unmute", name="ana", room="lab")
    await lab.ana.expect("moderation")
    assert (await lab.ana.say("thanks", room="lab"))["type"] == "ack"


async def test_a_room_ban_keeps_out(lab: Lab) -> None:
    await lab.teacher.send(type="mod", action="ban", name="gus", room="lab", reason="rude")
    await lab.gus.expect("moderation")
    assert (await lab.gus.expect("left"))["reason"] == "banned"
    refused = await enter(lab.gus)
    assert refused["code"] == "banned"
    assert "banned from lab by teacher" in refused["message"]
    assert "rude" in refused["message"]
    await lab.teacher.send(type="mod", action="unban", name="gus", room="lab")
    # The target is told too, once its own server knows (in a cluster, the
    # instance it is on may apply the change a moment after the teacher's).
    assert (await lab.gus.expect("moderation"))["action"] == "unban"
    assert (await enter(lab.gus))["type"] == "room"


async def test_a_server_ban_closes_the_connection_and_keeps_the_name_out(lab: Lab, connect) -> None:
    await lab.teacher.send(type="mod", action="ban", name="ana", server=True)
    assert "admins" in (await lab.teacher.expect("error"))["message"]
    await lab.root.send(type="mod", action="ban", name="ana", server=True, reason="cheating")
    news = await lab.ana.expect("moderation")
    assert ("room" not in news, news["reason"]) == (True, "cheating")
    assert await lab.ana.closed()
    for peer in (lab.teacher, lab.root, lab.gus):  # every instance of a cluster knows
        assert (await peer.expect("left"))["reason"] == "banned"
    again: JsonPeer = await connect(lab.server)
    await again.send(type="hello", name="ANA", proto=1, account_password=PASSWORD)
    refused = await again.recv()
    assert refused["code"] == "banned"
    assert "banned from this chat by root" in refused["message"]


async def test_roles_are_granted_shown_and_taken(lab: Lab) -> None:
    await lab.teacher.send(type="mod", action="op", name="ana", room="lab")
    news = await lab.gus.expect("moderation")
    assert (news["action"], news["role"]) == ("op", "moderator")
    await lab.gus.send(type="who", room="lab")
    users = await lab.gus.expect("users")
    assert users["roles"] == {"ana": "moderator", "root": "admin", "teacher": "owner"}
    await lab.teacher.send(type="mod", action="op", name="gus", room="lab")
    assert (await lab.teacher.expect("error"))["code"] == "not_registered"
    # A moderator now: ana may mute the guest, not the owner.
    await lab.ana.send(type="mod", action="mute", name="gus", room="lab")
    assert (await lab.gus.expect("moderation"))["action"] == "mute"
    await lab.ana.send(type="mod", action="deop", name="teacher", room="lab")
    assert (await lab.ana.expect("error"))["code"] == "forbidden"
    await lab.teacher.send(type="mod", action="deop", name="ana", room="lab")
    assert (await lab.ana.expect("moderation"))["action"] == "deop"


async def test_a_moderated_room_and_slow_mode(lab: Lab) -> None:
    await lab.teacher.send(type="mode", room="lab", moderated=True)
    news = await lab.ana.expect("moderation")
    assert news["mode"] == {"moderated": True}
    refused = await lab.ana.say("question!", room="lab")
    assert refused["code"] == "moderated"
    assert (await lab.teacher.say("only me for now", room="lab"))["type"] == "ack"
    await lab.ana.send(type="mode", room="lab", moderated=False)
    assert (await lab.ana.expect_any("error"))["code"] == "forbidden"
    await lab.teacher.send(type="mode", room="lab", moderated=False, slow=60)
    await lab.ana.expect("moderation")
    assert (await lab.ana.say("one", room="lab"))["type"] == "ack"
    refused = await lab.ana.say("two", room="lab")
    assert refused["code"] == "slow_mode"
    assert "60 s" in refused["message"]


async def test_a_private_room_by_invitation_or_code(lab: Lab, connect) -> None:
    await lab.teacher.send(type="mode", room="lab", private=True)
    await everyone_sees(lab, "mode")  # every instance of a cluster knows
    await lab.teacher.send(type="code", room="lab", id="c1")
    code = await lab.teacher.expect("code")
    assert (code["room"], code["id"]) == ("lab", "c1")
    newcomer: JsonPeer = await connect(lab.server, "nico")
    assert (await enter(newcomer))["code"] == "private_room"
    assert (await enter(newcomer, code="wrong-code"))["code"] == "private_room"
    assert (await enter(newcomer, code=code["code"]))["type"] == "room"
    other: JsonPeer = await connect(lab.server, "olive")
    await lab.teacher.send(type="mod", action="invite", name="olive", room="lab")
    assert (await other.expect("moderation"))["action"] == "invite"
    assert (await enter(other))["type"] == "room"
    await lab.ana.send(type="code", room="lab")
    assert (await lab.ana.expect("error"))["code"] == "forbidden"


async def test_the_audit_log(lab: Lab) -> None:
    await lab.teacher.send(type="mod", action="mute", name="gus", room="lab", minutes=5)
    await lab.teacher.expect("moderation")
    await lab.teacher.send(type="mod", action="kick", name="gus", room="lab", reason="noise")
    await lab.teacher.expect("moderation")
    await lab.teacher.send(type="audit", room="lab", id="a1")
    log = await lab.teacher.expect("audit")
    assert log["id"] == "a1"
    assert [(e["action"], e["name"]) for e in log["entries"]] == [("mute", "gus"), ("kick", "gus")]
    await lab.ana.send(type="audit", room="lab")
    assert (await lab.ana.expect("error"))["code"] == "forbidden"
    await lab.root.send(type="audit")
    assert (await lab.root.expect("audit"))["entries"] == []


async def test_plain_text_moderation(lab: Lab, connect) -> None:
    bob: TextPeer = await connect(lab.server, "bob", text=True)
    await bob.type("/join lab")
    await bob.until("you are now in #lab")
    # The teacher, in plain text too.
    teacher: TextPeer = await connect(lab.server, text=True)
    await lab.teacher.close()
    await teacher.type("teacher")
    await teacher.until("* password:")
    await teacher.type(PASSWORD)
    await teacher.until(" online: ")
    await teacher.type("/join lab")
    await teacher.until("now in #lab")
    await teacher.type("/mute bob 10m talking over others")
    line = await bob.until("muted")
    assert "teacher muted bob in #lab for 10 minutes (until " in line
    assert line.endswith("(talking over others)")
    await bob.type("hello?")
    assert "you are muted in lab by teacher until" in await bob.until("muted")
    await teacher.type("/moderated on")
    assert "moderated (only moderators speak)" in await bob.until("settings")
    await bob.type("/kick teacher")
    assert "only the moderators of lab" in await bob.until("!")
    await teacher.type("/kick bob")
    assert "kicked bob out of #lab" in await bob.until("kicked")
    await teacher.type("/audit")
    assert "moderation log of #lab" in await teacher.until("moderation log")
    assert "muted bob" in await teacher.until("muted bob")


@pytest.mark.single_server("a restart of one server on its database file")
async def test_moderation_survives_a_restart(lab: Lab, make_server, connect) -> None:
    await lab.teacher.send(type="mod", action="ban", name="gus", room="lab")
    await lab.teacher.expect("moderation")
    await lab.teacher.send(type="mod", action="mute", name="ana", room="lab")
    await lab.teacher.expect("moderation")
    await lab.teacher.send(type="mode", room="lab", moderated=True)
    await lab.teacher.expect("moderation")
    db = lab.server.config.db
    await lab.server.stop()
    server = await make_server(db=db)
    gus: JsonPeer = await connect(server, "gus")
    assert (await enter(gus))["code"] == "banned"
    ana = await logged_in(server, connect, "ana")
    info = await enter(ana)
    assert info["muted"]["by"] == "teacher"
    assert info["mode"] == {"moderated": True}
    teacher = await logged_in(server, connect, "teacher")
    assert (await enter(teacher))["roles"] == {"teacher": "owner"}
    await teacher.send(type="audit", room="lab")
    entries = (await teacher.expect("audit"))["entries"]
    assert [e["action"] for e in entries] == ["ban", "mute", "mode"]


# -- classroom tools --------------------------------------------------------------------


async def test_raised_hands_reach_the_teacher_and_turns_the_student(lab: Lab) -> None:
    await lab.ana.send(type="hand", room="lab", question="is 0 a natural number?")
    mine = await lab.ana.expect("hand")
    assert (mine["state"], mine["position"]) == ("up", 1)
    queue = await lab.teacher.expect("hands")
    assert queue["queue"][0]["name"] == "ana"
    assert queue["queue"][0]["question"] == "is 0 a natural number?"
    await lab.gus.send(type="hand", room="lab")
    assert (await lab.gus.expect("hand"))["position"] == 2
    await lab.teacher.expect("hands")
    await lab.teacher.send(type="hand", room="lab", next=True)
    turn = await lab.ana.expect("hand")
    assert (turn["state"], turn["by"]) == ("turn", "teacher")
    assert (await lab.gus.expect("hand"))["position"] == 1
    await lab.teacher.send(type="hands", room="lab", id="q")
    while (queue := await lab.teacher.expect("hands")).get("id") != "q":
        pass
    assert [h["name"] for h in queue["queue"]] == ["gus"]
    await lab.gus.send(type="hands", room="lab")
    assert (await lab.gus.expect("error"))["code"] == "forbidden"


async def test_an_announcement_is_counted_for_the_teacher(lab: Lab) -> None:
    ack = await lab.teacher.say("Exam moved to Friday", room="lab", announce=True)
    assert ack["type"] == "ack"
    for peer in (lab.ana, lab.gus):
        message = await peer.expect("message")
        assert message["announcement"] is True
        await peer.send(type="seen", room="lab", seq=message["seq"])
    counts = [await lab.teacher.expect("seen") for _ in range(2)]
    assert [(c["seen"], c["of"]) for c in counts] == [(1, 3), (2, 3)]
    refused = await lab.ana.say("me too", room="lab", announce=True)
    assert refused["code"] == "forbidden"


async def test_plain_text_hands_and_announcements(lab: Lab, connect) -> None:
    bob: TextPeer = await connect(lab.server, "bob", text=True)
    await bob.type("/join lab")
    await bob.until("you are now in #lab")
    await bob.type("/hand how do I save a file?")
    assert "your hand is up in #lab (number 1 in line)" in await bob.until("hand")
    queue = await lab.teacher.expect("hands")
    assert queue["queue"][0]["question"] == "how do I save a file?"
    await bob.type("/hands")
    assert "only the moderators" in await bob.until("!")
    await lab.teacher.send(type="hand", room="lab", next=True)
    assert "your turn in #lab: teacher" in await bob.until("turn")
    assert (await lab.teacher.expect("hands"))["queue"] == []
    await lab.teacher.say("Lab closes at 5", room="lab", announce=True)
    assert "** announcement from teacher: Lab closes at 5" in await bob.until("announcement")
    await bob.type("/seen")
    assert "marked as seen" in await bob.until("marked as seen")
    count = await lab.teacher.expect("seen")
    assert count["seen"] == 1


async def test_a_deleted_message_is_a_tombstone_for_everyone(lab: Lab, connect) -> None:
    sent = await lab.gus.say("something rude", room="lab")
    for peer in (lab.teacher, lab.ana):
        assert (await peer.expect("message"))["seq"] == sent["seq"]
    await lab.ana.send(type="delete", room="lab", seq=sent["seq"], id="d0")
    refused = await lab.ana.expect_any("error")
    assert (refused["code"], refused["id"]) == ("forbidden", "d0")
    await lab.teacher.send(type="delete", room="lab", seq=sent["seq"])
    for peer in (lab.teacher, lab.ana, lab.gus):
        news = await peer.expect("deleted")
        assert (news["seq"], news["by"], news["room"]) == (sent["seq"], "teacher", "lab")
    # History, and the room as a newcomer finds it, hold the tombstone.
    await lab.ana.send(type="history", room="lab")
    (gone,) = [m for m in (await lab.ana.expect("history"))["messages"] if m["seq"] == sent["seq"]]
    assert (gone["deleted"], gone["text"], gone["from"]) == (True, "", "gus")
    late: JsonPeer = await connect(lab.server, "late")
    info = await enter(late)
    (gone,) = [m for m in info["history"] if m["seq"] == sent["seq"]]
    assert gone["deleted"] is True
    await lab.teacher.send(type="audit", room="lab")
    entries = (await lab.teacher.expect("audit"))["entries"]
    assert (entries[-1]["action"], entries[-1]["seq"]) == ("delete", sent["seq"])
