"""The `/audit` dialog: a room's (or the server's) moderation log, oldest first, one line per
action with its date, time, who, what and why. It shows the lines it is given; Esc closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..entries import clean


class AuditDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, lines: Sequence[str]) -> None:
        super().__init__()
        self.title_shown = title
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        with Vertical(id="audit-box"):
            with VerticalScroll(id="audit-lines"):
                text = Text("\n".join(clean(line) for line in self.lines) or "Nothing yet.")
                yield Static(text, id="audit-text")
            yield Static("↑/↓ scroll · Esc closes", id="audit-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#audit-box").border_title = Content(self.title_shown)
        scroll = self.query_one("#audit-lines", VerticalScroll)
        scroll.focus()
        scroll.scroll_end(animate=False)  # the newest at the bottom, in view

    def action_close(self) -> None:
        self.dismiss(None)
