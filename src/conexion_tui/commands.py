"""Slash commands and Tab completion as pure functions: a line in, a command or completion out.
It must not do I/O or touch Textual; the chat screen acts on the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conexion_protocol import name_key

from .config import SHOWN_COMMAND


@dataclass(slots=True, frozen=True)
class SendText:
    text: str


@dataclass(slots=True, frozen=True)
class SendAction:
    """`/me waves`: shown to everyone as `* ana waves`."""

    text: str


@dataclass(slots=True, frozen=True)
class SendDirect:
    to: str
    text: str


@dataclass(slots=True, frozen=True)
class ChangeNick:
    name: str


@dataclass(slots=True, frozen=True)
class ListUsers:
    """`/who`: show who is online."""


@dataclass(slots=True, frozen=True)
class ClearLog:
    """`/clear`: empty the log on this screen."""


@dataclass(slots=True, frozen=True)
class ShowHelp:
    """`/help`: list the commands."""


@dataclass(slots=True, frozen=True)
class Quit:
    """`/exit` or `/quit`: say bye and leave."""


@dataclass(slots=True, frozen=True)
class CommandError:
    """A line that looked like a command but is not one we can run; `message`
    says what to type instead. Nothing is sent."""

    message: str


Command = (
    SendText
    | SendAction
    | SendDirect
    | ChangeNick
    | ListUsers
    | ClearLog
    | ShowHelp
    | Quit
    | CommandError
)


@dataclass(slots=True, frozen=True)
class CommandSpec:
    name: str
    usage: str
    help: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("/help", "/help", "list these commands"),
    CommandSpec("/msg", "/msg NAME TEXT", "a direct message only NAME sees"),
    CommandSpec("/me", "/me TEXT", "an action: * ana waves"),
    CommandSpec("/nick", "/nick NAME", "change your name"),
    CommandSpec("/who", "/who", "ask the server who is online"),
    CommandSpec("/clear", "/clear", "clear the message log (on this screen only)"),
    CommandSpec("/exit", "/exit", "leave the chat (also /quit and ctrl+q)"),
    CommandSpec("/quit", "/quit", "leave the chat"),
)
_BY_NAME = {spec.name: spec for spec in COMMANDS}


def help_lines() -> list[str]:
    """What `/help` shows, one line each."""
    width = max(len(spec.usage) for spec in COMMANDS)
    lines = [f"{spec.usage.ljust(width)}  {spec.help}" for spec in COMMANDS]
    lines.append("A line starting with // is sent as text with one slash removed.")
    lines.append("Keys: Enter send · ctrl+j new line · Tab complete · ↑/↓ history")
    lines.append("      PgUp/PgDn scroll · Esc back to live · ctrl+q quit")
    return lines


def _usage(name: str) -> CommandError:
    return CommandError(f"usage: {_BY_NAME[name].usage}")


def parse(line: str) -> Command | None:
    """The command a typed line asks for; None for a blank line.

    Leading and trailing blank lines of a message are dropped, but its inner
    spacing is kept as typed.
    """
    text = line.strip("\n\r")
    if not text.strip():
        return None
    if text.startswith("//"):
        return SendText(text[1:])
    if not text.startswith("/"):
        return SendText(text)
    word, _, rest = text.partition(" ")
    if "\n" in word:  # "/me\nwaves": the command word ends at the line break too
        word, _, more = word.partition("\n")
        rest = more + (" " + rest if rest else "")
    command = word.lower()
    arg = rest.strip()
    match command:
        case "/help" | "/?":
            return ShowHelp()
        case "/exit" | "/quit":
            return Quit()
        case "/who":
            return ListUsers()
        case "/clear":
            return ClearLog()
        case "/me":
            return SendAction(arg) if arg else _usage("/me")
        case "/nick":
            if not arg or len(arg.split()) != 1:
                return _usage("/nick")
            return ChangeNick(arg)
        case "/msg":
            to, _, body = arg.partition(" ")
            body = body.strip()
            if not to or not body:
                return _usage("/msg")
            return SendDirect(to, body)
    return CommandError(
        f"unknown command {word[:SHOWN_COMMAND]}; /help lists the commands "
        f"(start a line with // to send it as text)"
    )


# -- completion ---------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Completion:
    """Replace `line[start:end]` with one of `candidates` (in cycling order)."""

    start: int
    end: int
    candidates: tuple[str, ...]


def complete(line: str, cursor: int, names: Iterable[str]) -> Completion | None:
    """Candidates for the word that ends at `cursor`: commands for a first
    word starting with `/`, otherwise user names. None when nothing fits.

    Names match case-insensitively; a name completed at the start of a line
    gets ": " (addressing someone), elsewhere a space.
    """
    start = cursor
    while start > 0 and not line[start - 1].isspace():
        start -= 1
    word = line[start:cursor]
    if start == 0 and word.startswith("/"):
        matches = [spec.name + " " for spec in COMMANDS if spec.name.startswith(word.lower())]
        return Completion(start, cursor, tuple(matches)) if matches else None
    prefix = name_key(word.lstrip("@"))
    at = "@" if word.startswith("@") else ""
    first_word = line[:start].strip() == ""
    after_command = line[:start].split()[:1] in (["/msg"], ["/nick"])
    suffix = ": " if first_word else " "
    if after_command:
        suffix = " "
    found = sorted(
        {n for n in names if name_key(n).startswith(prefix)},
        key=name_key,
    )
    if not found:
        return None
    return Completion(start, cursor, tuple(at + n + suffix for n in found))


def command_names() -> Sequence[str]:
    return [spec.name for spec in COMMANDS]
