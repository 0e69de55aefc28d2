"""IRC's wire form: parsing a client's line, and every line an IRC client
is sent, broadcasts and numerics alike (RFC 1459 / 2812 as servers practise
them, with IRCv3 tags). Pure functions; the IRC session (`ircmode`) decides
what to say, this module how it is spelled.

A Conexion name is a valid IRC nick as it is (letters of one script,
digits, `_`, `-`, `.`); a room `lab` is the channel `#lab`. Every user's
prefix is `nick!nick@conexion`: the chat knows no user names or hosts, and
an address is nobody else's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conexion_protocol import (
    DirectMessage,
    Edited,
    Error,
    Joined,
    Left,
    LeftReason,
    Message,
    ModAction,
    Moderation,
    Reacted,
    Renamed,
    Shutdown,
    Struct,
    TopicInfo,
)

from . import textformat

SERVER = "conexion"
HOST = "conexion"
MAX_LINE = 512  # bytes of a line without its tags, CRLF included
NICKLEN = 24
CHANNELLEN = 33  # `#` and a room name of at most 32


@dataclass(slots=True)
class IrcLine:
    """One line from a client: its tags, command (upper case) and parameters
    (the trailing one included, without its colon)."""

    command: str
    params: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


def parse_line(line: str) -> IrcLine | None:
    """A client's line; None for an empty one. The source prefix a client
    may send is ignored (the server knows who it is)."""
    line = line.rstrip("\r\n")
    tags: dict[str, str] = {}
    if line.startswith("@"):
        raw, _, line = line.partition(" ")
        for item in raw[1:].split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = value
    line = line.lstrip(" ")
    if line.startswith(":"):
        _, _, line = line.partition(" ")
    head, sep, trailing = line.partition(" :")
    words = head.split()
    if not words:
        return None
    params = words[1:]
    if sep:
        params.append(trailing)
    return IrcLine(words[0].upper(), params, tags)


def channel(room: str) -> str:
    return f"#{room}"


def room_of(target: str) -> str | None:
    """The room a channel names; None when `target` is no channel."""
    return target[1:] if target.startswith("#") and len(target) > 1 else None


def prefix(name: str) -> str:
    return f"{name}!{name}@{HOST}"


# Commands whose last parameter is a text: always sent as a trailing one,
# as clients and servers write them.
_TEXT_LAST = frozenset({"KICK", "TOPIC", "QUIT", "PART", "PRIVMSG", "NOTICE"})


def line(source: str, command: str, *params: str) -> bytes:
    """One line, the last parameter made trailing when it needs to be."""
    parts = [f":{source}", command]
    text_last = command in _TEXT_LAST and (len(params) > 1 or command == "QUIT")
    for i, param in enumerate(params):
        last = i == len(params) - 1
        if last and (text_last or not param or " " in param or param.startswith(":")):
            parts.append(":" + param)
        else:
            parts.append(param)
    return (" ".join(parts) + "\r\n").encode()


def numeric(code: str, nick: str, *params: str, server: str = SERVER) -> bytes:
    return line(server, code, nick or "*", *params)


def _chunks(text: str, budget: int) -> list[str]:
    """`text` cut so that each piece fits `budget` bytes of UTF-8, at
    character boundaries (at a space when there is one near the end)."""
    pieces: list[str] = []
    while len(text.encode()) > budget:
        cut = len(text.encode()[:budget].decode(errors="ignore"))
        space = text.rfind(" ", max(1, cut - 40), cut)
        cut = space + 1 if space > 0 else cut
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def messages(source: str, command: str, target: str, text: str, *, action: bool = False) -> bytes:
    """A text as PRIVMSG (or NOTICE) lines: one per line of the text, each
    cut to fit the 512 bytes of a line. A blank line becomes one space (IRC
    has no empty message); an action is CTCP ACTION."""
    head = len(f":{source} {command} {target} :".encode()) + 2
    wrap = 11 if action else 0  # \x01ACTION ... \x01
    out = []
    for text_line in text.split("\n"):
        for piece in _chunks(text_line.replace("\r", "") or " ", MAX_LINE - head - wrap):
            body = f"\x01ACTION {piece}\x01" if action else piece
            out.append(f":{source} {command} {target} :{body}\r\n".encode())
    return b"".join(out)


def notice(target: str, text: str, source: str = SERVER) -> bytes:
    """A server notice (a plain-text user's `* ...` line), one per line."""
    return messages(source, "NOTICE", target, text.rstrip("\n"))


_QUIT_WORDS = {
    LeftReason.QUIT: "Quit",
    LeftReason.LOST: "Connection lost",
    LeftReason.TIMEOUT: "Ping timeout",
    LeftReason.SLOW: "Too slow to read",
    LeftReason.ERROR: "Protocol error",
    LeftReason.BANNED: "Banned",
}


def render(frame: Struct) -> bytes:
    """What an IRC client sees of a broadcast (empty: nothing)."""
    match frame:
        case Message(deleted=True):
            return b""
        case Message(from_=sender, room=room, text=text, action=action):
            if frame.announcement:
                text = f"[announcement] {text}"
            if isinstance(frame.reply_from, str):
                text = f"↪ {frame.reply_from}: {text}"
            return messages(prefix(sender), "PRIVMSG", channel(room), text, action=action)
        case DirectMessage(from_=sender, to=to, text=text):
            return messages(prefix(sender), "PRIVMSG", to, text)
        case Joined(name=name, room=room):
            return line(prefix(name), "JOIN", channel(room if isinstance(room, str) else "general"))
        case Left(name=name, room=room, reason=reason):
            where = channel(room if isinstance(room, str) else "general")
            if reason == LeftReason.PART:
                return line(prefix(name), "PART", where)
            if reason == LeftReason.KICKED:
                return b""  # the KICK line said it
            return line(prefix(name), "QUIT", _QUIT_WORDS.get(LeftReason(reason), reason))
        case Renamed(old=old, new=new):
            return line(prefix(old), "NICK", new)
        case TopicInfo(room=room, topic=topic, by=by) if isinstance(by, str):
            return line(prefix(by), "TOPIC", channel(room), topic)
        case Moderation(action=ModAction.KICK, room=str(room), name=str(name), by=by):
            reason = frame.reason if isinstance(frame.reason, str) else by
            return line(prefix(by), "KICK", channel(room), name, reason)
        case Moderation(room=str(room), by=by):
            return notice(channel(room), textformat.render_moderation(frame), prefix(by))
        case Edited(room=room, by=by) | Reacted(room=room, by=by):
            rendered = textformat.render(frame)
            return notice(channel(room), rendered, prefix(by)) if rendered else b""
        case Shutdown(message=text):
            return f"ERROR :{text}\r\n".encode()
        case Error(message=text):
            return notice("*", text)
    rendered = textformat.render(frame)
    return notice("*", rendered) if rendered else b""


def tagged(lines: bytes, ts: str | None) -> bytes:
    """`lines` with the IRCv3 `time` tag (server-time) on each."""
    if not ts or not lines:
        return lines
    tag = f"@time={ts} ".encode()
    return b"".join(tag + one for one in lines.splitlines(keepends=True))


def frame_time(frame: Struct) -> str | None:
    ts = getattr(frame, "ts", None)
    return ts if isinstance(ts, str) else None
