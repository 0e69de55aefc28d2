"""The question a message too long to send asks: send it as several messages, or keep it in
the box to shorten. It dismisses with the answer; it must not send anything itself.
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


class SplitDialog(ModalScreen[bool]):
    """Dismisses with True to send the pieces, False to keep editing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "keep", "Keep editing", show=False),
    ]

    def __init__(self, length: int, limit: int, pieces: int) -> None:
        super().__init__()
        self.length, self.limit, self.pieces = length, limit, pieces

    @property
    def text(self) -> str:
        return (
            f"This message is {self.length:,} characters long; the server takes at most "
            f"{self.limit:,} in one message. It is still in the box.\n"
            f"Send it as {self.pieces} messages, cut where lines or words end?"
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="split-box"):
            yield Static(Text(self.text), id="split-text")
            with Horizontal(id="split-buttons"):
                yield Button(f"Send as {self.pieces}", id="split-send", variant="primary")
                yield Button("Keep editing", id="split-keep")

    def on_mount(self) -> None:
        self.query_one("#split-box").border_title = Content("Too long for one message")
        self.query_one("#split-send", Button).focus()

    @on(Button.Pressed, "#split-send")
    def _send(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#split-keep")
    def action_keep(self) -> None:
        self.dismiss(False)
