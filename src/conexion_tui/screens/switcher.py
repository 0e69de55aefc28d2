"""The quick switcher (ctrl+k): type part of a room or a name, the best matches are listed, Enter
goes there. It dismisses with the `Place` chosen; it must not join, open or send anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..commands import Place, Target, switcher_choices
from ..entries import clean

# What the chat screen offers: conversations, rooms to join, people to message.
Places = tuple[Sequence[Place], Sequence[Place], Sequence[Place]]

_VERBS = {
    Target.OPEN: "",
    Target.JOIN: "join ",
    Target.CREATE: "create ",
    Target.MESSAGE: "message ",
}


def choice_text(place: Place) -> Text:
    """One line of the list, built from untrusted names as plain text."""
    name = clean(place.name, single_line=True)
    text = Text(no_wrap=True, overflow="ellipsis")
    verb = _VERBS[place.target]
    if verb:
        text.append(verb, "dim")
    text.append(f"#{name}" if place.room else name, "bold")
    if place.detail:
        text.append("  ")
        text.append(clean(place.detail, single_line=True), "dim")
    return text


class QuickSwitcher(ModalScreen[Place | None]):
    """A query box over a list of choices; ↑/↓ move, Enter picks, Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Close", show=False),
        Binding("down", "move(1)", "Next", show=False, priority=True),
        Binding("up", "move(-1)", "Previous", show=False, priority=True),
        Binding("ctrl+k", "dismiss_none", "Close", show=False, priority=True),
    ]

    def __init__(self, places: Callable[[], Places], query: str = "", *, limit: int) -> None:
        super().__init__()
        self._places = places
        self._pool: Places | None = None  # what there is to offer, gathered once per opening
        self.initial_query = query
        self.limit = limit
        self.choices: list[Place] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="switcher-box"):
            yield Input(
                value=self.initial_query,
                placeholder="a room or a name · #new-room creates it · @name messages",
                compact=True,
                id="switcher-query",
            )
            yield OptionList(id="switcher-options")
            yield Static("↑/↓ choose · Enter go · Esc close", id="switcher-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#switcher-box").border_title = "Go to"
        box = self.query_one("#switcher-query", Input)
        box.focus()
        box.cursor_position = len(box.value)
        self.refresh_choices()

    @property
    def query_text(self) -> str:
        return self.query_one("#switcher-query", Input).value

    def refresh_choices(self, *, gather: bool = False) -> None:
        """List the choices for the query again: it changed, or (`gather`)
        what there is to offer did, as when a room list arrives. Gathering
        walks every user list, so a keystroke does not."""
        if gather or self._pool is None:
            self._pool = self._places()
        self.choices = switcher_choices(self.query_text, *self._pool)[: self.limit]
        options = self.query_one("#switcher-options", OptionList)
        options.set_options(Option(choice_text(place)) for place in self.choices)
        options.highlighted = 0 if self.choices else None

    @on(Input.Changed, "#switcher-query")
    def _query_changed(self) -> None:
        self.refresh_choices()

    @on(Input.Submitted, "#switcher-query")
    def _submitted(self) -> None:
        index = self.query_one("#switcher-options", OptionList).highlighted
        if index is not None and 0 <= index < len(self.choices):
            self.dismiss(self.choices[index])
        else:
            self.app.bell()

    @on(OptionList.OptionSelected, "#switcher-options")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])

    def action_move(self, step: int) -> None:
        options = self.query_one("#switcher-options", OptionList)
        if not self.choices:
            return
        current = options.highlighted or 0
        options.highlighted = (current + step) % len(self.choices)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
