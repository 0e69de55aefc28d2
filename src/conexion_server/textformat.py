"""How server frames look to a plain-text (`nc`, `telnet`) user, and how their
lines are parsed. Pure functions: no sockets, no hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from conexion_protocol import (
    DEFAULT_ROOM,
    MAX_SLOW_SECONDS,
    UNSET,
    Deleted,
    DirectMessage,
    Edited,
    Error,
    Found,
    Hand,
    HandNews,
    HandQueue,
    HandState,
    Joined,
    Left,
    Message,
    Mod,
    ModAction,
    Mode,
    Moderation,
    Reacted,
    Registered,
    Renamed,
    Role,
    RoomInfo,
    RoomList,
    SeenCount,
    Shutdown,
    Stored,
    Struct,
    TopicInfo,
    Users,
    Welcome,
    describe_minutes,
    local_hhmm,
    name_key,
    parse_minutes,
    parse_ts,
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
    "* /history [N]    the room's last N messages (20); /history more: the ones before",
    "* /reply NAME TEXT  answer NAME's latest message here",
    "* /edit TEXT      give your latest message here a new text; /delete takes it back",
    "* /react EMOJI [NAME]  react (again: take it back) to NAME's latest message here",
    "* /search WORDS   find messages in your rooms and DMs; /search more: older ones",
    "* /register PASSWORD      make your name yours: others need the password",
    "* /password [OLD NEW]     change your account's password (alone: asks for each)",
    "* /join ROOM CODE          enter a private room with its join code",
    "* /hand [QUESTION]  raise your hand in the current room; /hand down lowers it",
    "* /seen             say you have read the room's latest announcement",
    "* Moderators, in the current room:",
    "*   /kick NAME [REASON]    /mute NAME [DURATION] [REASON]    /unmute NAME",
    "*   /ban NAME [DURATION] [REASON]    /unban NAME    (DURATION: 10m, 2h, 1d, 1w)",
    "*   /op NAME [owner]    /deop NAME    /invite NAME",
    "*   /moderated on|off    /slow SECONDS|off    /private on|off    /topiclock on|off",
    "*   /hands (the queue)    /next (take the next hand)    /lower NAME    /announce TEXT",
    "* Owners and admins: /code [new] (a private room's join code), /audit [ROOM]",
    "* Admins: /serverban NAME [DURATION] [REASON], /serverunban NAME, /audit server",
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
    if msg.deleted:
        return f"[{clock(msg.ts)}] {where}{msg.from_}: (deleted)\n"
    edited = " (edited)" if msg.edited else ""
    if isinstance(msg.reply_from, str):
        text = _lines(f"[{clock(msg.ts)}] {where}{msg.from_} ↪ {msg.reply_from}: ", msg.text)
        return text[:-1] + edited + "\n" + _reactions_line(msg)
    if edited or msg.reactions:
        return render_message(_plain(msg), away=away)[:-1] + edited + "\n" + _reactions_line(msg)
    if msg.announcement:
        return (
            _lines(f"[{clock(msg.ts)}] {where}** announcement from {msg.from_}: ", msg.text)
            + "** (type /seen to say you have read it)\n"
        )
    if msg.action:
        return _lines(f"[{clock(msg.ts)}] {where}* {msg.from_} ", msg.text)
    return _lines(f"[{clock(msg.ts)}] {where}{msg.from_}: ", msg.text)


def _plain(msg: Message) -> Message:
    return msgspec.structs.replace(msg, edited=False, reactions=UNSET)


def _reactions_line(msg: Message) -> str:
    if not isinstance(msg.reactions, list) or not msg.reactions:
        return ""
    shown = "  ".join(f"{r.emoji} {len(r.names)} ({', '.join(r.names)})" for r in msg.reactions)
    return f"{INDENT}{shown}\n"


def render_search(found: Found, *, more: bool = False) -> str:
    """A page of search hits, newest first, each with where it was said."""
    if not found.hits:
        return "* no more messages found\n" if more else f"* nothing found for {found.text!r}\n"
    lines = [f"* {'more ' if more else ''}messages with {found.text!r}, newest first:\n"]
    for hit in found.hits:
        day = hit.ts[:10]
        if isinstance(hit, Message):
            lines.append(_lines(f"  [{day} {clock(hit.ts)}] #{hit.room} {hit.from_}: ", hit.text))
        else:
            lines.append(_lines(f"  [{day} {clock(hit.ts)}] [dm] {hit.from_}: ", hit.text))
    if isinstance(found.next, str):
        lines.append("* /search more for older ones\n")
    return "".join(lines)


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
        case Moderation():
            return render_moderation(frame)
        case HandNews():
            return render_hand(frame)
        case Deleted(room=room, by=by):
            return f"* {by} deleted a message in {room_tag(room)}\n"
        case Edited(room=room, by=by, author=author, text=text):
            whose = "a message" if by == author else f"{author}'s message"
            return _lines(f"* {by} edited {whose}{_elsewhere(room)}: ", text)
        case Reacted(room=room, by=by, author=author, emoji=emoji, on=on):
            whose = "their own message" if by == author else author
            if on:
                return f"* {by} reacted {emoji} to {whose}{_elsewhere(room)}\n"
            return f"* {by} took back {emoji} from {whose}{_elsewhere(room)}\n"
        case HandQueue():
            return render_queue(frame)
        case SeenCount(room=room, seq=seq, seen=seen, of=of):
            return f"* {seen} of {of} in {room_tag(room)} have seen announcement {seq}\n"
        case Users(users=users, room=room):
            return render_users(users, room)
        case Error(message=message):
            return f"! {message}\n"
        case Shutdown(message=message):
            return f"* {message}\n"
    return None


def render_moderation(news: Moderation, *, when: bool = False) -> str:
    """One line for a moderator's action (`when`: with its time, as in an
    audit log)."""
    room = room_tag(news.room) if isinstance(news.room, str) else "this chat"
    name = news.name if isinstance(news.name, str) else ""
    until = ""
    if news.action in (ModAction.MUTE, ModAction.BAN):
        if isinstance(news.until, str):
            until = f" until {clock(news.until)}"
            minutes = _minutes_between(news.ts, news.until)
            if minutes:
                until = f" for {describe_minutes(minutes)} (until {clock(news.until)})"
        else:
            until = " until lifted"
    role = news.role if isinstance(news.role, str) else ""
    match news.action:
        case ModAction.KICK:
            what = f"kicked {name} out of {room}"
        case ModAction.MUTE:
            what = f"muted {name} in {room}{until}"
        case ModAction.UNMUTE:
            what = f"unmuted {name} in {room}"
        case ModAction.BAN:
            what = f"banned {name} from {room}{until}"
        case ModAction.UNBAN:
            what = f"lifted the ban on {name} from {room}"
        case ModAction.OP:
            what = f"made {name} {'an' if role == Role.OWNER else 'a'} {role} of {room}"
        case ModAction.DEOP:
            what = f"took away {name}'s {role} role in {room}"
        case ModAction.INVITE:
            what = f"invited {name} to {room}"
        case ModAction.DELETE:
            what = f"deleted a message by {name} in {room}"
        case ModAction.MODE:
            what = f"changed the settings of {room}: {describe_mode(news)}"
        case _:
            what = f"made a new join code for {room}"
    reason = f" ({news.reason})" if isinstance(news.reason, str) and news.reason else ""
    stamp = f"[{news.ts[:10]} {clock(news.ts)}] " if when else ""
    return _lines(f"* {stamp}", f"{news.by} {what}{reason}")


def render_hand(news: HandNews) -> str:
    room = room_tag(news.room)
    by = news.by if isinstance(news.by, str) else ""
    if news.state is HandState.UP:
        place = f" (number {news.position} in line)" if isinstance(news.position, int) else ""
        return f"* your hand is up in {room}{place}\n"
    if news.state is HandState.TURN:
        return f"* your turn in {room}: {by} is taking your question\n"
    return f"* {by} lowered your hand in {room}\n" if by else f"* your hand is down in {room}\n"


def render_queue(queue: HandQueue) -> str:
    room = room_tag(queue.room)
    if not queue.queue:
        return f"* no hands up in {room}\n"
    parts = [f"* {len(queue.queue)} hand{'s' if len(queue.queue) != 1 else ''} up in {room}:\n"]
    for i, hand in enumerate(queue.queue, 1):
        question = f": {hand.question}" if isinstance(hand.question, str) else ""
        parts.append(_lines(f"*   {i}. ", f"{hand.name} (since {clock(hand.ts)}){question}"))
    return "".join(parts)


def describe_mode(news: Moderation) -> str:
    mode = news.mode
    if isinstance(mode, Struct) and hasattr(mode, "moderated"):
        parts = []
        if mode.moderated:
            parts.append("moderated (only moderators speak)")
        if mode.slow:
            parts.append(f"slow mode (a message every {mode.slow} s)")
        if mode.private:
            parts.append("private (invitation or join code)")
        if mode.topic_lock:
            parts.append("topic locked")
        if parts:
            return ", ".join(parts)
    return "open to all, no slow mode"


def _minutes_between(start: str, end: str) -> int | None:
    a, b = parse_ts(start), parse_ts(end)
    if a is None or b is None:
        return None
    return round((b - a) / 60) or None


def render_history(messages: Iterable[Stored], room: str, me: str, *, more: bool) -> str:
    shown = list(messages)
    tag = room_tag(room)
    if not shown:
        return f"* no {'older ' if more else ''}messages in {tag}\n"
    parts = [f"* --- {'older ' if more else ''}messages in {tag} ---\n", *_recap(shown, me)]
    parts.append("* --- end; /history more for older ones ---\n")
    return "".join(parts)


def render_audit(entries: Iterable[Moderation], room: str | None) -> str:
    where = room_tag(room) if room else "the whole chat"
    lines = [f"* moderation log of {where}:\n"]
    lines += [render_moderation(entry, when=True) for entry in entries]
    if len(lines) == 1:
        lines.append("*   nothing yet\n")
    return "".join(lines)


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
    # A moderation command's request, its room left to the current one.
    frame: Mod | Mode | Hand | None = None


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
    "kick",
    "mute",
    "unmute",
    "ban",
    "unban",
    "serverban",
    "serverunban",
    "op",
    "deop",
    "invite",
    "moderated",
    "slow",
    "private",
    "topiclock",
    "code",
    "audit",
    "history",
    "hand",
    "hands",
    "next",
    "lower",
    "announce",
    "seen",
    "reply",
    "edit",
    "delete",
    "react",
    "search",
    "help",
)
_SWITCH = {"on": True, "off": False}
# A few reactions by name, for keyboards without emoji.
_SHORTCODES = {
    ":+1:": "👍",
    ":thumbsup:": "👍",
    ":-1:": "👎",
    ":heart:": "❤️",
    ":smile:": "😄",
    ":joy:": "😂",
    ":tada:": "🎉",
    ":eyes:": "👀",
    ":rocket:": "🚀",
    ":fire:": "🔥",
    ":clap:": "👏",
    ":pray:": "🙏",
    ":thinking:": "🤔",
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":100:": "💯",
    ":wave:": "👋",
}


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
        if not rest:
            raise ValueError("usage: /nick NAME")
        if " " in rest:
            raise ValueError(f"a name cannot hold spaces ({rest!r}); try {rest.replace(' ', '_')}")
        return Command("nick", rest)
    if word == "msg":
        target, _, text = rest.partition(" ")
        if not target or not text.strip():
            raise ValueError("usage: /msg NAME TEXT")
        return Command("msg", text, target)
    if word == "join":
        room, _, code = rest.partition(" ")
        if not room or " " in code.strip():
            raise ValueError("usage: /join ROOM [CODE]")
        return Command("join", code.strip(), _room_word(room))
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
    if word in _MOD_WORDS:
        return _moderation(word, rest)
    if word in ("moderated", "private", "topiclock"):
        if rest.lower() not in _SWITCH:
            raise ValueError(f"usage: /{word} on|off")
        setting = "topic_lock" if word == "topiclock" else word
        return Command("mode", frame=Mode(**{setting: _SWITCH[rest.lower()]}))
    if word == "slow":
        seconds = 0 if rest.lower() == "off" else _seconds(rest)
        return Command("mode", frame=Mode(slow=seconds))
    if word == "code":
        if rest.lower() not in ("", "rotate", "new"):
            raise ValueError("usage: /code [new]")
        return Command("code", "rotate" if rest else "")
    if word == "history":
        if rest.lower() == "more":
            return Command("history", "more")
        if rest and not (rest.isdigit() and rest.isascii() and 1 <= int(rest) <= 200):
            raise ValueError("usage: /history [N] (1 to 200), or /history more")
        return Command("history", rest)
    if word == "hand":
        if rest.lower() == "down":
            return Command("hand", frame=Hand(down=True))
        return Command("hand", frame=Hand(question=rest) if rest else Hand())
    if word in ("hands", "next", "seen"):
        if rest:
            raise ValueError(f"usage: /{word}")
        return Command("hand", frame=Hand(next=True)) if word == "next" else Command(word)
    if word == "lower":
        if not rest or " " in rest:
            raise ValueError("usage: /lower NAME")
        return Command("hand", frame=Hand(name=rest, down=True))
    if word == "announce":
        if not rest:
            raise ValueError("usage: /announce TEXT")
        return Command("announce", rest)
    if word == "audit":
        if " " in rest:
            raise ValueError("usage: /audit [ROOM|server]")
        return Command("audit", target=_room_word(rest))
    if word == "reply":
        name, _, text = rest.partition(" ")
        if not name or not text.strip():
            raise ValueError("usage: /reply NAME TEXT (answers NAME's latest message here)")
        return Command("reply", text.strip(), name)
    if word == "edit":
        if not rest:
            raise ValueError("usage: /edit TEXT (the new text of your latest message here)")
        return Command("edit", rest)
    if word == "delete":
        if " " in rest:
            raise ValueError("usage: /delete [NAME] (your latest message here, or NAME's)")
        return Command("delete", target=rest)
    if word == "react":
        emoji, _, name = rest.partition(" ")
        if not emoji or " " in name.strip():
            raise ValueError("usage: /react EMOJI [NAME] (on NAME's latest message here)")
        return Command("react", _SHORTCODES.get(emoji.lower(), emoji), name.strip())
    if word == "search":
        if not rest:
            raise ValueError("usage: /search WORDS, then /search more for older ones")
        return Command("search", rest)
    raise ValueError(f"unknown command /{word}; type /help for the list")


# A moderation command: the action, whether a duration may follow the name,
# and whether the rest of the line is a reason.
_MOD_WORDS: dict[str, tuple[ModAction, bool, bool]] = {
    "kick": (ModAction.KICK, False, True),
    "mute": (ModAction.MUTE, True, True),
    "unmute": (ModAction.UNMUTE, False, False),
    "ban": (ModAction.BAN, True, True),
    "unban": (ModAction.UNBAN, False, False),
    "serverban": (ModAction.BAN, True, True),
    "serverunban": (ModAction.UNBAN, False, False),
    "op": (ModAction.OP, False, False),
    "deop": (ModAction.DEOP, False, False),
    "invite": (ModAction.INVITE, False, False),
}


def _moderation(word: str, rest: str) -> Command:
    action, timed, reasoned = _MOD_WORDS[word]
    name, _, more = rest.partition(" ")
    more = more.strip()
    usage = f"usage: /{word} NAME" + (" [DURATION]" if timed else "")
    usage += " [REASON]" if reasoned else " [owner]" if word == "op" else ""
    if not name:
        raise ValueError(usage)
    frame = Mod(action=action, name=name, server=word.startswith("server"))
    if timed and more:
        first, _, after = more.partition(" ")
        minutes = parse_minutes(first)
        if minutes is not None:
            frame.minutes, more = minutes, after.strip()
    if word == "op" and more:
        if more.lower() != "owner":
            raise ValueError(usage)
        frame.role, more = Role.OWNER, ""
    if more and not reasoned:
        raise ValueError(usage)
    if more:
        frame.reason = more
    return Command("mod", frame=frame)


def _seconds(word: str) -> int:
    text = word.lower().removesuffix("s")
    if not text.isdigit() or not text.isascii() or not 1 <= int(text) <= MAX_SLOW_SECONDS:
        raise ValueError(f"usage: /slow SECONDS|off (1 to {MAX_SLOW_SECONDS})")
    return int(text)
