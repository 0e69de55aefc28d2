"""How server frames look to a plain-text (`nc`, `telnet`) user, and how their
lines are parsed. Pure functions: no sockets, no hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from conexion_protocol import (
    DirectMessage,
    Error,
    Joined,
    Left,
    Message,
    Renamed,
    Shutdown,
    Struct,
    Users,
    Welcome,
    local_hhmm,
    name_key,
)

HELP_LINES = (
    "* Type a line and press Enter to send it to everyone.",
    "* /me TEXT        an action: * ana waves",
    "* /msg NAME TEXT  a direct message only NAME sees",
    "* /nick NAME      change your name",
    "* /who            who is online",
    "* /help           this list",
    "* /exit           leave the chat",
    "* A line starting with // is sent as text with one slash removed.",
)
INDENT = "    "


def clock(ts: str) -> str:
    """`HH:MM` in the server's local time for an RFC 3339 UTC timestamp."""
    return local_hhmm(ts)


def _lines(first: str, text: str) -> str:
    """A multi-line text as one line each, the continuation lines indented."""
    if "\n" not in text:
        return first + text + "\n"
    head, *rest = text.split("\n")
    return first + head + "\n" + "".join(INDENT + line + "\n" for line in rest)


def render_message(msg: Message) -> str:
    if msg.action:
        return _lines(f"[{clock(msg.ts)}] * {msg.from_} ", msg.text)
    return _lines(f"[{clock(msg.ts)}] {msg.from_}: ", msg.text)


def render_users(users: list[str]) -> str:
    return f"* {len(users)} online: {', '.join(users)}\n"


def render(frame: Struct) -> str | None:
    """The text a plain-text user sees for a broadcast frame, or None."""
    match frame:
        case Message():
            return render_message(frame)
        case DirectMessage(from_=sender, text=text, ts=ts):
            return _lines(f"[{clock(ts)}] [dm] {sender}: ", text)
        case Joined(name=name):
            return f"* {name} joined\n"
        case Left(name=name, reason=reason):
            return f"* {name} left ({reason})\n"
        case Renamed(old=old, new=new):
            return f"* {old} is now {new}\n"
        case Users(users=users):
            return render_users(users)
        case Error(message=message):
            return f"! {message}\n"
        case Shutdown(message=message):
            return f"* {message}\n"
    return None


def render_welcome(welcome: Welcome) -> str:
    parts = [f"* Welcome, {welcome.name}. Type /help for commands.\n"]
    if welcome.motd:
        parts.append(_lines("* ", welcome.motd))
    if welcome.history:
        parts.append("* --- recent messages ---\n")
        for m in welcome.history:
            if isinstance(m, Message):
                parts.append(render_message(m))
            elif name_key(m.from_) == name_key(welcome.name):
                parts.append(_lines(f"[{clock(m.ts)}] [dm to {m.to}] {m.from_}: ", m.text))
            else:
                parts.append(_lines(f"[{clock(m.ts)}] [dm] {m.from_}: ", m.text))
        parts.append("* --- end of recent messages ---\n")
    parts.append(render_users(welcome.users))
    return "".join(parts)


@dataclass(slots=True, frozen=True)
class Command:
    """A parsed plain-text line: `name` is "say" for ordinary text."""

    name: str
    arg: str = ""
    target: str = ""


COMMANDS = ("exit", "nick", "msg", "me", "who", "help")


def parse_line(line: str) -> Command | None:
    """What a plain-text line asks for; None for a blank line.

    Raises ValueError with a user-facing explanation for a malformed command.
    """
    if not line.strip():
        return None
    if line.startswith("//"):
        return Command("say", line[1:])
    if not line.startswith("/"):
        return Command("say", line)
    word, _, rest = line[1:].partition(" ")
    word = word.lower()
    rest = rest.strip()
    if word in ("exit", "quit"):
        return Command("exit", rest)
    if word in ("who", "help"):
        return Command(word)
    if word == "me":
        if not rest:
            raise ValueError("usage: /me TEXT")
        return Command("me", rest)
    if word == "nick":
        if not rest or " " in rest:
            raise ValueError("usage: /nick NAME")
        return Command("nick", rest)
    if word == "msg":
        target, _, text = rest.partition(" ")
        if not target or not text.strip():
            raise ValueError("usage: /msg NAME TEXT")
        return Command("msg", text, target)
    raise ValueError(f"unknown command /{word}; type /help for the list")
