"""Slash commands, Tab completion and the quick switcher's fuzzy choices as pure functions: a
line in, a command, completion or ranked choices out. No I/O, no Textual; screens act on them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conexion_protocol import (
    MAX_SLOW_SECONDS,
    ModAction,
    ProtocolError,
    Role,
    name_key,
    parse_minutes,
    parse_room,
)
from conexion_protocol.durations import EXAMPLES as DURATIONS

from .config import SHOWN_COMMAND
from .conversation import DM_MARK, ROOM_MARK, room_key


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
class OpenDirect:
    """`/msg NAME` with no text: open (or go to) the conversation with NAME."""

    to: str


@dataclass(slots=True, frozen=True)
class ChangeNick:
    name: str


@dataclass(slots=True, frozen=True)
class JoinRoom:
    """`/join ROOM [CODE]`: enter (or create) the room and go to it; a
    private room's join code lets one in without an invitation."""

    room: str
    code: str | None = None


@dataclass(slots=True, frozen=True)
class PartRoom:
    """`/part [ROOM]`: leave the room (None: the one shown), or close a DM conversation."""

    room: str | None


@dataclass(slots=True, frozen=True)
class ListRooms:
    """`/rooms`: a dialog of every room to join."""


@dataclass(slots=True, frozen=True)
class SetTopic:
    """`/topic [TEXT]`: show the topic (None), set it, or clear it ("")."""

    topic: str | None


@dataclass(slots=True, frozen=True)
class RegisterName:
    """`/register`: make the name an account (the password goes in a masked dialog)."""


@dataclass(slots=True, frozen=True)
class NewPassword:
    """`/password`: change the account's password (in a masked dialog)."""


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
class Moderate:
    """`/kick`, `/mute`, `/ban` … on someone in the room shown (or, with
    `server`, the whole chat). The server checks every rank."""

    action: ModAction
    name: str
    minutes: int | None = None
    reason: str | None = None
    server: bool = False
    role: Role | None = None


@dataclass(slots=True, frozen=True)
class SetMode:
    """`/moderated`, `/slow`, `/private`, `/topiclock`: one of the room's
    settings (`setting` is the `mode` frame's field)."""

    setting: str
    value: bool | int


@dataclass(slots=True, frozen=True)
class ShowCode:
    """`/code [new]`: the private room's join code (`rotate`: a new one)."""

    rotate: bool = False


@dataclass(slots=True, frozen=True)
class ShowAudit:
    """`/audit [ROOM|server]`: what was done in the room shown, in ROOM, or
    on the whole server."""

    room: str | None = None
    server: bool = False


@dataclass(slots=True, frozen=True)
class DeleteMessage:
    """`/delete`: choose one of the room's recent messages to delete."""


@dataclass(slots=True, frozen=True)
class RaiseHand:
    """`/hand [QUESTION]`: raise your hand (again: change the question)."""

    question: str | None = None


@dataclass(slots=True, frozen=True)
class LowerHand:
    """`/hand down` (your own, `name` None) or staff's `/lower NAME`."""

    name: str | None = None


@dataclass(slots=True, frozen=True)
class NextHand:
    """`/next`: staff take the first raised hand."""


@dataclass(slots=True, frozen=True)
class ListHands:
    """`/hands`: the room's queue in the log (staff)."""


@dataclass(slots=True, frozen=True)
class Announce:
    """`/announce TEXT`: an announcement everyone acknowledges (staff)."""

    text: str


@dataclass(slots=True, frozen=True)
class MarkSeen:
    """`/seen`: say you have read the room's announcements."""


@dataclass(slots=True, frozen=True)
class CommandError:
    """A line that looked like a command but is not one we can run; `message`
    says what to type instead. Nothing is sent."""

    message: str


Command = (
    SendText
    | SendAction
    | SendDirect
    | OpenDirect
    | ChangeNick
    | JoinRoom
    | PartRoom
    | ListRooms
    | SetTopic
    | RegisterName
    | NewPassword
    | ListUsers
    | ClearLog
    | ShowHelp
    | Quit
    | Moderate
    | SetMode
    | ShowCode
    | ShowAudit
    | DeleteMessage
    | RaiseHand
    | LowerHand
    | NextHand
    | ListHands
    | Announce
    | MarkSeen
    | CommandError
)


class Rank(enum.StrEnum):
    """Who a command is for: anyone, a room's staff, its owners, admins.
    Only what is offered (help, the palette) follows it: the server decides."""

    ANYONE = "anyone"
    STAFF = "staff"
    OWNER = "owner"
    ADMIN = "admin"


@dataclass(slots=True, frozen=True)
class CommandSpec:
    name: str
    usage: str
    help: str
    rank: Rank = Rank.ANYONE


TOPIC_CLEAR = "--clear"  # `/topic --clear` clears the topic

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("/help", "/help", "list these commands and keys"),
    CommandSpec("/msg", "/msg NAME TEXT", "a direct message only NAME sees"),
    CommandSpec("/msg", "/msg NAME", "open (or go to) the conversation with NAME"),
    CommandSpec("/me", "/me TEXT", "an action: * ana waves"),
    CommandSpec("/join", "/join ROOM", "enter a room (# optional), creating it if it is new"),
    CommandSpec("/join", "/join ROOM CODE", "enter a private room with its join code"),
    CommandSpec("/part", "/part [ROOM]", "leave this room (or ROOM); in a DM: close it"),
    CommandSpec("/rooms", "/rooms", "a list of every room, to join one"),
    CommandSpec("/topic", "/topic [TEXT]", f"show or set this room's topic ({TOPIC_CLEAR} clears)"),
    CommandSpec("/who", "/who", "who is in this room"),
    CommandSpec("/nick", "/nick NAME", "change your name"),
    CommandSpec("/register", "/register", "make your name an account with a password (F2)"),
    CommandSpec("/password", "/password", "change your account's password (F2)"),
    CommandSpec("/clear", "/clear", "clear this conversation's log (on this screen only)"),
    # Handled by `compose.parse_action_line` (message actions), listed here for /help and Tab.
    CommandSpec("/search", "/search WORDS", "find messages (whole words, depl* a prefix; ctrl+f)"),
    CommandSpec("/paste", "/paste FILE", "send a text file as a code block (4,000 characters)"),
    CommandSpec("/editor", "/editor", "write the message in $EDITOR (ctrl+o)"),
    CommandSpec("/delete", "/delete", "choose a message of yours (staff: anyone's) to delete"),
    CommandSpec("/hand", "/hand [QUESTION]", "raise your hand; /hand down lowers it"),
    CommandSpec("/seen", "/seen", "say you have seen the room's announcements (F3)"),
    CommandSpec("/kick", "/kick NAME [REASON]", "put NAME out of this room", Rank.STAFF),
    CommandSpec(
        "/mute",
        "/mute NAME [DURATION] [REASON]",
        "NAME may not speak here (10m, 1h, 1d…)",
        Rank.STAFF,
    ),
    CommandSpec("/unmute", "/unmute NAME", "lift a mute", Rank.STAFF),
    CommandSpec(
        "/ban",
        "/ban NAME [DURATION] [REASON]",
        "put NAME out of this room and keep them out",
        Rank.STAFF,
    ),
    CommandSpec("/unban", "/unban NAME", "lift a ban from this room", Rank.STAFF),
    CommandSpec("/op", "/op NAME [owner]", "make NAME a moderator (or an owner)", Rank.STAFF),
    CommandSpec("/deop", "/deop NAME", "take NAME's role away", Rank.STAFF),
    CommandSpec("/invite", "/invite NAME", "let NAME into this private room", Rank.STAFF),
    CommandSpec("/moderated", "/moderated on|off", "only staff speak here", Rank.STAFF),
    CommandSpec("/slow", "/slow SECONDS|off", "one message every SECONDS each", Rank.STAFF),
    CommandSpec("/private", "/private on|off", "invitation or join code only", Rank.STAFF),
    CommandSpec("/topiclock", "/topiclock on|off", "only staff set the topic", Rank.STAFF),
    CommandSpec(
        "/announce", "/announce TEXT", "an announcement each member acknowledges", Rank.STAFF
    ),
    CommandSpec("/hands", "/hands", "the raised hands, in the log", Rank.STAFF),
    CommandSpec("/next", "/next", "take the next raised hand (F4)", Rank.STAFF),
    CommandSpec("/lower", "/lower NAME", "lower NAME's hand", Rank.STAFF),
    CommandSpec(
        "/code", "/code [new]", "the join code of this private room (new: another)", Rank.OWNER
    ),
    CommandSpec(
        "/audit", "/audit [ROOM|server]", "what moderators did here (or on the server)", Rank.OWNER
    ),
    CommandSpec(
        "/serverban",
        "/serverban NAME [DURATION] [REASON]",
        "keep NAME out of the whole chat",
        Rank.ADMIN,
    ),
    CommandSpec("/serverunban", "/serverunban NAME", "lift a ban from the whole chat", Rank.ADMIN),
    CommandSpec("/exit", "/exit", "leave the chat (also /quit and ctrl+q)"),
    CommandSpec("/quit", "/quit", "leave the chat"),
)
_BY_NAME = {spec.name: spec for spec in reversed(COMMANDS)}  # the first usage of each wins
_ALIASES = {"/leave": "/part", "/j": "/join", "/query": "/msg", "/?": "/help"}
# Commands whose arguments would be passwords: passwords are typed in a
# masked dialog, so such a line is never kept, shown or sent as it was typed.
SECRET_COMMANDS = frozenset({"/register", "/password"})

KEY_HELP: tuple[tuple[str, str], ...] = (
    ("Enter", "send · ctrl+j new line · Tab complete · ↑/↓ your earlier lines"),
    ("alt+↑ alt+↓", "the conversation above / below (also ctrl+pageup / ctrl+pagedown)"),
    ("alt+1 … alt+9", "the conversation with that number in the sidebar"),
    ("ctrl+n", "the next conversation with unread messages (mentions first)"),
    ("ctrl+k", "quick switcher: type part of a room or a name; #name creates a room"),
    ("PgUp/PgDn", "scroll (PgUp at the top loads older messages) · Esc back to live"),
    ("ctrl+↑", "select a message: ↑/↓ move · r reply · + react · e edit · d delete"),
    ("", "Enter: a reply's original · Esc leaves · a line +:tada: reacts"),
    ("↑", "on an empty box: edit your last message · ctrl+f search · :tada: → 🎉"),
    ("ctrl+p", "command palette (rooms, people, moderation, themes)"),
    ("F3", "say you have seen the room's announcement (when one waits)"),
    ("F4", "staff: take the next raised hand (when hands are up)"),
    ("F1", "this help · ctrl+q quit"),
)

# The headings of /help, by who a command is for.
RANK_HEADINGS = {
    Rank.ANYONE: "Commands:",
    Rank.STAFF: "A room's staff (its moderators, owners, and admins):",
    Rank.OWNER: "A room's owners, and admins:",
    Rank.ADMIN: "Admins of the whole chat:",
}


NOTES = (
    "A line starting with // is sent as text with one slash removed.",
    "DURATION: 10 (minutes), 90s, 10m, 2h, 3d, 1w; left out, until lifted.",
)


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """What `/help` shows: the keys, then every command grouped by who may
    use it (the server checks; a refusal says why), as (heading, rows)."""
    sections = [("Keys:", list(KEY_HELP))]
    for rank, heading in RANK_HEADINGS.items():
        sections.append((heading, [(s.usage, s.help) for s in COMMANDS if s.rank is rank]))
    return sections


def help_lines() -> list[str]:
    """`help_sections()` as lines of text, with the notes."""
    width = max(len(usage) for _, rows in help_sections() for usage, _ in rows)
    lines: list[str] = []
    for heading, rows in help_sections():
        lines.append(heading)
        lines.extend(f"  {usage.ljust(width)}  {what}" for usage, what in rows)
    lines.extend(NOTES)
    return lines


def split_text(text: str, limit: int) -> list[str]:
    """`text` cut into pieces of at most `limit` characters, each ending
    where a line or else a word ends if one does in its second half (that
    line break or space is where one message stops and the next begins),
    else cut where the limit falls. Joined again with what was dropped,
    they are the text."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = window.rfind("\n")
        if cut < limit // 2:
            cut = max(window.rfind(" "), window.rfind("\t"))
        if cut < limit // 2:
            pieces.append(rest[:limit])
            rest = rest[limit:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
    if rest:
        pieces.append(rest)
    return pieces


def room_error(raw: str) -> str | None:
    """Why `raw` (a leading # allowed) cannot be a room name; None if it can."""
    try:
        parse_room(raw.removeprefix(ROOM_MARK))
    except ProtocolError as exc:
        return exc.message
    return None


def _usage(name: str) -> CommandError:
    return CommandError(f"usage: {_BY_NAME[name].usage}")


def _command_word(text: str) -> tuple[str, str]:
    """The command a line starts with (lowercased, aliases resolved) and the rest."""
    word, _, rest = text.partition(" ")
    if "\n" in word:  # "/me\nwaves": the command word ends at the line break too
        word, _, more = word.partition("\n")
        rest = more + (" " + rest if rest else "")
    command = word.lower()
    return _ALIASES.get(command, command), rest


def redact(line: str) -> tuple[str, bool]:
    """A typed line as it may be kept and handled: a command whose argument
    would be a password loses everything after its name (True then says so);
    any other line is returned as it is, with False."""
    text = line.strip("\n\r").lstrip()
    if not text.startswith("/") or text.startswith("//"):
        return line, False
    command, rest = _command_word(text)
    if command not in SECRET_COMMANDS:
        return line, False
    return command, bool(rest.strip())


def keeps_secret(line: str) -> bool:
    """Whether `line` is one of the commands that take passwords: it stays
    out of the input history, whatever follows the command."""
    text = line.strip("\n\r").lstrip()
    return text.startswith("/") and _command_word(text)[0] in SECRET_COMMANDS


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
    command, rest = _command_word(text)
    word = text.partition(" ")[0].partition("\n")[0]
    arg = rest.strip()
    match command:
        case "/help":
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
            if not to:
                return _usage("/msg")
            to = to.removeprefix(DM_MARK)
            return SendDirect(to, body) if body else OpenDirect(to)
        case "/join":
            words = arg.split()
            if not 1 <= len(words) <= 2:
                return CommandError("usage: /join ROOM [CODE]")
            joined = _room_command(words[0], JoinRoom)
            if isinstance(joined, JoinRoom) and len(words) == 2:
                return JoinRoom(joined.room, words[1])
            return joined
        case "/part":
            if not arg:
                return PartRoom(None)
            if len(arg.split()) != 1:
                return _usage("/part")
            return _room_command(arg, PartRoom)
        case "/rooms":
            return ListRooms()
        case "/register":
            # Any argument was dropped by `redact()` before it got here.
            return RegisterName()
        case "/password":
            return NewPassword()
        case "/topic":
            if not arg:
                return SetTopic(None)
            return SetTopic("" if arg == TOPIC_CLEAR else arg)
        case "/delete":
            return DeleteMessage() if not arg else _usage("/delete")
        case "/hand":
            if arg.lower() == "down":
                return LowerHand(None)
            return RaiseHand(arg or None)
        case "/lower":
            if not arg or len(arg.split()) != 1:
                return _usage("/lower")
            return LowerHand(arg.removeprefix(DM_MARK))
        case "/next":
            return NextHand() if not arg else _usage("/next")
        case "/hands":
            return ListHands() if not arg else _usage("/hands")
        case "/seen":
            return MarkSeen() if not arg else _usage("/seen")
        case "/announce":
            return Announce(arg) if arg else _usage("/announce")
        case "/code":
            if arg.lower() not in ("", "new", "rotate"):
                return _usage("/code")
            return ShowCode(rotate=bool(arg))
        case "/audit":
            if len(arg.split()) > 1:
                return _usage("/audit")
            if not arg:
                return ShowAudit()
            if arg.lower() == SERVER_WORD:
                return ShowAudit(server=True)
            why = room_error(arg)
            if why is not None:
                return CommandError(f"{why} (not {arg[:SHOWN_COMMAND]!r})")
            return ShowAudit(arg.removeprefix(ROOM_MARK))
        case "/moderated" | "/private" | "/topiclock":
            if arg.lower() not in SWITCH:
                return _usage(command)
            setting = "topic_lock" if command == "/topiclock" else command[1:]
            return SetMode(setting, SWITCH[arg.lower()])
        case "/slow":
            return _slow(arg)
        case _ if command in MOD_COMMANDS:
            return _moderation(command, arg)
    return CommandError(
        f"unknown command {word[:SHOWN_COMMAND]}; /help lists the commands "
        f"(start a line with // to send it as text)"
    )


SWITCH = {"on": True, "off": False}
SERVER_WORD = "server"  # `/audit server`
OWNER_WORD = "owner"  # `/op NAME owner`

# A moderation command: its action, whether a duration may follow the name,
# and whether the rest of the line is a reason (the server's plain-text
# commands read the same way).
MOD_COMMANDS: dict[str, tuple[ModAction, bool, bool]] = {
    "/kick": (ModAction.KICK, False, True),
    "/mute": (ModAction.MUTE, True, True),
    "/unmute": (ModAction.UNMUTE, False, False),
    "/ban": (ModAction.BAN, True, True),
    "/unban": (ModAction.UNBAN, False, False),
    "/serverban": (ModAction.BAN, True, True),
    "/serverunban": (ModAction.UNBAN, False, False),
    "/op": (ModAction.OP, False, False),
    "/deop": (ModAction.DEOP, False, False),
    "/invite": (ModAction.INVITE, False, False),
}


def _moderation(command: str, arg: str) -> Command:
    action, timed, reasoned = MOD_COMMANDS[command]
    name, _, more = arg.partition(" ")
    more = more.strip()
    if not name:
        return _usage(command)
    minutes: int | None = None
    role: Role | None = None
    if timed and more:
        first, _, after = more.partition(" ")
        try:
            minutes = parse_minutes(first)
        except ValueError as exc:
            return CommandError(f"{exc} (not {first[:SHOWN_COMMAND]!r})")
        if minutes is not None:
            more = after.strip()
    if command == "/op" and more:
        if more.lower() != OWNER_WORD:
            return _usage(command)
        role, more = Role.OWNER, ""
    if more and not reasoned:
        return _usage(command)
    return Moderate(
        action,
        name.removeprefix(DM_MARK),
        minutes=minutes,
        reason=more or None,
        server=command.startswith("/server"),
        role=role,
    )


def _slow(arg: str) -> Command:
    word = arg.lower()
    if word == "off":
        return SetMode("slow", 0)
    digits = word.removesuffix("s")
    if not (digits.isdigit() and digits.isascii() and 1 <= int(digits) <= MAX_SLOW_SECONDS):
        return CommandError(f"usage: /slow SECONDS|off (1 to {MAX_SLOW_SECONDS} seconds)")
    return SetMode("slow", int(digits))


def _room_command(arg: str, make: type[JoinRoom] | type[PartRoom]) -> Command:
    why = room_error(arg)
    if why is not None:
        return CommandError(f"{why} (not {arg[:SHOWN_COMMAND]!r})")
    return make(arg.removeprefix(ROOM_MARK))


# -- completion ---------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Completion:
    """Replace `line[start:end]` with one of `candidates` (in cycling order)."""

    start: int
    end: int
    candidates: tuple[str, ...]


class Arg(enum.Enum):
    """What an argument of a command is, for Tab to complete."""

    NAME = "name"  # someone in the conversation shown
    ROOM = "room"
    DURATION = "duration"  # 10m, 1h, … (`conexion_protocol.durations`)
    HAND = "hand"  # someone whose hand is up
    ROOM_OR_SERVER = "room or server"


ON_OFF = ("on", "off")
SLOW_CHOICES = ("off", "10", "30", "60", "300")

# Each command's arguments, in order; a word past them completes as a name.
ARGUMENTS: dict[str, tuple[Arg | tuple[str, ...], ...]] = {
    "/msg": (Arg.NAME,),
    "/nick": (Arg.NAME,),
    "/join": (Arg.ROOM,),
    "/part": (Arg.ROOM,),
    "/kick": (Arg.NAME,),
    "/mute": (Arg.NAME, Arg.DURATION),
    "/unmute": (Arg.NAME,),
    "/ban": (Arg.NAME, Arg.DURATION),
    "/unban": (Arg.NAME,),
    "/serverban": (Arg.NAME, Arg.DURATION),
    "/serverunban": (Arg.NAME,),
    "/op": (Arg.NAME, (OWNER_WORD,)),
    "/deop": (Arg.NAME,),
    "/invite": (Arg.NAME,),
    "/moderated": (ON_OFF,),
    "/private": (ON_OFF,),
    "/topiclock": (ON_OFF,),
    "/slow": (SLOW_CHOICES,),
    "/code": (("new",),),
    "/audit": (Arg.ROOM_OR_SERVER,),
    "/hand": (("down",),),
    "/lower": (Arg.HAND,),
}


def _matching(prefix: str, candidates: Iterable[str]) -> list[str]:
    key = name_key(prefix)
    return sorted({c for c in candidates if name_key(c).startswith(key)}, key=name_key)


def complete(
    line: str,
    cursor: int,
    names: Iterable[str],
    rooms: Iterable[str] = (),
    hands: Iterable[str] = (),
) -> Completion | None:
    """Candidates for the word that ends at `cursor`: commands for a first
    word starting with `/`; after a command, what its argument is (a name,
    a room as `#room`, a duration, `on`/`off`, a raised hand: `ARGUMENTS`);
    rooms for a word starting with `#`; otherwise user names. None when
    nothing fits.

    Names match case-insensitively; a name completed at the start of a line
    gets ": " (addressing someone), elsewhere a space.
    """
    start = cursor
    while start > 0 and not line[start - 1].isspace():
        start -= 1
    word = line[start:cursor]
    if start == 0 and word.startswith("/"):
        matches = list(
            dict.fromkeys(
                spec.name + " " for spec in COMMANDS if spec.name.startswith(word.lower())
            )
        )
        return Completion(start, cursor, tuple(matches)) if matches else None
    before = line[:start].split()
    command = _ALIASES.get(before[0].lower(), before[0].lower()) if before else ""
    spec = ARGUMENTS.get(command, ())
    kind = spec[len(before) - 1] if command and len(before) - 1 < len(spec) else None
    found: list[str]
    if kind is Arg.ROOM or (kind is None and word.startswith(ROOM_MARK)):
        found = [f"{ROOM_MARK}{r} " for r in _matching(word.removeprefix(ROOM_MARK), rooms)]
    elif kind is Arg.ROOM_OR_SERVER:
        bare = word.removeprefix(ROOM_MARK)
        found = [f"{w} " for w in _matching(bare, [SERVER_WORD]) if not word.startswith("#")]
        found += [f"{ROOM_MARK}{r} " for r in _matching(bare, rooms)]
    elif kind is Arg.DURATION:
        found = [f"{d} " for d in DURATIONS if d.startswith(word.lower())]
    elif isinstance(kind, tuple):
        found = [f"{w} " for w in kind if w.startswith(word.lower())]
    else:
        at = "@" if word.startswith("@") else ""
        pool = hands if kind is Arg.HAND else names
        suffix = ": " if not before else " "
        found = [at + n + suffix for n in _matching(word.lstrip("@"), pool)]
        if not found and kind is Arg.HAND:
            found = [at + n + suffix for n in _matching(word.lstrip("@"), names)]
    return Completion(start, cursor, tuple(found)) if found else None


def command_names() -> Sequence[str]:
    return list(dict.fromkeys(spec.name for spec in COMMANDS))


# -- the quick switcher --------------------------------------------------------------


def fuzzy_score(query: str, text: str) -> int | None:
    """How well `query` matches `text` (higher is better), case-insensitively;
    None when its letters are not all in `text`, in order.

    A prefix beats a word start, which beats a substring, which beats
    letters scattered through the text; shorter texts win ties.
    """
    q, t = name_key(query), name_key(text)
    if not q:
        return 0
    if t.startswith(q):
        return 4000 - len(t)
    boundaries = [0] + [i + 1 for i, ch in enumerate(t) if ch in "-_. "]
    if any(t.startswith(q, b) for b in boundaries):
        return 3000 - len(t)
    at = t.find(q)
    if at >= 0:
        return 2000 - at - len(t)
    gaps, position, first = 0, 0, -1
    for ch in q:
        found = t.find(ch, position)
        if found < 0:
            return None
        if first < 0:
            first = found
        elif found != position:
            gaps += found - position
        position = found + 1
    return 1000 - 10 * gaps - first - len(t)


class Target(enum.StrEnum):
    """What choosing a line of the switcher does."""

    OPEN = "open"  # go to a conversation we have (a room we are in, a DM)
    JOIN = "join"  # enter a room we are not in
    CREATE = "create"  # enter a room nobody has made yet
    MESSAGE = "message"  # open the conversation with someone


@dataclass(slots=True, frozen=True)
class Place:
    """Something the switcher can offer: `name` is what it matches and shows
    (a room without `#`, a person's name); `key` a conversation's key for
    OPEN, else the name to join or message."""

    target: Target
    name: str
    key: str = ""
    detail: str = ""  # "3 unread", "12 here · the topic", …
    room: bool = True  # a room (shown as #name) or a person


_TARGET_ORDER = {Target.OPEN: 0, Target.JOIN: 1, Target.MESSAGE: 2, Target.CREATE: 3}


def switcher_choices(
    query: str,
    conversations: Sequence[Place],
    rooms: Sequence[Place] = (),
    people: Sequence[Place] = (),
) -> list[Place]:
    """The switcher's lines for `query`, best first.

    `#` at the start keeps rooms only, `@` people only. A `#name` that is a
    valid room name and matches no room offers to create it; so does any
    valid room name when nothing at all matches.
    """
    text = query.strip()
    rooms_only = text.startswith(ROOM_MARK)
    people_only = text.startswith(DM_MARK)
    text = text.lstrip(ROOM_MARK + DM_MARK).strip()
    pool = [*conversations, *rooms, *people]
    if rooms_only:
        pool = [p for p in pool if p.room]
    elif people_only:
        pool = [p for p in pool if not p.room]
    scored: list[tuple[int, int, int, Place]] = []
    for index, place in enumerate(pool):
        score = fuzzy_score(text, place.name)
        if score is not None:
            scored.append((-score, _TARGET_ORDER[place.target], index, place))
    scored.sort(key=lambda item: item[:3])
    found = [place for *_, place in scored]
    wanted = room_key(text)
    taken = any(p.room and room_key(p.name) == wanted for p in [*conversations, *rooms])
    creatable = text and not people_only and not taken and room_error(text) is None
    if creatable and (rooms_only or not found):
        found.append(Place(Target.CREATE, text, key=text))
    return found
