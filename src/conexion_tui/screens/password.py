"""The password dialog: masked fields for `/register`, `/password` and logging in again after a
reconnect was refused, with the server's answer shown in it. It must not send anything itself:
it hands what was typed to the `send` it was given, and the chat screen tells it how that went.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass(slots=True, frozen=True)
class PasswordForm:
    """What one dialog asks for: a masked field per label, in order."""

    title: str
    intro: str  # a sentence or two above the fields
    labels: tuple[str, ...]
    button: str
    # The last field repeats the one before it (a new password typed twice).
    repeated: bool = False


REGISTER = PasswordForm(
    "Register this name",
    "Choose a password for {name}. From then on the name is yours: joining as {name} asks "
    "for it, and this client logs in with it by itself after a lost connection.",
    ("Password", "Password again"),
    "Register",
    repeated=True,
)
CHANGE = PasswordForm(
    "Change password",
    "Type the password {name} has now, then the new one twice.",
    ("Current password", "New password", "New password again"),
    "Change",
    repeated=True,
)
LOG_IN = PasswordForm(
    "Log in again",
    "{reason}. Type the password of {name} to reconnect.",
    ("Password",),
    "Log in",
)
SERVER_PASSWORD = PasswordForm(
    "Log in again",
    "{reason}. Type the server's password to reconnect.",
    ("Server password",),
    "Log in",
)


class PasswordDialog(ModalScreen[None]):
    """Masked fields, a button, and a line for what went wrong.

    `send(values)` is called with what was typed once every field is filled
    (and a repeated password matches); it returns why nothing could be sent
    (offline), or None, after which the dialog waits, showing that it is
    checking, until `failed()` or `succeeded()`. Esc closes it at any time.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
        # Handled here, not by the field: the focus must move before the next
        # key is read, or a fast typist's (or a paste's) next password lands
        # in the field just left.
        Binding("enter", "enter", "Next", show=False, priority=True),
    ]

    def __init__(
        self,
        form: PasswordForm,
        send: Callable[[Sequence[str]], str | None],
        **words: str,
    ) -> None:
        super().__init__()
        self.form = form
        self.words = words  # what the intro's {name}, {reason} stand for
        self._send = send
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="password-box"):
            # Built as Text: the name and the reason come from the network.
            yield Static(Text(self.form.intro.format(**self.words)), id="password-intro")
            for index, label in enumerate(self.form.labels):
                yield Label(label, classes="password-label")
                yield Input(password=True, id=f"password-{index}", classes="password-field")
            yield Static(id="password-message", markup=False)
            with Horizontal(id="password-buttons"):
                yield Button(self.form.button, id="password-ok", variant="primary")
                yield Button("Cancel", id="password-cancel")

    def on_mount(self) -> None:
        self.query_one("#password-box").border_title = self.form.title
        self.fields[0].focus()

    @property
    def fields(self) -> list[Input]:
        return list(self.query(".password-field").results(Input))

    class _Typed(Message):
        """Posted to the focused field on Enter: it reaches the dialog after
        the keys that field still has to handle, so the form is complete."""

    def action_enter(self) -> None:
        """Enter moves on to the next empty field, then sends; on a button, presses it."""
        focused = self.focused
        if isinstance(focused, Button):
            focused.press()
            return
        fields = self.fields
        if isinstance(focused, Input) and focused in fields:
            index = fields.index(focused)
            if index + 1 < len(fields) and not fields[index + 1].value:
                self.set_focus(fields[index + 1])  # at once, unlike Widget.focus()
                return
            focused.post_message(self._Typed())
            return
        self._submit()

    @on(_Typed)
    def _typed(self, event: _Typed) -> None:
        event.stop()
        self._submit()

    @on(Button.Pressed, "#password-ok")
    def _submit(self) -> None:
        if self.busy:
            return
        fields = self.fields
        empty = next((f for f in fields if not f.value), None)
        if empty is not None:
            self._tell("Type a password in every field.")
            empty.focus()
            return
        if self.form.repeated and fields[-1].value != fields[-2].value:
            self._tell("The two new passwords differ. Type them again.")
            fields[-1].value = fields[-2].value = ""
            fields[-2].focus()
            return
        problem = self._send([f.value for f in fields])
        if problem is not None:
            self._tell(problem)
            return
        self._set_busy(True)
        self._tell("Checking…", error=False)

    @on(Button.Pressed, "#password-cancel")
    def action_close(self) -> None:
        self.dismiss(None)

    def failed(self, text: str, *, field: int | None = None) -> None:
        """The server said no: show why, and get ready for another try, with
        `field` (an index; the first new password when None) selected."""
        self._set_busy(False)
        self._tell(text)
        fields = self.fields
        if field is None:
            field = len(fields) - 2 if self.form.repeated else 0
            if self.form.repeated:
                fields[-1].value = ""  # the repeat is typed again after the new one
        target = fields[field]
        target.focus()
        target.select_all()

    def succeeded(self) -> None:
        self.dismiss(None)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for field in self.fields:
            field.disabled = busy
        self.query_one("#password-ok", Button).disabled = busy

    def _tell(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#password-message", Static)
        message.set_class(error, "-error")
        message.set_class(bool(text), "-shown")
        message.update(Text(text))
