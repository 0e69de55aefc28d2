"""The start screen: pick a name and join. Shows why a join failed (the
server's reason, or why the server could not be reached) and lets the user
try again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Middle, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from ..client import UNREACHABLE


class StartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit", priority=True)]

    @dataclass
    class JoinRequested(Message):
        name: str

    def __init__(self, address: str, name: str, *, autojoin: bool = False) -> None:
        super().__init__()
        self.address = address
        self.initial_name = name
        self.autojoin = autojoin
        self.busy = False
        self.unreachable = 0  # failed attempts in a row to reach the server

    def compose(self) -> ComposeResult:
        with Middle(), Center(), Vertical(id="start-box"):
            yield Static("Conexion", id="start-title")
            yield Static(Text(f"server {self.address}"), id="start-server")
            yield Label("Your name", id="start-label")
            yield Input(
                value=self.initial_name,
                placeholder="letters, digits, _ - .",
                id="start-name",
            )
            yield Button("Join", id="start-join", variant="primary")
            yield Static(id="start-message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start-name", Input).focus()
        if self.autojoin and self.initial_name:
            self.request_join()

    @on(Input.Submitted, "#start-name")
    @on(Button.Pressed, "#start-join")
    def request_join(self) -> None:
        if self.busy:
            return
        name = self.query_one("#start-name", Input).value.strip()
        if not name:
            self.show_error("bad_name", "Type a name first.")
            return
        self.set_busy(True, f"Connecting to {self.address} as {name}…")
        self.post_message(self.JoinRequested(name))

    def set_busy(self, busy: bool, status: str = "") -> None:
        self.busy = busy
        self.query_one("#start-name", Input).disabled = busy
        self.query_one("#start-join", Button).disabled = busy
        message = self.query_one("#start-message", Static)
        message.set_class(False, "-error")
        message.set_class(bool(status), "-shown")
        message.update(Text(status))

    def show_error(self, code: str, reason: str) -> None:
        """Show why joining failed and get ready for another try."""
        self.set_busy(False)
        name_input = self.query_one("#start-name", Input)
        button = self.query_one("#start-join", Button)
        message = self.query_one("#start-message", Static)
        sentence = reason[:1].upper() + reason[1:]
        if not sentence.endswith((".", "?", "!")):
            sentence += "."
        if code == UNREACHABLE:
            self.unreachable += 1
            # Without the count a failed retry would look like nothing happened.
            tries = f" (tried {self.unreachable} times)" if self.unreachable > 1 else ""
            text = f"{sentence}\nPress Enter or Retry to try again{tries}."
            button.label = "Retry"
        else:
            text = f"{sentence}\nChoose another name and press Enter."
            button.label = "Join"
        message.set_class(True, "-error")
        message.set_class(True, "-shown")
        message.update(Text(text))
        name_input.focus()
        if code != UNREACHABLE:
            name_input.select_all()
