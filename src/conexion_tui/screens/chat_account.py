"""The chat screen's account side: your badge and the notice about a one-time password, the
password dialogs (`/register`, `/password`, logging in again when a reconnect was refused) and
the server's answers to them. A mixin of `ChatScreen`; passwords pass through here to the client
and are never kept, shown or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widgets import Static

from conexion_protocol import FEATURE_ACCOUNTS, ErrorCode, Registered

from ..client import LoginNeeded, Request, RequestKind
from ..widgets import ChatInput
from .channel import Batch
from .password import CHANGE, LOG_IN, REGISTER, SERVER_PASSWORD, PasswordDialog, PasswordForm

OFFLINE = "You are offline. Try again once reconnected."
LOST = "The connection was lost before the server answered. Try again once reconnected."
# Until its first answer, a login dialog's request has no id: the reconnect is its answer.
_RECONNECT = "reconnect"


class AccountNotice(Static):
    """The bar that asks you to replace a password the operator made; a click
    opens the dialog, as F2 does."""

    def on_click(self) -> None:
        self.screen.action_account()  # type: ignore[attr-defined]


def sentence(text: str) -> str:
    """A server's reason as a sentence: a capital first, a full stop last."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


class AccountActions:
    """The account's dialogs and answers, on the screen's client, header and
    log. (Not typed as `ChatScreen`: that import would be a cycle.)"""

    _password_dialog: PasswordDialog | None = None
    _account_request: str | None = None  # the id the open dialog waits for
    _login_needed: LoginNeeded | None = None  # the latest reconnect refused for a password

    @property
    def accounts_feature(self) -> bool:
        return FEATURE_ACCOUNTS in self.client.session.features

    # -- what the header and the notice say ------------------------------------------

    def _show_account(self) -> None:
        """The badge after your name, and the notice while your password is
        one the operator made."""
        session = self.client.session
        if not self.accounts_feature:
            badge = ""
        elif session.admin:
            badge = "admin"
        else:
            badge = "registered" if session.registered else "guest"
        self.header.badge = badge
        notice = self.query_one("#account-notice", AccountNotice)
        temporary = session.registered and session.temporary_password
        if temporary:
            notice.update(
                Text(
                    "Your password is a one-time one the operator made. "
                    "Press F2 to choose your own."
                )
            )
        notice.set_class(temporary, "-visible")
        self.refresh_bindings()  # the footer's F2 follows

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """F2's shown forms are enabled only when they apply (see the bindings)."""
        if action == "log_in_again":
            return self.client.waiting_for_login
        if action == "choose_password":
            session = self.client.session
            return session.registered and session.temporary_password
        return True

    def action_log_in_again(self) -> None:
        self._open_login()

    def action_choose_password(self) -> None:
        self.action_change_password()

    # -- opening the dialogs -------------------------------------------------------------

    def action_account(self) -> None:
        """F2: log in again if a reconnect waits for it; otherwise register
        the name, or change its password."""
        if self.client.waiting_for_login:
            self._open_login()
        elif self.client.session.registered:
            self.action_change_password()
        else:
            self.action_register()

    def action_register(self) -> None:
        if self._cannot_open():
            return
        if self.client.session.registered:
            self.log_view.add(self._error(f"{self.me} is registered already; /password changes it"))
            return
        self._open(REGISTER, self._send_register)

    def action_change_password(self) -> None:
        if self._cannot_open():
            return
        if not self.client.session.registered:
            self.log_view.add(self._error("you are a guest: /register gives your name a password"))
            return
        self._open(CHANGE, self._send_change)

    def _cannot_open(self) -> bool:
        if self._password_dialog is not None:
            return True
        if not self.accounts_feature:
            self.log_view.add(self._error("this server has no accounts"))
            return True
        return False

    def _open(
        self, form: PasswordForm, send: Callable[[Sequence[str]], str | None], **words: str
    ) -> None:
        self._account_request = None
        self._password_dialog = PasswordDialog(form, send, name=self.me, **words)
        self.app.push_screen(self._password_dialog, self._dialog_closed)

    def _dialog_closed(self, _: None = None) -> None:
        self._password_dialog = None
        self._account_request = None
        self.query_one("#input", ChatInput).release()  # held since /register or /password

    def _open_login(self) -> None:
        needed = self._login_needed
        if needed is None or self._password_dialog is not None:
            return
        if needed.code == ErrorCode.BAD_PASSWORD:
            why = "Reconnecting was refused: the server asks for a password it did not get"
            self._open(SERVER_PASSWORD, self._send_server_password, reason=why)
            return
        if needed.code == ErrorCode.BAD_LOGIN:
            why = (
                f"Reconnecting as {self.me} was refused: wrong password (it may have been "
                "changed or reset)"
            )
        else:
            why = f"Reconnecting as {self.me} needs a password: the name is registered now"
        self._open(LOG_IN, self._send_login, reason=why)

    # -- what the dialogs send ---------------------------------------------------------

    def _send_register(self, values: Sequence[str]) -> str | None:
        return self._sent(self.client.register(values[0]))

    def _send_change(self, values: Sequence[str]) -> str | None:
        return self._sent(self.client.change_password(values[0], values[1]))

    def _send_login(self, values: Sequence[str]) -> str | None:
        self.client.log_in(account_password=values[0])
        return self._sent(_RECONNECT)

    def _send_server_password(self, values: Sequence[str]) -> str | None:
        self.client.log_in(password=values[0])
        return self._sent(_RECONNECT)

    def _sent(self, request_id: str | None) -> str | None:
        if request_id is None:
            return OFFLINE
        self._account_request = request_id
        return None

    # -- the answers -------------------------------------------------------------------

    def _registered(self, frame: Registered, request: Request | None, batch: Batch) -> None:
        """`registered`: the name is an account now, or its password changed."""
        if frame.changed:
            line = "your password was changed; reconnects log in with the new one"
        else:
            line = (
                f"registered: the name {frame.name} is yours now; joining as {frame.name} "
                "asks for its password, and this client logs in with it by itself"
            )
        batch.add(self.current, self._system(line))
        dialog = self._password_dialog
        if dialog is not None and request is not None and request.id == self._account_request:
            dialog.succeeded()
        self._show_account()

    def _account_refused(self, request: Request, code: str, message: str, batch: Batch) -> None:
        dialog = self._password_dialog
        if dialog is not None and request.id == self._account_request:
            # A wrong current password: that field; a weak new one: the new pair.
            field = 0 if code == ErrorCode.BAD_LOGIN else None
            dialog.failed(sentence(message), field=field)
            return
        what = "register" if request.kind is RequestKind.REGISTER else "password change"
        batch.add(self.current, self._error(f"{what} refused: {message} ({code})"))

    def _account_lost(self) -> None:
        """The connection went while a dialog waited for the server's answer."""
        dialog = self._password_dialog
        if dialog is not None and dialog.busy and self._account_request != _RECONNECT:
            self._account_request = None
            dialog.failed(LOST)

    def _account_reconnected(self) -> None:
        """A welcome: a login dialog's password worked; the badge may differ."""
        self._login_needed = None
        dialog = self._password_dialog
        if dialog is not None and self._account_request == _RECONNECT:
            dialog.succeeded()
        self._show_account()

    def _needs_login(self, event: LoginNeeded, batch: Batch) -> None:
        """A reconnect was refused for its password: ask for one, once."""
        first = self._login_needed is None
        self._login_needed = event
        dialog = self._password_dialog
        if dialog is not None and self._account_request == _RECONNECT:
            dialog.failed("Wrong password.")
            return
        if first:
            line = f"cannot log in again: {event.message} ({event.code}); F2 types the password"
            for channel in self.channels.values():
                batch.add(channel, self._error(line))
        self.refresh_bindings()
        self._open_login()
