"""The moderation and classroom commands as the parser reads them, their Tab
completion, /help, and the words the screen says about them (news lines,
mutes, kicks and bans, notices), with our standing kept from frames: all pure,
no app and no socket."""

from __future__ import annotations

import time

import pytest

from conexion_protocol import (
    HandNews,
    HandState,
    ModAction,
    Moderation,
    RaisedHand,
    Role,
    RoomInfo,
    RoomMode,
    Users,
    format_ts,
    parse_ts,
)
from conexion_tui.commands import (
    COMMANDS,
    Announce,
    CommandError,
    DeleteMessage,
    JoinRoom,
    ListHands,
    LowerHand,
    MarkSeen,
    Moderate,
    NextHand,
    RaiseHand,
    Rank,
    SetMode,
    ShowAudit,
    ShowCode,
    complete,
    help_lines,
    parse,
)
from conexion_tui.conversation import Roster
from conexion_tui.news import (
    banned_from_chat,
    hand_line,
    moderation_line,
    mute_words,
    put_out,
    queue_lines,
    readable_times,
    standing_notices,
    time_left,
)
from conexion_tui.standing import Sanction, Standing, Standings
from tests.tui.conftest import FixedClock

NOW = parse_ts("2026-12-01T10:30:00.000Z") or 0.0


def me(name: str) -> bool:
    return name.casefold() == "ana"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/kick bob", Moderate(ModAction.KICK, "bob")),
        (
            "/kick @bob talking over others",
            Moderate(ModAction.KICK, "bob", reason="talking over others"),
        ),
        ("/mute bob", Moderate(ModAction.MUTE, "bob")),
        ("/mute bob 10", Moderate(ModAction.MUTE, "bob", minutes=10)),
        ("/mute bob 90s noise", Moderate(ModAction.MUTE, "bob", minutes=2, reason="noise")),
        ("/mute bob 2h", Moderate(ModAction.MUTE, "bob", minutes=120)),
        ("/mute bob loud and rude", Moderate(ModAction.MUTE, "bob", reason="loud and rude")),
        ("/unmute bob", Moderate(ModAction.UNMUTE, "bob")),
        ("/ban bob 1w spam", Moderate(ModAction.BAN, "bob", minutes=7 * 24 * 60, reason="spam")),
        ("/unban bob", Moderate(ModAction.UNBAN, "bob")),
        ("/serverban bob 3d", Moderate(ModAction.BAN, "bob", minutes=3 * 24 * 60, server=True)),
        ("/serverunban bob", Moderate(ModAction.UNBAN, "bob", server=True)),
        ("/op bob", Moderate(ModAction.OP, "bob")),
        ("/op bob owner", Moderate(ModAction.OP, "bob", role=Role.OWNER)),
        ("/deop bob", Moderate(ModAction.DEOP, "bob")),
        ("/invite bob", Moderate(ModAction.INVITE, "bob")),
        ("/moderated on", SetMode("moderated", True)),
        ("/moderated OFF", SetMode("moderated", False)),
        ("/slow 30", SetMode("slow", 30)),
        ("/slow 30s", SetMode("slow", 30)),
        ("/slow off", SetMode("slow", 0)),
        ("/private on", SetMode("private", True)),
        ("/topiclock on", SetMode("topic_lock", True)),
        ("/code", ShowCode()),
        ("/code new", ShowCode(rotate=True)),
        ("/audit", ShowAudit()),
        ("/audit #lab", ShowAudit("lab")),
        ("/audit server", ShowAudit(server=True)),
        ("/hand", RaiseHand(None)),
        ("/hand what is a compiler?", RaiseHand("what is a compiler?")),
        ("/hand down", LowerHand(None)),
        ("/lower bob", LowerHand("bob")),
        ("/next", NextHand()),
        ("/hands", ListHands()),
        ("/announce Exam on Friday", Announce("Exam on Friday")),
        ("/seen", MarkSeen()),
        ("/delete", DeleteMessage()),
        ("/join lab K7QP-M3XD", JoinRoom("lab", "K7QP-M3XD")),
    ],
)
def test_moderation_commands_parse(line: str, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("/kick", "usage: /kick NAME [REASON]"),
        ("/unmute bob now please", "usage: /unmute NAME"),
        ("/op bob admin", "usage: /op NAME [owner]"),
        ("/mute bob 0m", "a duration is at least a minute"),
        ("/ban bob 100w", "at most a year"),
        ("/slow fast", "usage: /slow SECONDS|off (1 to 3600 seconds)"),
        ("/slow 4000", "1 to 3600 seconds"),
        ("/moderated maybe", "usage: /moderated on|off"),
        ("/code old", "usage: /code [new]"),
        ("/audit not a room", "usage: /audit [ROOM|server]"),
        ("/audit l@b", "room name"),
        ("/announce", "usage: /announce TEXT"),
        ("/next one", "usage: /next"),
        ("/lower", "usage: /lower NAME"),
    ],
)
def test_moderation_commands_explain_their_mistakes(line: str, words: str) -> None:
    result = parse(line)
    assert isinstance(result, CommandError), result
    assert words in result.message


def test_help_lists_every_command_under_who_may_use_it() -> None:
    lines = help_lines()
    text = "\n".join(lines)
    for spec in COMMANDS:
        assert spec.usage in text
    staff = lines.index("A room's staff (its moderators, owners, and admins):")
    admins = lines.index("Admins of the whole chat:")
    assert staff < next(i for i, line in enumerate(lines) if "/kick NAME" in line) < admins
    assert any("/serverban" in line for line in lines[admins:])
    assert {spec.rank for spec in COMMANDS} == set(Rank)
    assert "F3" in text
    assert "F4" in text


def test_tab_completes_what_each_argument_is() -> None:
    names = ["bob", "Bea", "ana"]

    def candidates(line: str, hands: tuple[str, ...] = ()) -> tuple[str, ...]:
        found = complete(line, len(line), names, ["lab", "general"], hands)
        return found.candidates if found is not None else ()

    assert candidates("/mu") == ("/mute ",)
    assert candidates("/mute b") == ("Bea ", "bob ")
    assert candidates("/mute bob 1") == ("10m ", "1h ", "1d ", "1w ")
    assert candidates("/ban bob ") == ("10m ", "30m ", "1h ", "1d ", "1w ")
    assert candidates("/moderated o") == ("on ", "off ")
    assert candidates("/slow ") == ("off ", "10 ", "30 ", "60 ", "300 ")
    assert candidates("/op bob o") == ("owner ",)
    assert candidates("/audit ") == ("server ", "#general ", "#lab ")
    assert candidates("/lower ", hands=("bob",)) == ("bob ",)
    assert candidates("/lower a") == ("ana ",)  # nobody's hand known: anyone
    assert candidates("/kick bob for b") == ("Bea ", "bob ")  # a reason: names again


# -- the words -------------------------------------------------------------------


def news(action: ModAction, **fields: object) -> Moderation:
    return Moderation(action=action, by="Teacher", ts=format_ts(NOW), **fields)  # type: ignore[arg-type]


def test_news_lines_say_who_did_what_why_and_until_when() -> None:
    clock = FixedClock()
    clock.stop_at(NOW)
    until = format_ts(NOW + 600)
    mute = news(ModAction.MUTE, room="lab", name="bob", until=until, reason="[b]noise[/b]")
    line = moderation_line(mute, me, clock)
    assert line.startswith("Teacher muted bob in #lab for 10 minutes (until ")
    assert line.endswith("([b]noise[/b])")
    assert moderation_line(news(ModAction.BAN, room="lab", name="ana"), me, clock) == (
        "Teacher banned you from #lab until a moderator lifts it"
    )
    assert moderation_line(news(ModAction.BAN, name="bob"), me, clock).startswith(
        "Teacher banned bob from this chat"
    )
    op = news(ModAction.OP, room="lab", name="bob", role=Role.OWNER)
    assert moderation_line(op, me, clock) == "Teacher made bob an owner of #lab"
    deop = news(ModAction.DEOP, room="lab", name="ana", role=Role.MODERATOR)
    assert moderation_line(deop, me, clock) == "Teacher took away your moderator role in #lab"
    invite = news(ModAction.INVITE, room="lab", name="ana")
    assert moderation_line(invite, me, clock).endswith("; /join lab enters it")
    mode = news(ModAction.MODE, room="lab", mode=RoomMode(moderated=True, slow=30))
    assert moderation_line(mode, me, clock) == (
        "Teacher changed the settings of #lab: moderated (only moderators speak), "
        "slow mode (one message every 30 s)"
    )


def test_time_left_reads_like_a_person() -> None:
    assert time_left(0.2) == "1 s left"
    assert time_left(59.2) == "1 min left"
    assert time_left(600) == "10 min left"
    assert time_left(2 * 3600 + 300) == "2 h 5 min left"
    assert time_left(3 * 86400) == "3 days left"


def test_a_mute_a_kick_and_bans_explained() -> None:
    clock = FixedClock()
    clock.stop_at(NOW)
    words = mute_words("#lab", Sanction("Teacher", "noise", NOW + 90), NOW, clock)
    assert words.startswith("You are muted in #lab by Teacher until ")
    assert "(2 min left): noise." in words
    said = Sanction(said="you are muted in lab by Teacher until 10:40; nothing was sent")
    assert mute_words("#lab", said, NOW, clock).startswith("You are muted in lab by Teacher")
    kick = put_out(
        "#lab",
        "kicked",
        news(ModAction.KICK, room="lab", name="ana", reason="phone"),
        now=NOW,
        clock=clock,
    )
    assert kick.lines[0] == "Teacher kicked you out of #lab."
    assert "Reason: phone" in kick.lines
    assert kick.lines[-1].endswith("You may come back: /join lab.")
    ban = put_out("#lab", "banned", None, now=NOW, clock=clock)
    assert ban.lines[0] == "You were banned from #lab."
    chat = banned_from_chat(None, "you are banned from this chat by root", now=NOW, clock=clock)
    assert chat.server
    assert chat.lines[0] == "You are banned from this chat by root."


def test_hands_and_notices() -> None:
    clock = FixedClock()
    assert hand_line(HandNews(room="lab", state=HandState.UP, position=2)) == (
        "your hand is up in #lab: number 2 in line"
    )
    assert hand_line(HandNews(room="lab", state=HandState.DOWN, by="Teacher")) == (
        "Teacher lowered your hand in #lab"
    )
    queue = [RaisedHand("ana", format_ts(NOW), "why?"), RaisedHand("bob", format_ts(NOW))]
    assert queue_lines("lab", queue, clock) == [
        "2 hands up in #lab:",
        "1. ana (12:34): why?",
        "2. bob (12:34)",
    ]
    student = Standing(mode=RoomMode(moderated=True, slow=30))
    kinds = [n.kind for n in standing_notices("#lab", student, now=NOW, clock=clock)]
    assert kinds == ["moderated", "slow"]
    staff = Standing(role=Role.MODERATOR, mode=RoomMode(moderated=True), queue=queue)
    texts = [n.text for n in standing_notices("#lab", staff, now=NOW, clock=clock, show_queue=True)]
    assert texts[0] == "#lab is moderated: as its moderator you are not held back."
    assert texts[1].startswith("Hands up (2): ana, bob · F4 or /next takes ana")


def test_standings_follow_the_frames() -> None:
    standings = Standings(me)
    standings.welcomed(False, "general", {"Teacher": Role.OWNER})
    assert standings.peek("general").role is None
    muted = news(ModAction.MUTE, room="lab", name="ana", until=format_ts(NOW + 60))
    info = RoomInfo(
        room="Lab",
        topic="",
        users=["ana"],
        user_count=1,
        history=[],
        roles={"ANA": Role.MODERATOR},
        mode=RoomMode(slow=10),
        muted=muted,
    )
    standings.room_info(info)
    lab = standings.peek("lab")
    assert lab.role is Role.MODERATOR
    assert lab.staff
    assert lab.mode.slow == 10
    assert lab.muted(NOW) is not None
    assert lab.muted(NOW + 61) is None
    standings.moderation(news(ModAction.DEOP, room="lab", name="ana"))
    assert standings.peek("lab").role is None
    standings.moderation(news(ModAction.UNMUTE, room="lab", name="ana"))
    assert standings.peek("lab").mute is None
    standings.refused("lab", "muted", "you are muted in lab")
    assert standings.peek("lab").mute == Sanction(said="you are muted in lab")
    standings.accepted("lab")
    assert standings.peek("lab").mute is None
    standings.users(Users(room="lab", users=["ana"], roles={"ana": Role.OWNER}))
    assert standings.peek("lab").role is Role.OWNER
    standings.welcomed(True, "general", None)  # an admin is staff everywhere
    assert standings.peek("elsewhere").role is Role.ADMIN
    standings.forget("lab")
    assert "lab" not in standings.rooms


def test_a_roster_keeps_roles_through_renames() -> None:
    roster = Roster(["Teacher", "bob"])
    roster.replace(["Teacher", "bob"], roles={"teacher": Role.OWNER})
    assert roster.badged("TEACHER") == "TEACHER (owner)"
    assert roster.set_role("bob", Role.MODERATOR)
    assert not roster.set_role("bob", Role.MODERATOR)
    assert roster.rename("bob", "bobby")
    assert roster.role_of("bobby") is Role.MODERATOR
    assert roster.set_role("bobby", None)
    assert roster.badged("bobby") == "bobby"


def test_the_servers_times_read_as_local_moments() -> None:
    clock = FixedClock()
    until = NOW + 3600
    clock.stop_at(NOW)
    said = f"you are banned from lab by Teacher until {format_ts(until)} (spam)"
    shown = readable_times(said, clock)
    assert format_ts(until) not in shown
    assert f"until {time.strftime('%H:%M', time.localtime(until))} (spam)" in shown
    assert readable_times("no time here: 12:00", clock) == "no time here: 12:00"
