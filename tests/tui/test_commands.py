"""Slash-command parsing and Tab completion: pure functions, no app."""

from __future__ import annotations

import pytest

from conexion_tui.commands import (
    COMMANDS,
    ChangeNick,
    ClearLog,
    CommandError,
    JoinRoom,
    ListRooms,
    ListUsers,
    OpenDirect,
    PartRoom,
    Place,
    Quit,
    SendAction,
    SendDirect,
    SendText,
    SetTopic,
    ShowHelp,
    Target,
    command_names,
    complete,
    fuzzy_score,
    help_lines,
    parse,
    switcher_choices,
)
from conexion_tui.conversation import dm_key, room_key


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hola", SendText("hola")),
        ("  spaced  out  ", SendText("  spaced  out  ")),
        ("two\nlines", SendText("two\nlines")),
        ("\nhola\n", SendText("hola")),
        ("//not a command", SendText("/not a command")),
        ("/me waves", SendAction("waves")),
        ("/ME  waves twice ", SendAction("waves twice")),
        ("/msg bob psst", SendDirect("bob", "psst")),
        ("/msg bob  psst  there", SendDirect("bob", "psst  there")),
        ("/msg bob", OpenDirect("bob")),
        ("/msg @bob   ", OpenDirect("bob")),
        ("/query bob hi", SendDirect("bob", "hi")),
        ("/join lab", JoinRoom("lab")),
        ("/join #lab ABCD-2345", JoinRoom("lab", "ABCD-2345")),
        ("/JOIN #Lab-3", JoinRoom("Lab-3")),
        ("/j lab", JoinRoom("lab")),
        ("/part", PartRoom(None)),
        ("/part #lab", PartRoom("lab")),
        ("/leave lab", PartRoom("lab")),
        ("/rooms", ListRooms()),
        ("/topic", SetTopic(None)),
        ("/topic Friday: bring the kits", SetTopic("Friday: bring the kits")),
        ("/topic --clear", SetTopic("")),
        ("/nick anita", ChangeNick("anita")),
        ("/who", ListUsers()),
        ("/clear", ClearLog()),
        ("/help", ShowHelp()),
        ("/exit", Quit()),
        ("/quit", Quit()),
        ("/QUIT", Quit()),
    ],
)
def test_parse_commands(line: str, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize("line", ["", "   ", "\n\n", " \t "])
def test_blank_lines_are_nothing(line: str) -> None:
    assert parse(line) is None


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("/me", "/me TEXT"),
        ("/me   ", "/me TEXT"),
        ("/msg", "/msg NAME TEXT"),
        ("/nick", "/nick NAME"),
        ("/join", "/join ROOM [CODE]"),
        ("/join three more words", "/join ROOM [CODE]"),
        ("/part two rooms", "/part [ROOM]"),
        ("/nick two words", "/nick NAME"),
    ],
)
def test_usage_errors(line: str, usage: str) -> None:
    result = parse(line)
    assert isinstance(result, CommandError)
    assert result.message == f"usage: {usage}"


def test_unknown_command_is_an_error_that_helps() -> None:
    result = parse("/dance wildly")
    assert isinstance(result, CommandError)
    assert "/dance" in result.message
    assert "/help" in result.message
    assert "//" in result.message


def test_help_mentions_every_command_and_key() -> None:
    text = "\n".join(help_lines())
    for spec in COMMANDS:
        assert spec.usage in text
    for key in ("ctrl+j", "alt+↑", "alt+1", "ctrl+k", "ctrl+n", "ctrl+p", "F1", "ctrl+q"):
        assert key in text


@pytest.mark.parametrize("line", ["/join not a room", "/join #", "/part l@b", "/join x" * 9])
def test_bad_room_names_are_refused_before_sending(line: str) -> None:
    result = parse(line)
    assert isinstance(result, CommandError)
    assert "room name" in result.message or "usage" in result.message


def test_complete_rooms_after_join_and_part_or_a_hash() -> None:
    rooms = ["general", "Lab", "lab-2", "dev"]
    found = complete("/join l", 7, [], rooms)
    assert found is not None
    assert found.candidates == ("#Lab ", "#lab-2 ")
    found = complete("/part ", 6, [], rooms)
    assert found is not None
    assert found.candidates == ("#dev ", "#general ", "#Lab ", "#lab-2 ")
    found = complete("see #de", 7, ["dev-person"], rooms)
    assert found is not None
    assert found.candidates == ("#dev ",)
    assert complete("/join zz", 8, [], rooms) is None


# -- the quick switcher -----------------------------------------------------------


def test_fuzzy_scores_prefer_prefixes_then_word_starts_then_substrings() -> None:
    assert fuzzy_score("", "anything") == 0
    prefix = fuzzy_score("lab", "lab-3")
    word = fuzzy_score("lab", "team-lab")
    inside = fuzzy_score("lab", "collab")
    scattered = fuzzy_score("lab", "l-a-b")
    assert prefix is not None
    assert word is not None
    assert inside is not None
    assert scattered is not None
    assert prefix > word > inside > scattered
    assert fuzzy_score("LAB", "Lab") == fuzzy_score("lab", "lab")
    assert fuzzy_score("bal", "lab") is None  # letters out of order
    assert fuzzy_score("lab", "lab") > fuzzy_score("lab", "lab-3")  # type: ignore[operator]


def places() -> tuple[list[Place], list[Place], list[Place]]:
    conversations = [
        Place(Target.OPEN, "general", room_key("general")),
        Place(Target.OPEN, "lab", room_key("lab"), "3 unread"),
        Place(Target.OPEN, "bob", dm_key("bob"), room=False),
    ]
    rooms = [Place(Target.JOIN, "labrador", "labrador", "4 here"), Place(Target.JOIN, "dev", "dev")]
    people = [Place(Target.MESSAGE, "carol", "carol", room=False)]
    return conversations, rooms, people


def test_the_switcher_ranks_every_kind_of_place() -> None:
    conversations, rooms, people = places()
    assert [p.name for p in switcher_choices("", conversations, rooms, people)] == [
        "general",
        "lab",
        "bob",
        "labrador",
        "dev",
        "carol",
    ]
    found = switcher_choices("lab", conversations, rooms, people)
    assert [(p.target, p.name) for p in found] == [
        (Target.OPEN, "lab"),
        (Target.JOIN, "labrador"),
    ]
    assert [p.name for p in switcher_choices("cl", conversations, rooms, people)] == ["carol"]


def test_hash_keeps_rooms_and_offers_to_create_a_new_one() -> None:
    conversations, rooms, people = places()
    found = switcher_choices("#la", conversations, rooms, people)
    assert [p.name for p in found] == ["lab", "labrador", "la"]
    assert found[-1].target is Target.CREATE
    # A room that exists (in any spelling) is not offered again.
    assert all(p.target is not Target.CREATE for p in switcher_choices("#LAB", *places()))
    # A name that cannot be a room is not offered at all.
    assert switcher_choices("#no spaces", *places()) == []
    # Without #, creating is offered only when nothing else fits.
    found = switcher_choices("zebra", *places())
    assert [(p.target, p.name) for p in found] == [(Target.CREATE, "zebra")]


def test_at_keeps_people() -> None:
    found = switcher_choices("@", *places())
    assert [(p.target, p.name) for p in found] == [
        (Target.OPEN, "bob"),
        (Target.MESSAGE, "carol"),
    ]
    assert switcher_choices("@zebra", *places()) == []  # never a room to create


def test_complete_commands() -> None:
    found = complete("/ni", 3, [])
    assert found is not None
    assert found.candidates == ("/nick ",)
    assert (found.start, found.end) == (0, 3)
    found = complete("/", 1, [])
    assert found is not None
    assert len(found.candidates) == len(command_names())  # /msg has two usages, one name
    assert complete("/zz", 3, []) is None


def test_complete_names_case_insensitively_and_sorted() -> None:
    names = ["bob", "Bernardo", "ana", "BEA"]
    found = complete("b", 1, names)
    assert found is not None
    assert found.candidates == ("BEA: ", "Bernardo: ", "bob: ")
    found = complete("hi BE", 5, names)
    assert found is not None
    assert found.candidates == ("BEA ", "Bernardo ")
    assert (found.start, found.end) == (3, 5)


def test_complete_name_after_msg_and_at_sign() -> None:
    found = complete("/msg a", 6, ["ana"])
    assert found is not None
    assert found.candidates == ("ana ",)
    found = complete("ping @an", 8, ["ana"])
    assert found is not None
    assert found.candidates == ("@ana ",)


def test_complete_in_the_middle_of_a_line() -> None:
    found = complete("hey bo how are you", 6, ["bob"])
    assert found is not None
    assert (found.start, found.end) == (4, 6)
    assert complete("hey xx", 6, ["bob"]) is None


def test_complete_a_slash_word_later_in_the_line_is_a_name() -> None:
    assert complete("see /n", 6, ["nina"]) is None
