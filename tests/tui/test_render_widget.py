"""The renderer's output in real Textual widgets: a `Static`, and a line-API widget that draws
strips the way the message log does. Nothing in `src` is changed for it."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from conexion_tui.render import RenderedMessage, render_message

MESSAGE = (
    "**deploy** is *green* :rocket: @ana, see [the log](https://ci.example/42)\n"
    "> [bold]not markup[/bold] \x1b[31mno escapes\u202e\n"
    "```python\n" + "\n".join(f"step_{n} = run({n})" for n in range(12)) + "\n```"
)
WIDTH = 48


def rendered() -> RenderedMessage:
    return render_message(MESSAGE, width=WIDTH, viewer="ana", cache=None)


EXPECTED = [
    "deploy is green 🚀 @ana, see the log",
    "(https://ci.example/42)",
    "┃ [bold]not markup[/bold] [31mno escapes",
    "python",
    *(f"│ step_{n} = run({n})" for n in range(8)),
    "│ … 4 more lines (press e to expand)",
]


class Lines(ScrollView):
    """Draws prepared strips one row at a time, as `MessageLog` does."""

    def __init__(self, message: RenderedMessage) -> None:
        super().__init__()
        self.message = message
        self.strips: list[Strip] = []

    def on_mount(self) -> None:
        console = self.app.console
        self.strips = [
            Strip(list(text.render(console, end="")), text.cell_len) for text in self.message.texts
        ]
        self.virtual_size = Size(WIDTH, len(self.strips))

    def render_line(self, y: int) -> Strip:
        line = self.scroll_offset.y + y
        if line >= len(self.strips):
            return Strip.blank(self.size.width)
        return self.strips[line].crop_extend(0, self.size.width, None)


class Demo(App[None]):
    CSS = "Static { height: auto; } Lines { height: 1fr; }"

    def __init__(self, message: RenderedMessage) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(Text("\n").join(self.message.texts), id="static")
        yield Lines(self.message)


def segments_of(strips: list[Strip]) -> list[Segment]:
    return [segment for strip in strips for segment in strip]


async def test_rendered_message_in_a_static_and_a_line_api_widget() -> None:
    message = rendered()
    assert message.plain.split("\n") == EXPECTED
    app = Demo(message)
    async with app.run_test(size=(WIDTH + 2, 40)) as pilot:
        await pilot.pause()
        static = app.query_one(Static)
        lines = app.query_one(Lines)
        for widget in (static, lines):
            drawn = [widget.render_line(y) for y in range(len(EXPECTED))]
            assert [strip.text.rstrip() for strip in drawn] == EXPECTED
            segments = segments_of(drawn)
            assert not any("\x1b" in s.text or "\u202e" in s.text for s in segments)
            # The styles made it to the screen: bold "deploy", the viewer's
            # mention, highlighted code, and a hyperlink on the URL only.
            styles = {s.text: s.style for s in segments if s.style is not None}
            assert styles["deploy"].bold
            assert styles["@ana"].bgcolor is not None
            assert styles["step_0 "].color != styles["="].color
            links = {s.text: s.style.link for s in segments if s.style and s.style.link}
            assert links == {"(https://ci.example/42)": "https://ci.example/42"}


async def test_expanding_a_folded_block() -> None:
    folded = rendered()
    expanded = render_message(MESSAGE, width=WIDTH, viewer="ana", expanded=True, cache=None)
    assert (folded.folded_blocks, expanded.folded_blocks) == (1, 0)
    app = Demo(expanded)
    async with app.run_test(size=(WIDTH + 2, 40)) as pilot:
        await pilot.pause()
        lines = app.query_one(Lines)
        drawn = [lines.render_line(y).text.rstrip() for y in range(expanded.height)]
        assert drawn[-1] == "│ step_11 = run(11)"
        assert len(drawn) == folded.height + 3  # 4 lines shown instead of the marker
