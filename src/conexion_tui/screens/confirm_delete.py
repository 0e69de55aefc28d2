"""Asking before a message is deleted for everyone: y or Enter deletes, n or Esc keeps it. It
dismisses with the answer; it must not send anything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..entries import clean

_SHOWN = 60  # characters of the message quoted in the question


class ConfirmDelete(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmDelete { align: center middle; background: $background 60%; }
    #delete-box {
        width: 60; max-width: 100%; height: auto; border: round $error;
        border-title-align: center; background: $surface; padding: 1 2;
    }
    #delete-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Delete"),
        Binding("n,escape", "answer(False)", "Keep"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        snippet = clean(text, single_line=True).strip()
        self.snippet = snippet if len(snippet) <= _SHOWN else snippet[: _SHOWN - 1] + "…"

    def compose(self) -> ComposeResult:
        with Vertical(id="delete-box"):
            question = Text("Delete this message for everyone?\n")
            question.append(self.snippet, "italic")
            yield Static(question, id="delete-question")
            yield Static("y or Enter deletes · n or Esc keeps it", id="delete-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#delete-box").border_title = "Delete"

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
