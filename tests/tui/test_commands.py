"""Slash-command parsing and Tab completion: pure functions, no app."""

from __future__ import annotations

import pytest

from conexion_tui.commands import (
    COMMANDS,
    ChangeNick,
    ClearLog,
    CommandError,
    ListUsers,
    Quit,
    SendAction,
    SendDirect,
    SendText,
    ShowHelp,
    complete,
    help_lines,
    parse,
)


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
        ("/msg bob", "/msg NAME TEXT"),
        ("/msg bob   ", "/msg NAME TEXT"),
        ("/nick", "/nick NAME"),
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


def test_help_mentions_every_command() -> None:
    text = "\n".join(help_lines())
    for spec in COMMANDS:
        assert spec.usage in text
    assert "ctrl+j" in text


def test_complete_commands() -> None:
    found = complete("/n", 2, [])
    assert found is not None
    assert found.candidates == ("/nick ",)
    assert (found.start, found.end) == (0, 2)
    found = complete("/", 1, [])
    assert found is not None
    assert len(found.candidates) == len(COMMANDS)
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
