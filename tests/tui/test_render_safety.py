"""The renderer against hostile text: nothing a terminal would interpret gets out, nothing is
read as markup, nothing raises, and time grows with the length of the text, not faster."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.style import Style

from conexion_tui.render import (
    Mode,
    RenderedMessage,
    is_safe_url,
    render_message,
    safe_text,
)
from conexion_tui.render.highlight import LANGUAGES

# Nothing of these may reach the screen: C0 (newline and tab are turned into
# line breaks and spaces), DEL, C1, and the bidi embeddings, overrides and isolates.
FORBIDDEN = frozenset(
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)
# What the renderer adds of its own: bars, bullets, the fold marker, labels.
DECORATION = frozenset("┃│•…() .0123456789" + string.ascii_lowercase)

MARKDOWN_CHARS = "*_`[]()<>@:\\~>-+.!#\n\t \u202e\x1b\x9b\x07 aé李🎉"


def render(text: str, **options: object) -> RenderedMessage:
    options.setdefault("width", 60)
    return render_message(text, cache=None, **options)  # type: ignore[arg-type]


def check_safe(rendered: RenderedMessage) -> None:
    for line, styled in zip(rendered.lines, rendered.texts, strict=True):
        plain = "".join(run.text for run in line)
        assert styled.plain == plain
        assert FORBIDDEN.isdisjoint(plain), repr(plain)
        for run in line:
            assert run.link is None or is_safe_url(run.link)
        for span in styled.spans:
            # A Style object, never a string Rich would parse as a style or markup.
            assert isinstance(span.style, Style)
            assert span.style.link is None or is_safe_url(span.style.link)
            assert not span.style.meta


texts = st.text(alphabet=st.sampled_from(MARKDOWN_CHARS), max_size=300) | st.text(max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=texts,
    width=st.integers(1, 120),
    first=st.integers(1, 120),
    expanded=st.booleans(),
    mode=st.sampled_from(Mode),
    viewer=st.sampled_from(["", "ana", "李雷"]),
)
def test_any_text_renders_safely(
    text: str, width: int, first: int, expanded: bool, mode: Mode, viewer: str
) -> None:
    rendered = render(text, width=width, first_width=first, expanded=expanded, mode=mode)
    check_safe(rendered)
    render(text, width=width, viewer=viewer, names=frozenset({"ana", "bob"}))
    if width >= 24 and first >= 24:
        assert all(styled.cell_len <= max(width, first) for styled in rendered.texts)


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_plain_mode_is_the_sanitised_text(text: str) -> None:
    assert render(text, mode=Mode.PLAIN, width=100_000).plain == safe_text(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(MARKDOWN_CHARS.replace(":", "")), max_size=300))
def test_markdown_adds_only_its_own_decoration(text: str) -> None:
    # Without ':' no shortcode can turn into an emoji: every character shown
    # comes from the text, or is one the renderer draws around it.
    shown = set(render(text, width=100_000, expanded=True).plain) - {"\n"}
    assert shown <= set(safe_text(text)) | DECORATION


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=string.ascii_letters + string.digits + " ,;!?'\"", max_size=200))
def test_text_without_markup_is_unchanged(text: str) -> None:
    assert render(text, width=100_000).plain == text


def test_escape_sequences_never_get_out() -> None:
    text = (
        "\x1b[2J\x1b]8;;http://evil\x07click\x1b]8;;\x07 \x9b31m red \u202egnp.exe"
        " \x1b[31m`\x1b[0m` ```\x1b\n\x1bcode\n```"
    )
    for mode in Mode:
        rendered = render(text, mode=mode)
        check_safe(rendered)
        assert "\x1b" not in rendered.plain
        assert "\u202e" not in rendered.plain


def test_hyperlinks_are_only_for_clean_http_urls() -> None:
    assert is_safe_url("https://example.com/a?b=c;d")
    assert is_safe_url("HTTP://example.com")
    for url in (
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "https://exa mple.com",
        "https://ex\x1bample.com",
        "https://example.com/\x07",
        "https://exämple.com",
        "data:text/html,x",
    ):
        assert not is_safe_url(url), url
    rendered = render("<https://a.org/\u202e> [x](https://exämple.com) https://b.org/é")
    check_safe(rendered)
    links = [run.link for line in rendered.lines for run in line if run.link]
    assert links == ["https://a.org/"]


# -- bounded time -------------------------------------------------------------

SEED = random.Random(16)
NOISE = "".join(SEED.choice(string.printable) for _ in range(4_000))

CRAFTED = {
    "stars": "*" * 10_000,
    "underscores": "_" * 10_000,
    "backticks": "`" * 5_000,
    "backtick pairs": "`a" * 2_500,
    "growing backtick runs": "".join("`" * n + "x" for n in range(1, 90)),
    "star words": "*a " * 3_000,
    "strong and em": "*a **b " * 1_000,
    "underscore words": "_a_" * 3_000,
    "quotes": ">" * 4_000 + " deep",
    "spaced quotes": "> " * 2_000 + "x",
    "quote lines": "\n".join(">" * n for n in range(90)),
    "brackets": "[" * 5_000,
    "link starts": "[](" * 1_300,
    "link ends": "](" * 2_000,
    "open links": "[a](" * 1_000,
    "parentheses": "[x](" + "(" * 5_000,
    "angles": "<" * 5_000,
    "autolink starts": "<http://" * 500,
    "ats": "@" * 5_000,
    "mention starts": "@a " * 2_500,
    "long mention": "@" + "a" * 5_000,
    "colons": ":" * 5_000,
    "shortcode starts": ":a" * 2_500,
    "emoji": ":rocket:" * 500,
    "backslashes": "\\" * 5_000,
    "urls": "http://" * 700,
    "url with parens": "https://a.org/" + "()" * 2_000 + ")" * 1_000,
    "fences": "```\n" * 2_000,
    "fence starts": "```js\n" * 1_000,
    "unclosed fence": "```python\n" + NOISE,
    "items": "- " * 2_000,
    "item lines": "\n".join("  " * n + "- x" for n in range(200)),
    "ordinals": "1. " * 1_300,
    "everything": "*_`[]<>@:\\(" * 500,
    "one long word": "a" * 10_000,
    "wide": "🎉" * 4_000,
    "combining": "a" + "\u0301" * 4_000,
    "controls": "\x1b[" * 2_000,
    "noise": NOISE,
    "many lines": "\n" * 4_000,
    "mixed lines": "\n".join(["> *q*", "- `x`", "```", "y", "```", "@ana :tada:"] * 300),
}

# Hostile contents for every lexer a fence can name.
CODE_BODIES = {
    "noise": NOISE,
    "quotes": "'\"`" * 1_300,
    "comment starts": "/*<!--#" * 550,
    "interpolations": "${$(#{{{" * 500,
    "backslashes": "\\" * 4_000,
    "nested brackets": "([{<" * 1_000,
    "keywords": "def if for while class function return " * 100,
}

# Seconds. What these tests catch is a blow-up (a backtracking lexer takes
# minutes on such input); the slowest lexers take a few hundred ms here on
# a quiet machine, and several times that on a loaded one.
TIME_BOUND = 5.0


def elapsed(call: Callable[..., object], *args: object, **options: object) -> float:
    started = time.perf_counter()
    call(*args, **options)
    return time.perf_counter() - started


def render_checked(text: str, **options: object) -> None:
    check_safe(render(text, **options))


@pytest.mark.parametrize("name", CRAFTED)
def test_crafted_input_renders_in_bounded_time(name: str) -> None:
    text = CRAFTED[name]
    for mode in Mode:
        took = elapsed(render_checked, text, mode=mode, expanded=True)
        assert took < TIME_BOUND, f"{name} ({mode}): {took:.3f} s"


@pytest.mark.parametrize("language", sorted(set(LANGUAGES.values())))
def test_every_lexer_handles_4000_hostile_characters(language: str) -> None:
    for name, body in CODE_BODIES.items():
        # As one line (shown plain) and as lines short enough to be highlighted.
        lines = "\n".join(body[at : at + 400] for at in range(0, 4_000, 400))
        for code in (body[:4_000], lines):
            text = f"```{language}\n{code}\n```"
            took = elapsed(render_checked, text, expanded=True)
            assert took < TIME_BOUND, f"{language}, {name}: {took:.3f} s"


def test_a_4000_character_code_block_folds_and_expands_quickly() -> None:
    code = "\n".join(f"    total += compute(item_{n}, 'x')  # {n}" for n in range(100))[:4_000]
    text = f"```python\n{code}\n```"
    folded = render(text)
    assert (folded.folded_blocks, folded.height) == (1, 10)
    assert elapsed(render, text, expanded=True) < TIME_BOUND


PATTERNS = [
    "*a **b _c `d [e](f ",
    "`" * 3 + "a",
    "[x](" + "(",
    "> @a :b <c ",
    "a_b*c`d",
    "```py\nx = 1 ",  # on lines: fences opening and closing in turn
]


def best_of(runs: int, text: str) -> float:
    return min(elapsed(render, text, width=80, expanded=True) for _ in range(runs))


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("lines", [False, True], ids=["one line", "many lines"])
def test_time_grows_linearly(pattern: str, lines: bool) -> None:
    # Eight times the text may take eight times as long (and some slack for
    # noise), never sixty-four: a quadratic step would show here.
    small = (pattern * (5_000 // len(pattern) + 1))[:5_000]
    if lines:
        small = small.replace(" ", "\n")
    short = best_of(5, small)
    long = best_of(3, small * 8)
    assert long < max(short, 1e-4) * 30, f"{pattern!r}: {short:.4f} s -> {long:.4f} s"


def test_blocks_with_very_long_lines_are_shown_plain() -> None:
    # Lexers that scan to the end of the line at every character would take
    # quadratic time on a minified file: such a block is not highlighted.
    long_line = "```diff\n" + "/*" * 2_000 + "\n```"
    assert all(run.names == ("code",) for run in render(long_line).lines[1][1:])
    short_lines = "```diff\n" + "\n".join(["+ added", "- removed"] * 10) + "\n```"
    assert render(short_lines).lines[1][1].names == ("code", "code.inserted")
