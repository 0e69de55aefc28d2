"""The start screen: a name (and, when asked, a password), why a join failed, and another try.
It must not connect by itself: it posts `JoinRequested` and the app's worker joins.
"""

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

from ..client import TLS_FAILED, UNREACHABLE

BAD_PASSWORD = "bad_password"


class StartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit", priority=True)]

    @dataclass
    class JoinRequested(Message):
        name: str
        password: str | None = None

    def __init__(
        self,
        address: str,
        name: str,
        *,
        autojoin: bool = False,
        password: str | None = None,
        secure: bool = False,
    ) -> None:
        super().__init__()
        self.address = address
        self.initial_password = password
        self.secure = secure
        self.initial_name = name
        self.autojoin = autojoin
        self.busy = False
        self.unreachable = 0  # failed attempts in a row to reach the server

    def compose(self) -> ComposeResult:
        with Middle(), Center(), Vertical(id="start-box"):
            yield Static("Conexion", id="start-title")
            how = " (TLS)" if self.secure else ""
            yield Static(Text(f"server {self.address}{how}"), id="start-server")
            yield Label("Your name", id="start-label")
            yield Input(
                value=self.initial_name,
                placeholder="letters, digits, _ - .",
                id="start-name",
            )
            # Hidden until the server asks for a password (or one was given
            # through CONEXION_PASSWORD). `password=True` masks every key.
            with Vertical(
                id="start-password-row", classes="-shown" if self.initial_password else ""
            ):
                yield Label("Server password", id="start-password-label")
                yield Input(
                    value=self.initial_password or "",
                    password=True,
                    placeholder="the password the server's owner gave you",
                    id="start-password",
                )
            yield Button("Join", id="start-join", variant="primary")
            yield Static(id="start-message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start-name", Input).focus()
        if self.autojoin and self.initial_name:
            self.request_join()

    @on(Input.Submitted, "#start-name")
    @on(Input.Submitted, "#start-password")
    @on(Button.Pressed, "#start-join")
    def request_join(self) -> None:
        if self.busy:
            return
        name = self.query_one("#start-name", Input).value.strip()
        if not name:
            self.show_error("bad_name", "Type a name first.")
            return
        password: str | None = None
        if self.query_one("#start-password-row").has_class("-shown"):
            password = self.query_one("#start-password", Input).value
        self.set_busy(True, f"Connecting to {self.address} as {name}…")
        self.post_message(self.JoinRequested(name, password))

    def set_busy(self, busy: bool, status: str = "") -> None:
        self.busy = busy
        self.query_one("#start-name", Input).disabled = busy
        self.query_one("#start-password", Input).disabled = busy
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
        if code == BAD_PASSWORD:
            self.show_password_field(message, button)
            return
        if code in (UNREACHABLE, TLS_FAILED):
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
        if code not in (UNREACHABLE, TLS_FAILED):
            name_input.select_all()

    def show_password_field(self, message: Static, button: Button) -> None:
        row = self.query_one("#start-password-row")
        field = self.query_one("#start-password", Input)
        if row.has_class("-shown"):
            text = "Wrong password.\nType it again and press Enter."
        else:
            text = "This server asks for a password.\nType it and press Enter."
        row.set_class(True, "-shown")
        button.label = "Join"
        message.set_class(True, "-error")
        message.set_class(True, "-shown")
        message.update(Text(text))
        field.focus()
        field.select_all()
