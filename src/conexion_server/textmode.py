"""The plain-text session, so that `nc` and `telnet` are chat clients: the
first line is a name (then, on a server with a password, the next line is the
password), then every line is a message or a /command. It shares the hub with
JSON peers; only the rendering differs (see `textformat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conexion_protocol import DEFAULT_ROOM, Ack, LeftReason, ProtocolError, Welcome, normalize_name

from . import textformat

if TYPE_CHECKING:
    from .connection import Connection


class TextHandler:
    json = False

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.server = conn.server
        self.hub = conn.server.hub
        # The name waiting for its password line; None while asking for a name.
        self.pending_name: str | None = None
        # A right password is asked once per connection, even if the name
        # then turns out to be taken.
        self.authenticated = conn.config.password is None

    def too_long(self) -> bytes:
        limit = self.conn.config.max_frame
        return f"! that line is longer than {limit} bytes; closing\n".encode()

    def say(self, text: str) -> None:
        self.conn.send(text.encode())

    def handle(self, raw: bytes) -> None:
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            self.say("! that line is not valid UTF-8 text; nothing was sent\n")
            return
        if line.endswith("\r"):
            line = line[:-1]
        try:
            if self.conn.member is None and self.pending_name is not None:
                self.check_password(line)
            elif self.conn.member is None:
                self.choose_name(line.strip())
            else:
                self.command(line)
        except ProtocolError as exc:
            self.say(f"! {exc.message}\n")

    def choose_name(self, name: str) -> None:
        if not name:
            return  # blank lines are ignored, even before the name
        if not self.authenticated:
            try:
                self.pending_name = normalize_name(name)
            except ProtocolError as exc:
                self.say(f"! {exc.message}; type another name:\n")
                return
            self.say("* password:\n")
            return
        try:
            answer = self.server.backplane.join(self.conn, name)
        except ProtocolError as exc:
            self._name_refused(exc)
            return
        self.conn.then(answer, _nothing, self._name_refused)

    def _name_refused(self, exc: ProtocolError) -> None:
        self.say(f"! {exc.message}; type another name:\n")

    def _refused(self, exc: ProtocolError) -> None:
        self.say(f"! {exc.message}\n")

    def welcome(self, welcome: Welcome) -> None:
        self.say(textformat.render_welcome(welcome))

    def check_password(self, password: str) -> None:
        # The line is never echoed back or logged. Only a line ending is
        # trimmed: spaces may be part of a password.
        if not password:
            return  # a blank line is not an attempt
        if not self.conn.authenticate(password):
            self.say("! wrong password; password:\n")
            return
        self.authenticated = True
        name, self.pending_name = self.pending_name, None
        assert name is not None
        self.choose_name(name)

    def command(self, line: str) -> None:
        member = self.conn.member
        assert member is not None
        try:
            cmd = textformat.parse_line(line)
        except ValueError as exc:
            self.say(f"! {exc}\n")
            return
        if cmd is None:
            return
        conn, chat = self.conn, self.server.backplane
        match cmd.name:
            case "say" | "me":
                action = cmd.name == "me"
                answer = chat.say(member, cmd.arg, id=None, room=DEFAULT_ROOM, action=action)
                conn.then(answer, self._sent, self._refused)
            case "msg":
                sent = chat.dm(member, cmd.target, cmd.arg, id=None)
                conn.then(sent, self._sent_to, self._refused)
            case "nick":
                conn.then(chat.rename(member, cmd.arg), _nothing, self._refused)
            case "who":
                self.say(textformat.render_users(self.hub.names()))
            case "help":
                self.say("\n".join(textformat.HELP_LINES) + "\n")
            case "exit":
                self.conn.close(LeftReason.QUIT, b"* bye\n")

    def _sent(self, _: Ack) -> None:
        self.say("* sent\n")

    def _sent_to(self, answer: tuple[Ack, str]) -> None:
        self.say(f"* sent to {answer[1]}\n")


def _nothing(_: object) -> None:
    """The answer is sent by the backplane (a welcome, a renamed event)."""
