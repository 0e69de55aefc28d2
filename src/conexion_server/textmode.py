"""The plain-text session, so that `nc` and `telnet` are chat clients: the
first line is a name, then every line is a message or a /command. It shares
the hub with JSON peers; only the rendering differs (see `textformat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import textformat
from .protocol import LeftReason, ProtocolError

if TYPE_CHECKING:
    from .connection import Connection


class TextHandler:
    json = False

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.server = conn.server
        self.hub = conn.server.hub

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
            if self.conn.member is None:
                self.choose_name(line.strip())
            else:
                self.command(line)
        except ProtocolError as exc:
            self.say(f"! {exc.message}\n")

    def choose_name(self, name: str) -> None:
        if not name:
            return  # blank lines are ignored, even before the name
        try:
            member, welcome, deliveries = self.hub.join(name, self.conn)
        except ProtocolError as exc:
            self.say(f"! {exc.message}; type another name:\n")
            return
        self.conn.joined(member)
        self.say(textformat.render_welcome(welcome))
        self.server.dispatch(deliveries)

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
        hub, dispatch = self.hub, self.server.dispatch
        match cmd.name:
            case "say" | "me":
                _, deliveries = hub.say(member, cmd.arg, action=cmd.name == "me")
                self.say("* sent\n")
                dispatch(deliveries)
            case "msg":
                _, deliveries = hub.dm(member, cmd.target, cmd.arg)
                self.say(f"* sent to {deliveries[0].to[0].name}\n")
                dispatch(deliveries)
            case "nick":
                dispatch(hub.rename(member, cmd.arg))
            case "who":
                self.say(textformat.render_users(hub.names()))
            case "help":
                self.say("\n".join(textformat.HELP_LINES) + "\n")
            case "exit":
                self.conn.close(LeftReason.QUIT, b"* bye\n")
