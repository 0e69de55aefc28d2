"""How server frames look to a plain-text (`nc`, `telnet`) user, and how their
lines are parsed. Pure functions: no sockets, no hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from conexion_protocol import (
    DEFAULT_ROOM,
    DirectMessage,
    Error,
    Joined,
    Left,
    Message,
    Registered,
    Renamed,
    RoomInfo,
    RoomList,
    Shutdown,
    Stored,
    Struct,
    TopicInfo,
    Users,
    Welcome,
    local_hhmm,
    name_key,
)

HELP_LINES = (
    "* Type a line and press Enter to send it to your current room.",
    "* /me TEXT        an action: * ana waves",
    "* /msg NAME TEXT  a direct message only NAME sees",
    "* /nick NAME      change your name",
    "* /join ROOM      enter a room (created if new) and talk there",
    "* /part [ROOM]    leave a room (the current one if none is named)",
    "* /rooms          every room, with how many are in it",
    "* /topic [TEXT]   show, or set, the current room's topic",
    "* /who [ROOM]     who is in the current room (or ROOM)",
    "* /register PASSWORD      make your name yours: others need the password",
    "* /password [OLD NEW]     change your account's password (alone: asks for each)",
    "* /help           this list",
    "* /exit           leave the chat",
    "* A line starting with // is sent as text with one slash removed.",
)
INDENT = "    "


def clock(ts: str) -> str:
    """`HH:MM` in the server's local time for an RFC 3339 UTC timestamp."""
    return local_hhmm(ts)


def room_tag(room: str) -> str:
    return f"#{room}"


def _elsewhere(room: str | object) -> str:
    """ " #room" for a notice about a room other than `general`, else ""."""
    if isinstance(room, str) and name_key(room) != DEFAULT_ROOM:
        return f" {room_tag(room)}"
    return ""


def _lines(first: str, text: str) -> str:
    """A multi-line text as one line each, the continuation lines indented."""
    if "\n" not in text:
        return first + text + "\n"
    head, *rest = text.split("\n")
    return first + head + "\n" + "".join(INDENT + line + "\n" for line in rest)


def render_message(msg: Message, *, away: bool = False) -> str:
    """A room message; `away` (the reader's current room is another) names
    the room."""
    where = f"{room_tag(msg.room)} " if away else ""
    if msg.action:
        return _lines(f"[{clock(msg.ts)}] {where}* {msg.from_} ", msg.text)
    return _lines(f"[{clock(msg.ts)}] {where}{msg.from_}: ", msg.text)


def render_users(users: list[str], room: str = DEFAULT_ROOM, count: int | None = None) -> str:
    total = len(users) if count is None else count
    more = (
        f" (and {total - len(users)} more; /who {room_tag(room)} lists all)"
        if total > len(users)
        else ""
    )
    if name_key(room) == DEFAULT_ROOM:
        return f"* {total} online: {', '.join(users)}{more}\n"
    return f"* {total} in {room_tag(room)}: {', '.join(users)}{more}\n"


def render_topic(info: TopicInfo) -> str:
    """A topic asked for (no `by`: never set, or set long ago)."""
    room = room_tag(info.room)
    if not info.topic:
        return f"* no topic is set in {room}; /topic TEXT sets one\n"
    setter = f" (set by {info.by} at {clock(info.ts)})" if isinstance(info.by, str) else ""
    if isinstance(info.by, str) and not isinstance(info.ts, str):
        setter = f" (set by {info.by})"
    return f"* topic of {room}: {info.topic}{setter}\n"


def _topic_news(info: TopicInfo) -> str:
    where = _elsewhere(info.room)
    of = f" of{where}" if where else ""
    if not info.topic:
        return f"* {info.by} cleared the topic{of}\n"
    return f"* {info.by} set the topic{of}: {info.topic}\n"


def render(frame: Struct) -> str | None:
    """The text a plain-text user sees for a broadcast frame, or None."""
    match frame:
        case Message():
            return render_message(frame)
        case DirectMessage(from_=sender, text=text, ts=ts):
            return _lines(f"[{clock(ts)}] [dm] {sender}: ", text)
        case Joined(name=name, room=room):
            return f"* {name} joined{_elsewhere(room)}\n"
        case Left(name=name, reason=reason, room=room):
            return f"* {name} left{_elsewhere(room)} ({reason})\n"
        case Renamed(old=old, new=new):
            return f"* {old} is now {new}\n"
        case Registered(name=name, changed=changed):
            if changed:
                return "* your password is changed\n"
            return f"* the name {name} is registered to you; log in with its password next time\n"
        case TopicInfo():
            return _topic_news(frame) if isinstance(frame.by, str) else render_topic(frame)
        case Users(users=users, room=room):
            return render_users(users, room)
        case Error(message=message):
            return f"! {message}\n"
        case Shutdown(message=message):
            return f"* {message}\n"
    return None


def _recap(history: Iterable[Stored], me: str) -> list[str]:
    parts = []
    mine = name_key(me)
    for m in history:
        if isinstance(m, Message):
            parts.append(render_message(m))
        elif name_key(m.from_) == mine:
            parts.append(_lines(f"[{clock(m.ts)}] [dm to {m.to}] {m.from_}: ", m.text))
        else:
            parts.append(_lines(f"[{clock(m.ts)}] [dm] {m.from_}: ", m.text))
    return parts


def render_welcome(welcome: Welcome, recap: int) -> str:
    """The welcome, with the last `recap` of its history."""
    parts = [f"* Welcome, {welcome.name}. Type /help for commands.\n"]
    if welcome.temporary_password:
        parts.append("* your password was made for you: choose your own with /password\n")
    if welcome.motd:
        parts.append(_lines("* ", welcome.motd))
    shown = welcome.history[-recap:] if recap > 0 else []
    if shown:
        parts.append("* --- recent messages ---\n")
        parts += _recap(shown, welcome.name)
        parts.append("* --- end of recent messages ---\n")
    count = welcome.user_count if isinstance(welcome.user_count, int) else None
    parts.append(render_users(welcome.users, DEFAULT_ROOM, count))
    return "".join(parts)


def render_room(info: RoomInfo, me: str, recap: int, *, entered: bool) -> str:
    """What a text user sees on `/join`: as IRC shows it, the topic, a short
    recap and who is there; only a line when it was in the room already."""
    room = room_tag(info.room)
    if not entered:
        return f"* now talking in {room}\n"
    made = " (created it)" if info.created else ""
    parts = [f"* you are now in {room}{made}\n"]
    topic = TopicInfo(
        room=info.room, topic=info.topic, by=info.topic_by, ts=info.topic_ts
    )  # the same line as /topic
    parts.append(render_topic(topic))
    shown = info.history[-recap:] if recap > 0 else []
    if shown:
        parts.append(f"* --- recent messages in {room} ---\n")
        parts += _recap(shown, me)
        parts.append("* --- end of recent messages ---\n")
    parts.append(render_users(info.users, info.room, info.user_count))
    return "".join(parts)


def render_room_list(rooms: RoomList) -> str:
    count = len(rooms.rooms)
    parts = [f"* {count} room{'s' if count != 1 else ''}:\n"]
    for r in rooms.rooms:
        topic = f": {r.topic}" if r.topic else ""
        parts.append(f"*   {room_tag(r.room)} ({r.members}){topic}\n")
    return "".join(parts)


@dataclass(slots=True, frozen=True)
class Command:
    """A parsed plain-text line: `name` is "say" for ordinary text."""

    name: str
    arg: str = ""
    target: str = ""


COMMANDS = (
    "exit",
    "nick",
    "msg",
    "me",
    "join",
    "part",
    "rooms",
    "topic",
    "who",
    "register",
    "password",
    "help",
)


def _room_word(word: str) -> str:
    """A room as people type it: `#lab` or `lab`."""
    return word[1:] if word.startswith("#") else word


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
    if word in ("help", "rooms"):
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
    if word == "join":
        if not rest or " " in rest:
            raise ValueError("usage: /join ROOM")
        return Command("join", target=_room_word(rest))
    if word in ("part", "who"):
        if " " in rest:
            raise ValueError(f"usage: /{word} [ROOM]")
        return Command(word, target=_room_word(rest))
    if word == "topic":
        return Command("topic", rest)
    if word == "register":
        if not rest:
            raise ValueError("usage: /register PASSWORD")
        return Command("register", rest)
    if word == "password":
        if not rest:
            return Command("password")  # asked for line by line
        old, _, new = rest.partition(" ")
        if not old or not new or " " in new:
            raise ValueError("usage: /password OLD NEW, or /password alone to be asked")
        return Command("password", new, old)
    raise ValueError(f"unknown command /{word}; type /help for the list")
