"""Log entries: sanitising, colours, mentions and wrapping by cell width.
Pure functions; hypothesis looks for texts that break the wrapping rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from conexion_protocol import text_key
from conexion_tui.client import SendStatus
from conexion_tui.entries import (
    _STRIP,
    NAME_COLOURS,
    Entry,
    Kind,
    LogStyles,
    _mention_pattern,
    _wrap_plain,
    _wrap_words,
    cells,
    clean,
    entry_height,
    mentions,
    name_colour,
    render_entry,
    wrap_offsets,
)

# Text as people (and attackers) type it: ASCII, accents, CJK, emoji,
# combining marks, spaces and newlines.
ALPHABET = st.sampled_from(
    list("abcdefghij ABC.,!?-_[]/\\")
    + list("éñü李雷世界")
    + ["🎉", "👍🏽", "e\u0301", " ", "  ", "\n"]
)
TEXTS = st.lists(ALPHABET, min_size=1, max_size=120).map("".join)


def test_clean_removes_controls_escapes_and_bidi() -> None:
    raw = "a\x1b[31mb\x07c\x9bd\u202ee\u2066f\u2069\r\x00g\x7f"
    assert clean(raw) == "a[31mbcdefg"
    assert clean("tab\there") == "tab here"
    assert clean("line\u2028sep") == "line\nsep"
    assert clean("two\nlines", single_line=True) == "two lines"
    assert clean("🎉 李雷 देवनागरी") == "🎉 李雷 देवनागरी"


def test_clean_s_shortcut_for_printable_text_skips_nothing_it_must_strip() -> None:
    # clean() returns a printable text untouched: that is only right while
    # every character it strips or changes is unprintable.
    assert not any(chr(cp).isprintable() for cp in _STRIP)
    assert not "\t".isprintable()
    assert not "\n".isprintable()
    assert clean("plain, 🎉 李雷 e\u0301") == "plain, 🎉 李雷 e\u0301"


@given(st.text(max_size=200))
def test_clean_leaves_nothing_dangerous(raw: str) -> None:
    text = clean(raw)
    assert all(ch == "\n" or ord(ch) >= 0x20 for ch in text)
    assert not any(0x7F <= ord(ch) < 0xA0 for ch in text)
    assert not any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in text)
    assert clean(text) == text


def test_name_colour_is_stable_and_ignores_case() -> None:
    assert name_colour("Ana") == name_colour("ana") == name_colour("ANA")
    assert 0 <= name_colour("bob") < NAME_COLOURS
    colours = {name_colour(f"user{n}") for n in range(100)}
    assert len(colours) == NAME_COLOURS  # the palette is actually used


MENTION_TEXTS = st.lists(
    st.sampled_from(["ana", "Ana", "аnа", "ANA", "ana,", "bob", "李雷", "José", "jose\u0301"])
    | st.sampled_from([" ", "  ", "\u3000", "\u00a0", ":", "é", "🎉", "\u0301", "x"]),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(MENTION_TEXTS, st.sampled_from(["ana", "josé", "李雷", "\ufe70x"]))
def test_a_mention_found_word_by_word_is_the_whole_text_s(text: str, name: str) -> None:
    # Outside ASCII, mentions() looks at each word once (cached) instead of
    # keying the whole text; it must answer as the whole-text search does.
    whole = _mention_pattern(name).search(text_key(text)) is not None
    assert mentions(text, name) == whole


def test_mentions_match_whole_names_only() -> None:
    assert mentions("hey ana", "ana")
    assert mentions("ANA: look", "ana")
    assert mentions("thanks, Ana!", "ana")
    assert mentions("@ana ping", "ana")
    assert not mentions("banana", "ana")
    assert not mentions("anatomy", "ana")
    assert mentions("hola José", "josé")
    assert mentions("x.y said hi", "x.y")
    assert not mentions("anything", "")


def test_own_message_marks() -> None:
    entry = Entry(Kind.CHAT, "12:00", "hola", name="ana", own=True, status=SendStatus.PENDING)
    assert [t.plain for t in render_entry(entry, LogStyles(), 80)] == ["12:00 ana: hola …"]
    entry.status = SendStatus.SENT
    assert render_entry(entry, LogStyles(), 80)[0].plain == "12:00 ana: hola ✓"
    entry.status = SendStatus.FAILED
    entry.reason = "rate_limited: too many"
    assert render_entry(entry, LogStyles(), 80)[0].plain == (
        "12:00 ana: hola ✗ not sent: rate_limited: too many"
    )


def test_each_kind_has_its_prefix() -> None:
    def line(kind: Kind, **kw: object) -> str:
        entry = Entry(kind, "12:00", "text", **kw)  # type: ignore[arg-type]
        return render_entry(entry, LogStyles(), 80)[0].plain

    assert line(Kind.CHAT, name="bob") == "12:00 bob: text"
    assert line(Kind.ACTION, name="bob") == "12:00 * bob text"
    assert line(Kind.DM_IN, name="bob") == "12:00 ← bob: text"
    assert line(Kind.DM_OUT, name="bob") == "12:00 → bob: text"
    assert line(Kind.SYSTEM) == "12:00 · text"
    assert line(Kind.ERROR) == "12:00 ! text"
    separator = render_entry(Entry(Kind.SEPARATOR, "", "live"), LogStyles(), 20)[0].plain
    assert separator == "─────── live ───────"


def test_markup_is_never_interpreted() -> None:
    entry = Entry(Kind.CHAT, "12:00", "[red]x[/red] [bold", name="[b]bob")
    (line,) = render_entry(entry, LogStyles(), 80)
    assert line.plain == "12:00 [b]bob: [red]x[/red] [bold"
    assert not line.spans or all(not span.style for span in line.spans)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_cells_counts_as_rich_does(text: str) -> None:
    assert cells(text) == cell_len(text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "bc", "defghij", " ", "  "]), max_size=80).map("".join),
    st.integers(1, 40),
    st.integers(1, 40),
)
def test_the_plain_text_wrap_breaks_where_the_word_by_word_one_does(
    text: str, first: int, rest: int
) -> None:
    # Printable ASCII takes a shortcut (string searches, no step per word);
    # it must cut exactly where the general rule does.
    assert _wrap_plain(text, first, rest) == _wrap_words(text, first, rest)


def test_wrap_offsets_prefers_spaces_and_cuts_long_words() -> None:
    assert wrap_offsets("aaa bbb ccc", 7, 7) == [8]
    assert wrap_offsets("aaaaaaaaaa", 4, 4) == [4, 8]
    assert wrap_offsets("李雷李雷", 4, 4) == [2]  # two wide characters per line
    assert wrap_offsets("short", 80, 80) == []


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(min_value=30, max_value=120), st.booleans())
def test_wrapped_lines_fit_and_keep_every_character(text: str, width: int, own: bool) -> None:
    entry = Entry(
        Kind.CHAT,
        "12:00",
        clean(text),
        name="bob",
        status=SendStatus.SENT if own else None,
    )
    lines = render_entry(entry, LogStyles(), width)
    assert entry_height(entry, width) == len(lines)
    for line in lines:
        assert cell_len(line.plain) <= width, (line.plain, width)
    # Only whitespace at line breaks may be dropped.
    joined = "".join(line.plain for line in lines).replace(" ", "")
    expected = ("12:00 bob: " + entry.text + (" ✓" if own else "")).replace(" ", "")
    assert joined == expected.replace("\n", "")


@given(TEXTS, st.integers(min_value=1, max_value=29))
def test_narrow_widths_never_fail(text: str, width: int) -> None:
    entry = Entry(Kind.CHAT, "12:00", clean(text), name="somebody_long")
    lines = render_entry(entry, LogStyles(), width)
    assert entry_height(entry, width) == len(lines) >= 1
