"""The dialog that explains why you are out: kicked or banned from a room, or banned from the
whole chat (who did it, why, until when, and what you can do). It shows what it is given and
dismisses with whether to quit; it must not reconnect, rejoin or quit by itself.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..entries import clean
from ..news import PutOut


class SanctionDialog(ModalScreen[bool]):
    """Dismisses with True when the user chose to quit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
    ]

    def __init__(self, explanation: PutOut) -> None:
        super().__init__()
        self.explanation = explanation

    def compose(self) -> ComposeResult:
        with Vertical(id="sanction-box"):
            for index, line in enumerate(self.explanation.lines):
                classes = "sanction-line" + (" -first" if index == 0 else "")
                yield Static(Text(clean(line)), classes=classes)
            with Horizontal(id="sanction-buttons"):
                if self.explanation.server:
                    yield Button("Quit", id="sanction-quit", variant="error")
                    yield Button("Read the chat", id="sanction-ok")
                else:
                    yield Button("OK", id="sanction-ok", variant="primary")

    def on_mount(self) -> None:
        box = self.query_one("#sanction-box")
        box.border_title = Content(self.explanation.title)
        self.query(Button).first().focus()

    @property
    def text(self) -> str:
        return "\n".join(self.explanation.lines)

    @on(Button.Pressed, "#sanction-quit")
    def _quit(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#sanction-ok")
    def _ok(self) -> None:
        self.dismiss(False)

    def action_close(self) -> None:
        self.dismiss(False)
