"""The `/delete` picker: the room's recent messages you may delete (yours; for staff,
anyone's), newest first; Enter picks one. It dismisses with the message's seq; it must not
delete anything itself, nor decide who may (the server does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..clock import Clock
from ..entries import Entry, clean

SNIPPET = 60  # characters of each message shown


def entry_line(entry: Entry) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{entry.time} ", "dim")
    text.append(clean(entry.name, single_line=True), "bold")
    snippet = clean(entry.text, single_line=True)
    if len(snippet) > SNIPPET:
        snippet = snippet[: SNIPPET - 1] + "…"
    text.append(f": {snippet}")
    return text


class DeletePicker(ModalScreen[int | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Close", show=False),
    ]

    def __init__(
        self, room: str, entries: Sequence[Entry], *, staff: bool, clock: Clock | None = None
    ) -> None:
        super().__init__()
        self.clock = clock  # for the full date of the message highlighted
        self.room = room
        self.entries = list(entries)  # newest first, each with a seq
        self.staff = staff

    def compose(self) -> ComposeResult:
        with Vertical(id="delete-box"):
            yield OptionList(*(Option(entry_line(e)) for e in self.entries), id="delete-options")
            if self.entries:
                hint = "Enter deletes the message for everyone · Esc keeps it"
            elif self.staff:
                hint = "No message here to delete yet."
            else:
                hint = "No message of yours here to delete yet."
            yield Static(hint, id="delete-hint", markup=False)

    def on_mount(self) -> None:
        whose = "a message" if self.staff else "one of your messages"
        self.query_one("#delete-box").border_title = Text(f"Delete {whose} in #{self.room}")
        options = self.query_one("#delete-options", OptionList)
        options.focus()
        if self.entries:
            options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#delete-options")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """The hint names the highlighted message's full date and time: the
        list shows only HH:MM, and "deleted for everyone" is for good."""
        entry = self.entries[event.option_index]
        if self.clock is None or entry.at is None:
            return
        hint = f"{self.clock.full(entry.at)} · Enter deletes it for everyone · Esc keeps it"
        self.query_one("#delete-hint", Static).update(Text(hint))

    @on(OptionList.OptionSelected, "#delete-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.entries[event.option_index].seq)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
