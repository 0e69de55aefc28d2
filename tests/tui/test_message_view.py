"""The rich look of entries: Markdown, quotes, marks, tombstones and reactions, all plain text
from the network drawn as text (never markup), and heights that match what is drawn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conexion_protocol import Message, Reaction
from conexion_tui.actions import MessageBook
from conexion_tui.entries import Entry, Kind, LogStyles, clean, entry_height, render_entry
from conexion_tui.message_view import MessageView, ViewContext, needs_view
from conexion_tui.render import has_markup
from conexion_tui.session import SendStatus

STYLES = LogStyles()


def msg(seq: int, text: str, author: str = "bob", **fields: object) -> Message:
    return Message(seq=seq, ts="t", room="lab", from_=author, text=text, **fields)


def view_entry(book: MessageBook, message: Message, *, viewer: str = "ana") -> Entry:
    state = book.add(message)
    entry = Entry(Kind.CHAT, "12:34", clean(message.text), name=clean(message.from_), seq=state.seq)
    entry.view = MessageView(ViewContext(viewer), state, book)
    return entry


def drawn(entry: Entry, width: int = 60) -> list[str]:
    lines = [line.plain.rstrip() for line in render_entry(entry, STYLES, width)]
    assert len(lines) == entry_height(entry, width)
    return lines


def test_plain_lines_keep_the_plain_path() -> None:
    assert not needs_view("hello there, 🎉 李雷")
    assert needs_view("**bold**")
    assert needs_view("> a quote")
    assert needs_view("two\nlines")
    book = MessageBook(10)
    assert needs_view("plain", book.add(msg(1, "plain", edited=True)))


def test_a_reply_with_reactions_and_an_edit() -> None:
    book = MessageBook(10)
    view_entry(book, msg(1, "first line of it\nsecond", author="ana"))
    entry = view_entry(
        book,
        msg(
            2,
            "I *agree*",
            reply_to=1,
            reply_from="ana",
            edited=True,
            reactions=[Reaction("👍", ["ana", "cleo"]), Reaction("🎉", ["cleo"])],
        ),
    )
    assert drawn(entry) == [
        "      ↪ ana: first line of it",
        "12:34 bob: I agree (edited)",
        "           👍 2  🎉 1",
    ]
    narrow = drawn(entry, 20)
    assert narrow[0].endswith("…")
    assert all(len(line) <= 20 for line in narrow)


def test_a_reply_to_what_is_not_loaded_and_a_tombstone() -> None:
    book = MessageBook(10)
    entry = view_entry(book, msg(5, "yes", reply_to=2, reply_from="ana"))
    assert drawn(entry)[0] == "      ↪ ana: (not loaded · Enter on it jumps there)"
    book.deleted(5)
    assert drawn(entry)[1] == "12:34 bob: message deleted"


def test_code_folds_and_expands() -> None:
    book = MessageBook(10)
    code = "```python\n" + "\n".join(f"x = {n}" for n in range(20)) + "\n```"
    entry = view_entry(book, msg(1, code))
    folded = drawn(entry)
    assert any("press e to expand" in line for line in folded)
    assert entry.view.folded == 1
    entry.view.expanded = True
    assert len(drawn(entry)) > len(folded)


def test_own_pending_mark_follows_the_text() -> None:
    book = MessageBook(10)
    entry = view_entry(book, msg(1, "**done**", author="ana"))
    entry.status = SendStatus.PENDING
    assert drawn(entry) == ["12:34 ana: done …"]


@pytest.mark.parametrize(
    "hostile",
    [
        "[red]not red[/red] [link=file:///etc]x[/link]",
        "\x1b[31mred\x1b]8;;http://evil\x07click\x1b]8;;\x07",
        "**\u202eevil\u202c** :rocket:",
    ],
)
def test_hostile_text_names_and_emoji_stay_text(hostile: str) -> None:
    book = MessageBook(10)
    entry = view_entry(
        book,
        msg(1, hostile, author="[b]x[/b]", reactions=[Reaction("[red]", ["\x1b[2J"])]),
    )
    text = "\n".join(drawn(entry, 80))
    assert "\x1b" not in text
    assert "\u202e" not in text
    if "[red]" in hostile:
        assert "[red]not red[/red]" in text
    assert "[b]x[/b]" in text  # the name as typed
    assert "[red] 1" in text  # even a bogus reaction is drawn as text


def test_a_quote_shows_the_original_as_drawn() -> None:
    book = MessageBook(10)
    view_entry(book, msg(1, "Does **everyone** agree? :rocket:\nmore", author="ana"))
    entry = view_entry(book, msg(2, "yes", reply_to=1, reply_from="ana"))
    assert drawn(entry)[0] == "      ↪ ana: Does everyone agree? 🚀"


@given(st.text(alphabet=st.sampled_from("ab :/\\`*_[]<>@-+.1\n\t~ 🎉"), max_size=30))
def test_needs_view_finds_all_that_has_markup_finds(text: str) -> None:
    if has_markup(text) or "\n" in text:
        assert needs_view(text)


def test_search_hits_are_drawn_as_text() -> None:
    from conexion_protocol import DirectMessage
    from conexion_tui.screens.search import hit_line
    from tests.tui.conftest import FixedClock

    hit = msg(3, "[red]x[/red] \x1b[2Jgone\u202e", author="bob")
    line = hit_line(hit, "ana", FixedClock())
    assert line.plain == "[t 12:34] #lab bob: [red]x[/red] [2Jgone"
    dm = DirectMessage(seq=1, ts="2026-11-03T10:31:00Z", from_="ANA", to="bob", text="hi\nthere")
    assert hit_line(dm, "ana", FixedClock()).plain == "[2026-11-03 12:34] @bob ANA: hi there"


def test_a_selected_message_says_who_reacted() -> None:
    book = MessageBook(10)
    names = ["ana", "[b]cleo[/b]", "dan", "eve", "fay", "gus", "hal"]
    entry = view_entry(book, msg(1, "hi", reactions=[Reaction("👍", names), Reaction("🎉", ["x"])]))
    assert drawn(entry)[1] == "           👍 7  🎉 1"
    entry.view.detailed = True
    assert drawn(entry, 100)[1] == (
        "           👍 7 (ana, [b]cleo[/b], dan, eve, fay +2)  🎉 1 (x)"
    )
    assert len(drawn(entry, 40)) == 3  # wrapped to another row
