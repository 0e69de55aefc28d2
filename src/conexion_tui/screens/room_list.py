"""The `/rooms` dialog: every room on the server with how many are in it and its topic; Enter
joins (or goes to) one. It dismisses with the room's name; it must not join anything itself.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from conexion_protocol import RoomSummary

from ..conversation import room_key
from ..entries import clean


def room_line(summary: RoomSummary, member: bool) -> Text:
    """One room as plain text: `✓` marks a room you are in."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("✓ " if member else "  ", "green")
    text.append(f"#{clean(summary.room, single_line=True)}", "bold")
    here = "1 here" if summary.members == 1 else f"{summary.members} here"
    text.append(f"  {here}", "dim")
    if summary.topic:
        text.append("  ")
        text.append(clean(summary.topic, single_line=True))
    return text


class RoomListDialog(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Close", show=False),
    ]

    def __init__(self, rooms: list[RoomSummary], joined: Collection[str]) -> None:
        super().__init__()
        self.rooms = rooms
        self.joined = joined  # room keys of the rooms we are in

    def compose(self) -> ComposeResult:
        with Vertical(id="rooms-box"):
            options = [Option(room_line(r, room_key(r.room) in self.joined)) for r in self.rooms]
            yield OptionList(*options, id="rooms-options")
            hint = (
                "Enter joins · Esc closes" if self.rooms else "No rooms yet: /join NAME makes one"
            )
            yield Static(hint, id="rooms-hint", markup=False)

    def on_mount(self) -> None:
        count = len(self.rooms)
        box = self.query_one("#rooms-box")
        box.border_title = f"Rooms · {count}"
        options = self.query_one("#rooms-options", OptionList)
        options.focus()
        if self.rooms:
            options.highlighted = 0

    @on(OptionList.OptionSelected, "#rooms-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.rooms[event.option_index].room)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
