"""Typed lines before they are sent: shortcodes, action lines, /paste's code block."""

from __future__ import annotations

import pytest

from conexion_protocol import MAX_TEXT_LEN
from conexion_tui.compose import (
    ComposeError,
    PasteError,
    PasteFile,
    ReactToLatest,
    SearchFor,
    code_block,
    expand_shortcodes,
    parse_action_line,
    shortcode_completion,
)


def test_shortcodes_become_emoji_outside_code() -> None:
    assert expand_shortcodes("ship it :rocket: :tada:") == "ship it 🚀 🎉"
    assert expand_shortcodes("`:rocket:` stays") == "`:rocket:` stays"
    assert expand_shortcodes("```\n:rocket:\n```\n:rocket:") == "```\n:rocket:\n```\n🚀"
    assert expand_shortcodes("at 10:30: :nope_not_one:") == "at 10:30: :nope_not_one:"
    assert expand_shortcodes("no colons") == "no colons"


def test_shortcode_completion() -> None:
    assert shortcode_completion("go :roc", 7) == (3, (":rocket: ",))
    assert shortcode_completion("10:ro", 5) is None  # not at a word start
    assert shortcode_completion(":r", 2) is None  # too short to guess
    assert shortcode_completion("hello", 5) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/search slides", SearchFor("slides")),
        ("/SEARCH  two words ", SearchFor("two words")),
        ("/search", SearchFor("")),
        ("/paste notes.py", PasteFile("notes.py")),
        ("/paste", ComposeError("usage: /paste FILE")),
        ("+:tada:", ReactToLatest("🎉")),
        ("+:+1:", ReactToLatest("👍")),
        ("+👍", ReactToLatest("👍")),
        ("+:nope_nope:", ComposeError("no emoji is called :nope_nope:")),
        ("+1", None),
        ("+word", None),
        ("hello", None),
        ("/join lab", None),
    ],
)
def test_action_lines(line: str, expected: object) -> None:
    assert parse_action_line(line) == expected


def test_code_block_from_a_file() -> None:
    assert code_block("src/x.py", b"def f():\n    return 1\n") == (
        "```python\ndef f():\n    return 1\n```"
    )
    assert code_block("notes", b"a ``` b").startswith("````\n")
    assert code_block("a.txt", b"x\r\ny").endswith("\nx\ny\n```")


def test_code_block_refusals() -> None:
    with pytest.raises(PasteError, match="not UTF-8"):
        code_block("img.png", b"\x89PNG\xff\xfe")
    with pytest.raises(PasteError, match="binary"):
        code_block("a.bin", b"a\x00b")
    with pytest.raises(PasteError, match="empty"):
        code_block("a.py", b"\n\n")
    with pytest.raises(PasteError, match="the limit is 4,000"):
        code_block("big.py", b"x" * MAX_TEXT_LEN)
    assert len(code_block("ok.py", b"x" * (MAX_TEXT_LEN - 14))) == MAX_TEXT_LEN
