"""The walk-through of docs/operations.md ("Running a class"), step by step,
against a real server on a real database with the operator's real command
line: a teacher imports a class list, opens #lab moderated, takes raised
hands, mutes and kicks, and finds it all in the audit log after a restart;
a student cannot take the teacher's name."""

from __future__ import annotations

import io

import pytest

from conexion_server import account_admin
from tests.peers import JsonPeer, TextPeer

pytestmark = pytest.mark.single_server("a restart of one server on its database file")

TEACHER_PASSWORD = "chalk and blackboard"


def accounts(db: str, *args: str) -> str:
    out = io.StringIO()
    assert account_admin.main(["--db", db, *args], ":unused:", out=out) == 0
    return out.getvalue()


async def student(server, connect, name: str, password: str) -> TextPeer:
    peer: TextPeer = await connect(server, text=True)
    await peer.type(name)
    await peer.until("* password:")
    await peer.type(password)
    await peer.until(" online: ")
    return peer


async def test_running_a_class(make_server, connect, tmp_path) -> None:
    db = str(tmp_path / "school.db")
    # 1. The operator: the teacher's account, then the class list.
    secret = tmp_path / "teacher.txt"
    secret.write_text(TEACHER_PASSWORD + "\n")
    accounts(db, "add", "Teacher", "--password-file", str(secret))
    roster = tmp_path / "class-3b.csv"
    roster.write_text("name\nAlba\nBruno\nCarla\n")
    handout = dict(line.split(",") for line in accounts(db, "import", str(roster)).splitlines()[1:])
    assert sorted(handout) == ["Alba", "Bruno", "Carla"]
    server = await make_server(db=db, registration="closed", room_creation="registered")

    # 2. The teacher opens #lab, moderated; the students come in.
    teacher: JsonPeer = await connect(server)
    await teacher.send(type="hello", name="teacher", proto=1, account_password=TEACHER_PASSWORD)
    assert (await teacher.expect("welcome"))["name"] == "Teacher"
    await teacher.send(type="join", room="lab")
    assert (await teacher.expect("room"))["roles"] == {"Teacher": "owner"}
    await teacher.send(type="mode", room="lab", moderated=True)
    await teacher.expect("moderation")
    alba = await student(server, connect, "alba", handout["Alba"])
    bruno = await student(server, connect, "bruno", handout["Bruno"])
    for peer in (alba, bruno):
        await peer.type("/join lab")
        await peer.until("you are now in #lab")

    # 3. A student cannot take the teacher's name (online, it is taken).
    impostor: JsonPeer = await connect(server)
    await impostor.send(type="hello", name="TEACHER", proto=1)
    assert (await impostor.recv())["code"] == "name_taken"

    # 4. Moderated: students raise hands instead of talking.
    await alba.type("can I ask something?")
    assert "lab is moderated" in await alba.until("!")
    await alba.type("/hand what does a compiler do?")
    await alba.until("your hand is up")
    queue = await teacher.expect("hands")
    assert queue["queue"][0]["question"] == "what does a compiler do?"
    await teacher.send(type="hand", room="lab", next=True)
    assert "your turn in #lab: Teacher" in await alba.until("turn")

    # 5. Mute and kick.
    await teacher.send(type="mod", action="mute", name="bruno", room="lab", minutes=10)
    assert "Teacher muted Bruno in #lab for 10 minutes" in await bruno.until("muted")
    await teacher.send(type="mod", action="kick", name="bruno", room="lab", reason="phone")
    assert "Teacher kicked Bruno out of #lab (phone)" in await bruno.until("kicked")

    # 6. After a restart, while the teacher is away, the name is still theirs.
    await server.stop()
    server = await make_server(db=db)
    impostor = await connect(server)
    await impostor.send(type="hello", name="teacher", proto=1)
    assert (await impostor.recv())["code"] == "login_required"
    await impostor.send(type="hello", name="Bruno2", proto=1)
    assert (await impostor.recv())["type"] == "welcome"
    await impostor.send(type="nick", name="Teacher")
    assert (await impostor.expect("error"))["code"] == "login_required"
    # And it is all in the audit log.
    teacher = await connect(server)
    await teacher.send(type="hello", name="Teacher", proto=1, account_password=TEACHER_PASSWORD)
    await teacher.expect("welcome")
    await teacher.send(type="audit", room="lab")
    entries = (await teacher.expect("audit"))["entries"]
    assert [(e["action"], e.get("name")) for e in entries] == [
        ("mode", None),
        ("mute", "Bruno"),
        ("kick", "Bruno"),
    ]
