"""The start screen: a name (and, when asked, the server's password or the name's account
password), why a join failed, and another try. It must not connect by itself: it posts
`JoinRequested` and the app's worker joins.
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

from conexion_protocol import ErrorCode, name_key

from ..client import CLOSED, TLS_FAILED, UNREACHABLE
from ..clock import LocalClock
from ..news import readable_times

BAD_PASSWORD = ErrorCode.BAD_PASSWORD


# Refusals that another name can cure: the name is selected, to be replaced.
_NAME_REFUSALS = frozenset({ErrorCode.BAD_NAME, ErrorCode.NAME_TAKEN, ErrorCode.FORBIDDEN})
# The link failed, not the name: the button says Retry. A server that hangs
# up on the hello (CLOSED) is one: a TLS server met without --tls, say.
_LINK_FAILURES = frozenset({UNREACHABLE, TLS_FAILED, CLOSED})


class StartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit", priority=True)]

    @dataclass
    class JoinRequested(Message):
        name: str
        password: str | None = None  # the server's
        account_password: str | None = None  # the name's own, when it is registered

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
        # The key of the registered name the account field is for; typing
        # another name hides the field, so its password never goes elsewhere.
        self.account_key: str | None = None
        self.wrong_logins = 0  # wrong account passwords in a row, so a repeat looks new

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
            # Hidden until the server says the name is registered.
            with Vertical(id="start-account-row"):
                yield Label("Account password", id="start-account-label")
                yield Input(
                    password=True,
                    placeholder="the password of this registered name",
                    id="start-account",
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
    @on(Input.Submitted, "#start-account")
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
        account: str | None = None
        status = f"Connecting to {self.address} as {name}…"
        if self.query_one("#start-account-row").has_class("-shown"):
            field = self.query_one("#start-account", Input)
            if not field.value:
                self._say(f"Type the password of {name} first, or choose another name.")
                field.focus()
                return
            account = field.value
            # The server makes a wrong guess wait, longer each time in a row.
            status = f"Checking the password of {name}…"
        self.set_busy(True, status)
        self.post_message(self.JoinRequested(name, password, account))

    @on(Input.Changed, "#start-name")
    def _name_changed(self, event: Input.Changed) -> None:
        """Another name is not the registered one: its password stays unsent."""
        if self.account_key is not None and name_key(event.value.strip()) != self.account_key:
            self.account_key = None
            self.wrong_logins = 0
            self.query_one("#start-account-row").set_class(False, "-shown")
            self.query_one("#start-account", Input).value = ""

    def set_busy(self, busy: bool, status: str = "") -> None:
        self.busy = busy
        self.query_one("#start-name", Input).disabled = busy
        self.query_one("#start-password", Input).disabled = busy
        self.query_one("#start-account", Input).disabled = busy
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
        reason = readable_times(reason, getattr(self.app, "clock", LocalClock()))
        sentence = reason[:1].upper() + reason[1:]
        if not sentence.endswith((".", "?", "!")):
            sentence += "."
        if code == BAD_PASSWORD:
            self.show_password_field(message, button)
            return
        if code in (ErrorCode.LOGIN_REQUIRED, ErrorCode.BAD_LOGIN):
            self.show_account_field(code)
            return
        if code in _LINK_FAILURES:
            self.unreachable += 1
            # Without the count a failed retry would look like nothing happened.
            tries = f" (tried {self.unreachable} times)" if self.unreachable > 1 else ""
            text = f"{sentence}\nPress Enter or Retry to try again{tries}."
            button.label = "Retry"
        elif code == ErrorCode.ACCOUNT_REQUIRED:
            text = (
                "This server lets in registered names only: ask its operator for an "
                "account.\nThen type that name and press Enter."
            )
            button.label = "Join"
        elif code == ErrorCode.BANNED:
            # Trying again cannot help until the ban runs out or is lifted.
            text = (
                f"{sentence}\nOnly an admin of this chat can lift it before it runs out: "
                "ask one of its admins if this is a mistake."
            )
            button.label = "Join"
        elif code in _NAME_REFUSALS:
            text = f"{sentence}\nChoose another name and press Enter."
            button.label = "Join"
        else:
            # Not the name's fault (a ban, a full server …): say so plainly.
            text = f"{sentence}\nPress Enter to try again."
            button.label = "Join"
        message.set_class(True, "-error")
        message.set_class(True, "-shown")
        message.update(Text(text))
        name_input.focus()
        if code in _NAME_REFUSALS:
            name_input.select_all()

    def show_account_field(self, code: str) -> None:
        """The name is registered: ask for its password (again, if it was wrong)."""
        name = self.query_one("#start-name", Input).value.strip()
        row = self.query_one("#start-account-row")
        field = self.query_one("#start-account", Input)
        if code == ErrorCode.BAD_LOGIN and row.has_class("-shown"):
            self.wrong_logins += 1
            tries = f" (tried {self.wrong_logins} times)" if self.wrong_logins > 1 else ""
            text = f"Wrong password{tries}.\nType it again, or choose another name."
        else:
            self.wrong_logins = 0
            text = f"{name} is registered.\nType its password, or choose another name."
        self.account_key = name_key(name)
        row.set_class(True, "-shown")
        self.query_one("#start-join", Button).label = "Join"
        self._say(text)
        field.focus()
        field.select_all()

    def _say(self, text: str) -> None:
        message = self.query_one("#start-message", Static)
        message.set_class(True, "-error")
        message.set_class(True, "-shown")
        message.update(Text(text))

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
