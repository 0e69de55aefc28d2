"""The renderer's Markdown subset, emoji, mentions, folding and cache: inputs to the segments
(text and style names) they become."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.style import Style

from conexion_tui.render import (
    DEFAULT_THEME,
    Mode,
    RenderCache,
    RenderConfig,
    RenderedMessage,
    Theme,
    complete_shortcode,
    emoji_for,
    has_markup,
    mentions_in,
    render_message,
    wrap,
)

Segments = list[list[tuple[str, tuple[str, ...]]]]


def render(text: str, width: int = 80, **options: object) -> RenderedMessage:
    return render_message(text, width=width, cache=None, **options)  # type: ignore[arg-type]


def segments(text: str, width: int = 80, **options: object) -> Segments:
    return [
        [(run.text, tuple(run.names)) for run in line]
        for line in render(text, width, **options).lines
    ]


def line(text: str, **options: object) -> list[tuple[str, tuple[str, ...]]]:
    (only,) = segments(text, **options)
    return only


# -- inline -------------------------------------------------------------------


def test_plain_text_is_one_unstyled_run() -> None:
    assert segments("hola, ¿qué tal? 李雷 🎉") == [[("hola, ¿qué tal? 李雷 🎉", ())]]


def test_emphasis_strong_and_code() -> None:
    assert line("a *em* _em_ **strong** __strong__ `co*de*`") == [
        ("a ", ()),
        ("em", ("em",)),
        (" ", ()),
        ("em", ("em",)),
        (" ", ()),
        ("strong", ("strong",)),
        (" ", ()),
        ("strong", ("strong",)),
        (" ", ()),
        ("co*de*", ("code",)),
    ]


def test_nested_emphasis() -> None:
    assert line("***both*** **bold *and em***") == [
        ("both", ("strong", "em")),
        (" ", ()),
        ("bold ", ("strong",)),
        ("and em", ("strong", "em")),
    ]


def test_snake_case_and_lone_stars_stay_as_typed() -> None:
    assert line("snake_case_name 2 * 3 * 4 a*") == [("snake_case_name 2 * 3 * 4 a*", ())]


def test_unclosed_emphasis_is_text() -> None:
    assert line("*open **never `closed") == [("*open **never `closed", ())]


def test_code_span_needs_a_closer_of_the_same_length() -> None:
    assert line("``a ` b`` and `c``") == [("a ` b", ("code",)), (" and `c``", ())]


def test_code_span_keeps_markup_literal() -> None:
    assert line("`[bold]*x*[/bold] :rocket: @ana`") == [
        ("[bold]*x*[/bold] :rocket: @ana", ("code",))
    ]


def test_backslash_escapes() -> None:
    assert line(r"\*not em\* \\ \q") == [(r"*not em* \ \q", ())]


def test_rich_markup_is_never_interpreted() -> None:
    text = "[bold red]alarm[/] [link=file:///x]x[/link] [@click=app.quit]y[/] :warning"
    rendered = render(text, names=frozenset())
    assert rendered.plain == text
    (styled,) = rendered.texts
    assert styled.plain == text
    assert not styled.spans


# -- links --------------------------------------------------------------------


def test_link_shows_its_real_url() -> None:
    rendered = render("see [the docs](https://example.com/docs) now")
    assert [(r.text, r.names, r.link) for r in rendered.lines[0]] == [
        ("see ", (), None),
        ("the docs", ("link",), None),
        (" (https://example.com/docs)", ("url",), "https://example.com/docs"),
        (" now", (), None),
    ]


def test_link_whose_text_is_its_url_shows_it_once() -> None:
    assert line("[https://a.org](https://a.org)") == [("https://a.org", ("url",))]


def test_link_that_pretends_to_be_another_url_shows_both() -> None:
    assert render("[https://bank.com](https://evil.com)").plain == (
        "https://bank.com (https://evil.com)"
    )


def test_only_http_links_become_hyperlinks() -> None:
    rendered = render("[x](javascript:alert(1)) [y](file:///etc/passwd) <ftp://host/f>")
    assert rendered.plain == "x (javascript:alert(1)) y (file:///etc/passwd) ftp://host/f"
    assert all(run.link is None for run in rendered.lines[0])
    for text in rendered.texts:
        assert all(span.style.link is None for span in text.spans if isinstance(span.style, Style))


def test_bare_and_angle_urls() -> None:
    rendered = render("go to https://example.com/a_(b)_c. or <http://x.org/p?q=1>!")
    assert [(r.text, r.names, r.link) for r in rendered.lines[0]] == [
        ("go to ", (), None),
        ("https://example.com/a_(b)_c", ("url",), "https://example.com/a_(b)_c"),
        (". or ", (), None),
        ("http://x.org/p?q=1", ("url",), "http://x.org/p?q=1"),
        ("!", (), None),
    ]


def test_url_with_underscores_is_not_emphasis() -> None:
    assert line("_x https://a.org/_b_ y_") == [
        ("x ", ("em",)),
        ("https://a.org/_b", ("em", "url")),
        (" y_", ()),
    ]


def test_link_with_spaces_in_the_destination_is_text() -> None:
    assert line("[a](b c)") == [("[a](b c)", ())]


def test_themed_text_carries_the_osc8_link() -> None:
    (text,) = render("<https://example.com>").texts
    assert text.plain == "https://example.com"
    assert text.spans[0].style.link == "https://example.com"  # type: ignore[union-attr]


# -- emoji --------------------------------------------------------------------


def test_shortcodes_become_emoji() -> None:
    assert line(":rocket: :+1: :thinking: :nope: 10:100: `:rocket:`") == [
        ("🚀 👍 🤔 :nope: 10:100: ", ()),
        (":rocket:", ("code",)),
    ]


def test_completion() -> None:
    assert complete_shortcode(":rocke") == [":rocket:"]
    assert ":rocket:" in complete_shortcode(":roc")
    assert complete_shortcode("thumbsu") == [":thumbsup:"]
    assert complete_shortcode(":") == []
    assert complete_shortcode(":(x") == []
    assert len(complete_shortcode(":s", limit=5)) == 5
    assert emoji_for("tada") == "🎉"
    for code in complete_shortcode(":ro", limit=50):
        assert render(code).plain == emoji_for(code.strip(":"))


# -- mentions -----------------------------------------------------------------


def test_mentions_of_known_names_and_the_viewer() -> None:
    names = frozenset({"Ana", "bob", "José"})
    rendered = render("@ANA, @Bob and @josé. @nobody ana@host.org", viewer="ana", names=set(names))
    assert [(r.text, r.names) for r in rendered.lines[0]] == [
        ("@ANA", ("mention.self",)),
        (", ", ()),
        ("@Bob", ("mention",)),
        (" and ", ()),
        ("@josé", ("mention",)),
        (". @nobody ana@host.org", ()),
    ]
    assert rendered.mentions_viewer
    assert len(rendered.mentions) == 3


def test_any_name_is_a_mention_when_the_names_are_unknown() -> None:
    rendered = render("hi @carol", viewer="ana")
    assert [(r.text, r.names) for r in rendered.lines[0]] == [
        ("hi ", ()),
        ("@carol", ("mention",)),
    ]
    assert not rendered.mentions_viewer


def test_trailing_dots_end_the_mention_unless_the_name_has_them() -> None:
    assert line("@ana. @bob-")[0] == ("@ana", ("mention",))
    assert line("hi @bob-", names=frozenset({"bob-"}))[1] == ("@bob-", ("mention",))
    assert line("hi @bob-.", names=frozenset({"bob"}))[1] == ("@bob", ("mention",))


def test_mention_inside_emphasis_and_look_alike_names() -> None:
    # Cyrillic а in the viewer's name: the protocol's key makes it the same name.
    rendered = render("**@\u0430na** look", viewer="ana")
    assert [(r.text, r.names) for r in rendered.lines[0]] == [
        ("@\u0430na", ("strong", "mention.self")),
        (" look", ()),
    ]
    assert rendered.mentions_viewer


def test_mentions_in_agrees_with_rendering() -> None:
    names = frozenset({"ana", "bob"})
    for text in ("`@ana` @bob", "```\n@ana\n```\n> @Bob", "@ana: hi", "no one", "@carol"):
        for mode in Mode:
            rendered = render(text, viewer="ana", names=names, mode=mode)
            found = mentions_in(text, viewer="ana", names=names, mode=mode)
            assert (found.keys, found.viewer) == (rendered.mentions, rendered.mentions_viewer)
    assert mentions_in("`@ana` @bob", viewer="bob").viewer
    assert not mentions_in("`@ana` @bob", viewer="ana").viewer
    assert mentions_in("`@ana`", viewer="ana", mode=Mode.PLAIN).viewer


# -- blocks -------------------------------------------------------------------


def test_quotes_nest_and_are_capped() -> None:
    assert segments("> a *b*\n>> c\n> > d\n>>>>>>>>>> deep", config=RenderConfig()) == [
        [("┃ ", ("quote.bar",)), ("a ", ("quote",)), ("b", ("quote", "em"))],
        [("┃ ┃ ", ("quote.bar",)), ("c", ("quote",))],
        [("┃ ┃ ", ("quote.bar",)), ("d", ("quote",))],
        [("┃ ┃ ┃ ┃ ", ("quote.bar",)), ("deep", ("quote",))],
    ]


def test_lists_with_hanging_indent() -> None:
    assert segments("- one two three\n  * sub\n12. twelve\n-not a list", width=10) == [
        [("• ", ("list.marker",)), ("one two", ())],
        [("  ", ()), ("three", ())],
        [("  ", ()), ("• ", ("list.marker",)), ("sub", ())],
        [("12. ", ("list.marker",)), ("twelve", ())],
        [("-not a", ())],
        [("list", ())],
    ]


def test_blank_lines_are_kept() -> None:
    assert render("a\n\nb").plain == "a\n\nb"


def test_fenced_code_is_highlighted_with_its_label() -> None:
    assert segments("```python\ndef f():\n    return 'x'  # hi\n```\nafter") == [
        [("python", ("code.label",))],
        [
            ("│ ", ("code.gutter",)),
            ("def", ("code", "code.keyword")),
            (" ", ("code",)),
            ("f", ("code", "code.name")),
            ("():", ("code",)),
        ],
        [
            ("│ ", ("code.gutter",)),
            ("    ", ("code",)),
            ("return", ("code", "code.keyword")),
            (" ", ("code",)),
            ("'x'", ("code", "code.string")),
            ("  ", ("code",)),
            ("# hi", ("code", "code.comment")),
        ],
        [("after", ())],
    ]


def test_unlabelled_code_is_guessed() -> None:
    rendered = render("```\nfn main() {\n    let x = 1;\n}\n```")
    assert rendered.plain.split("\n")[0] == "rust (guessed)"
    assert any("code.keyword" in run.names for run in rendered.lines[1])


def test_unknown_language_is_labelled_but_plain() -> None:
    assert segments("~~~brainfuck\n+[>+<-]\n~~~") == [
        [("brainfuck", ("code.label",))],
        [("│ ", ("code.gutter",)), ("+[>+<-]", ("code",))],
    ]


def test_code_keeps_markup_and_spaces_literal() -> None:
    rendered = render("```\n  *x* [b] :rocket: @ana\t|\n```")
    assert rendered.plain == "code\n│   *x* [b] :rocket: @ana |"  # tab stops every 4


def test_one_line_triple_backticks_are_inline_code() -> None:
    assert line("```x = 1```") == [("x = 1", ("code",))]


def test_unclosed_fence_runs_to_the_end() -> None:
    assert render("```js\nlet a = 1\n> not a quote").plain == ("js\n│ let a = 1\n│ > not a quote")


def test_long_code_lines_are_cut_by_cells() -> None:
    rendered = render("```\n" + "x" * 25 + "\n李雷李雷李雷\n```", width=12)
    assert rendered.plain.split("\n") == [
        "code",
        "│ xxxxxxxxxx",
        "│ xxxxxxxxxx",
        "│ xxxxx",
        "│ 李雷李雷李",
        "│ 雷",
    ]


# -- folding ------------------------------------------------------------------


def code(lines: int) -> str:
    return "```python\n" + "\n".join(f"x = {n}" for n in range(lines)) + "\n```"


def test_long_code_blocks_fold() -> None:
    rendered = render(code(20))
    shown = rendered.plain.split("\n")
    assert shown[1:9] == [f"│ x = {n}" for n in range(8)]
    assert shown[9:] == ["│ … 12 more lines (press e to expand)"]
    assert rendered.lines[9][1].names == ("code.fold",)
    assert (rendered.folded_blocks, rendered.hidden_lines, rendered.height) == (1, 12, 10)


def test_expanded_shows_everything() -> None:
    rendered = render(code(20), expanded=True)
    assert rendered.height == 21
    assert (rendered.folded_blocks, rendered.hidden_lines) == (0, 0)


def test_one_line_over_is_not_folded() -> None:
    assert render(code(9)).folded_blocks == 0
    assert render(code(10)).folded_blocks == 1
    assert render(code(10), config=RenderConfig(fold_after=2)).hidden_lines == 8


# -- width --------------------------------------------------------------------


def test_wrapping_at_spaces_with_a_narrower_first_line() -> None:
    rendered = render("one two three four five", width=10, first_width=5)
    assert rendered.plain.split("\n") == ["one", "two three", "four five"]


@pytest.mark.parametrize("width", [1, 5, 20])
def test_lines_fit_the_width(width: int) -> None:
    text = "> quoted *words* here\n- a list item 🎉🎉🎉\n```\n" + "y" * 50 + "\n```\nlast"
    for styled in render(text, width=max(width, 4)).texts:
        assert styled.cell_len <= max(width, 4)


# -- plain mode ---------------------------------------------------------------


def test_plain_mode_keeps_the_text_as_typed() -> None:
    text = "*not em* `x` :rocket: [a](b)\n```\ncode\n```\n> q @ana\t."
    rendered = render(text, mode=Mode.PLAIN, viewer="ana")
    assert rendered.plain == text.expandtabs(4)
    assert rendered.mentions_viewer
    assert [(r.text, r.names) for r in rendered.lines[-1]] == [
        ("> q ", ()),
        ("@ana", ("mention.self",)),
        ("    .", ()),
    ]


# -- theme and cache ----------------------------------------------------------


def test_theme_styles_the_texts() -> None:
    theme = Theme({"strong": Style(bold=True, color="red")})
    (text,) = render("**x** y", theme=theme).texts
    assert text.plain == "x y"
    assert text.spans[0].style == Style(bold=True, color="red")
    mixed = Theme.over_defaults({"em": Style(color="blue")})
    assert mixed.style(("strong", "em")) == Style(bold=True, color="blue")


def test_cache_returns_the_same_rendering_per_width_and_theme() -> None:
    cache = RenderCache(size=2)
    first = render_message("**a**", width=10, cache=cache)
    assert render_message("**a**", width=10, cache=cache) is first
    assert render_message("**a**", width=11, cache=cache) is not first
    assert render_message("**a**", width=10, cache=cache, theme=Theme()) is not first
    assert len(cache) == 2
    assert render_message("**a**", width=10, cache=cache) is not first  # evicted
    assert cache.hits == 1
    assert DEFAULT_THEME.style(()) == Style()


def test_has_markup_tells_when_the_fast_path_is_exact() -> None:
    for text in ("hola qué tal 李雷", "2 + 2 = 4 (yes)", "semi; colon, dash - ok"):
        assert not has_markup(text)
        assert render(text).plain == text
    for text in ("*x*", "a_b", "`c`", "[d]", "<e>", "@f", ":g:", "\\h", "see http://i.j"):
        assert has_markup(text)


# -- limits, at their edges ---------------------------------------------------


def test_link_destination_limit() -> None:
    config = RenderConfig(max_url=10)
    assert line("[a](http://abc)", config=config) == [
        ("a", ("link",)),
        (" (http://abc)", ("url",)),
    ]
    assert line("[a](http://abcd)", config=config) == [("[a](http://abcd)", ())]


def test_mention_length_limit() -> None:
    assert line("@" + "a" * 24)[0][1] == ("mention",)
    assert line("@" + "a" * 25) == [("@" + "a" * 25, ())]


def test_shortcode_length_limit() -> None:
    assert line(":rocket:", config=RenderConfig(max_shortcode=6)) == [("🚀", ())]
    assert line(":rocket:", config=RenderConfig(max_shortcode=5)) == [(":rocket:", ())]


def test_label_and_list_depth_limits() -> None:
    config = RenderConfig(max_label=3, max_list_depth=1)
    rendered = render("```pythonic\nx\n```\n      - deep", config=config)
    assert rendered.plain.split("\n") == ["pyt", "│ x", "  • deep"]


def test_guess_and_highlight_limits() -> None:
    late = "```\n" + "x\n" * 50 + "def f(): pass\n```"
    assert render(late, expanded=True).plain.startswith("python (guessed)")
    assert render(late, expanded=True, config=RenderConfig(guess_chars=50)).plain.startswith(
        "code\n"
    )
    block = "```python\ndef f(): pass\n```"
    assert render(block).lines[1][1].names == ("code", "code.keyword")
    assert render(block, config=RenderConfig(max_highlight=5)).lines[1][1].names == ("code",)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(alphabet="ab ", max_size=60),
    first=st.integers(1, 12),
    rest=st.integers(1, 12),
)
def test_ascii_wrapping_matches_the_general_one(text: str, first: int, rest: int) -> None:
    assert wrap._ascii_breaks(text, first, rest) == wrap._token_breaks(text, first, rest)


def test_code_cut_to_a_narrower_first_line() -> None:
    rendered = render("```\n" + "x" * 30 + "\n```", width=12, first_width=6)
    assert rendered.plain.split("\n") == ["code", "│ xxxxxxxxxx", "│ xxxxxxxxxx", "│ xxxxxxxxxx"]
    assert render("~~~averyverylonglanguage\n~~~", width=12, first_width=6).plain == (
        "averyv\nerylonglangu\nage"
    )
