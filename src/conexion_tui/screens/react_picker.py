"""The reaction picker: the common emoji under keys 1-9 and 0, or a shortcode typed and chosen
from its completions. It dismisses with one emoji (or None); it must not send anything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..render import complete_shortcode, emoji_for

# Under the keys 1..9, 0, in this order.
COMMON = ("👍", "❤️", "😂", "🎉", "👀", "🚀", "✅", "😮", "🙏", "👎")
_KEYS = "1234567890"


class ReactPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ReactPicker { align: center middle; background: $background 60%; }
    #react-box {
        width: 44; max-width: 100%; height: auto; border: round $accent;
        border-title-align: center; background: $surface; padding: 0 1;
    }
    #react-common { height: auto; margin-bottom: 1; }
    #react-query { border: none; height: 1; padding: 0; }
    #react-options { height: auto; max-height: 8; border: none; padding: 0; }
    #react-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Close", show=False),
        Binding("down", "focus_options", "Choices", show=False),
    ]

    def __init__(self, held: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.held = held  # emoji we hold already on the message (choosing one takes it back)
        self.codes: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="react-box"):
            row = Text()
            for key, emoji in zip(_KEYS, COMMON, strict=True):
                row.append(f"{key}", "dim")
                row.append(f"{emoji} ", "reverse" if emoji in self.held else "")
            yield Static(row, id="react-common")
            yield Input(placeholder=":shortcode (Tab or ↓ for the list)", id="react-query")
            yield OptionList(id="react-options")
            yield Static("1-0 pick · Enter picks · Esc closes", id="react-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#react-box").border_title = "React"
        self.query_one("#react-query", Input).focus()

    @on(Input.Changed, "#react-query")
    def _typed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        if len(value) == 1 and value in _KEYS:
            self.dismiss(COMMON[_KEYS.index(value)])
            return
        options = self.query_one("#react-options", OptionList)
        options.clear_options()
        self.codes = complete_shortcode(value, limit=30) if len(value.strip(":")) >= 1 else []
        for code in self.codes:
            line = Text(f"{emoji_for(code.strip(':'))}  ")
            line.append(code, "dim")
            options.add_option(Option(line))
        if self.codes:
            options.highlighted = 0

    @on(Input.Submitted, "#react-query")
    def _entered(self, event: Input.Submitted) -> None:
        options = self.query_one("#react-options", OptionList)
        if self.codes:
            index = options.highlighted or 0
            self.dismiss(emoji_for(self.codes[index].strip(":")))
            return
        value = event.value.strip()
        emoji = emoji_for(value.strip(":")) if value.startswith(":") else value or None
        if emoji:
            self.dismiss(emoji)
        else:
            self.app.bell()

    @on(OptionList.OptionSelected, "#react-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(emoji_for(self.codes[event.option_index].strip(":")))

    def action_focus_options(self) -> None:
        if self.codes:
            self.query_one("#react-options", OptionList).focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
