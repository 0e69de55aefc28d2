"""Every word the chat screen says about moderation and the classroom tools: a moderator's
action, a hand, an announcement's count, an audit entry, and the notices above the message box.
Plain strings from frames and standings (names and reasons stay text, never markup); no Textual.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conexion_protocol import (
    HandNews,
    HandState,
    ModAction,
    Moderation,
    RaisedHand,
    Role,
    RoomMode,
    describe_minutes,
    parse_ts,
)

from .clock import Clock
from .standing import Sanction, Standing

SERVER_WIDE = "this chat"  # what a ban from the whole server is a ban from
SEEN_KEY = "F3"  # the one key that says an announcement was read
NEXT_KEY = "F4"  # staff: take the next raised hand


def _room(room: object) -> str:
    return f"#{room}" if isinstance(room, str) else SERVER_WIDE


def _minutes_between(start: str, end: str) -> int | None:
    a, b = parse_ts(start), parse_ts(end)
    if a is None or b is None or b <= a:
        return None
    return max(1, round((b - a) / 60))


def until_words(news: Moderation, clock: Clock) -> str:
    """How long a mute or ban lasts: `for 10 minutes (until 10:40)`, or
    `until a moderator lifts it`."""
    if not isinstance(news.until, str):
        return "until a moderator lifts it"
    minutes = _minutes_between(news.ts, news.until)
    until = clock.moment(news.until)
    return f"for {describe_minutes(minutes)} (until {until})" if minutes else f"until {until}"


def mode_words(mode: RoomMode) -> str:
    """A room's settings in words; `all settings are off` when none is on."""
    parts = []
    if mode.moderated:
        parts.append("moderated (only moderators speak)")
    if mode.slow:
        parts.append(f"slow mode (one message every {mode.slow} s)")
    if mode.private:
        parts.append("private (invitation or join code)")
    if mode.topic_lock:
        parts.append("topic locked (only moderators set it)")
    return ", ".join(parts) if parts else "all settings are off"


def moderation_line(news: Moderation, is_me: Callable[[str], bool], clock: Clock) -> str:
    """One sentence for a moderator's action, `you` for ourselves:
    `Teacher muted bob in #lab for 10 minutes (until 10:40) (talking over others)`."""
    by = "you" if is_me(news.by) else news.by
    name = news.name if isinstance(news.name, str) else ""
    who = "you" if name and is_me(name) else name
    room = _room(news.room)
    role = news.role if isinstance(news.role, str) else Role.MODERATOR
    match news.action:
        case ModAction.KICK:
            what = f"kicked {who} out of {room}"
        case ModAction.MUTE:
            what = f"muted {who} in {room} {until_words(news, clock)}"
        case ModAction.UNMUTE:
            what = f"unmuted {who} in {room}"
        case ModAction.BAN:
            what = f"banned {who} from {room} {until_words(news, clock)}"
        case ModAction.UNBAN:
            what = f"lifted the ban on {who} from {room}"
        case ModAction.OP:
            article = "an" if role == Role.OWNER or role == Role.ADMIN else "a"
            what = f"made {who} {article} {role} of {room}"
        case ModAction.DEOP:
            whose = "your" if who == "you" else f"{who}'s"
            what = f"took away {whose} {role} role in {room}"
        case ModAction.INVITE:
            what = f"invited {who} to {room}"
            if who == "you" and isinstance(news.room, str):
                what += f"; /join {news.room} enters it"
        case ModAction.DELETE:
            what = f"deleted a message by {who} in {room}"
        case ModAction.MODE:
            mode = news.mode if isinstance(news.mode, RoomMode) else RoomMode()
            what = f"changed the settings of {room}: {mode_words(mode)}"
        case _:
            what = f"made a new join code for {room}"
    reason = f" ({news.reason})" if isinstance(news.reason, str) and news.reason else ""
    return f"{by} {what}{reason}"


def audit_line(news: Moderation, is_me: Callable[[str], bool], clock: Clock) -> str:
    """An audit entry: its date and time, then what was done."""
    epoch = parse_ts(news.ts)
    day = time.strftime("%Y-%m-%d", time.localtime(epoch)) if epoch is not None else news.ts[:10]
    return f"{day} {clock.hhmm(news.ts)}  {moderation_line(news, is_me, clock)}"


def hand_line(news: HandNews) -> str:
    """Where our own hand is, as the server tells us."""
    room = _room(news.room)
    by = news.by if isinstance(news.by, str) else ""
    match news.state:
        case HandState.UP:
            place = f": number {news.position} in line" if isinstance(news.position, int) else ""
            return f"your hand is up in {room}{place}"
        case HandState.TURN:
            return f"your turn in {room}: {by} is taking your question"
    return f"{by} lowered your hand in {room}" if by else f"your hand is down in {room}"


def hand_entry(position: int, hand: RaisedHand, clock: Clock) -> str:
    """One raised hand in a queue: `1. ana (10:31): what does a compiler do?`."""
    question = f": {hand.question}" if isinstance(hand.question, str) and hand.question else ""
    return f"{position}. {hand.name} ({clock.hhmm(hand.ts)}){question}"


def queue_lines(room: str, queue: Sequence[RaisedHand], clock: Clock) -> list[str]:
    """The whole queue, for `/hands` in the log."""
    if not queue:
        return [f"no hands up in #{room}"]
    count = len(queue)
    head = f"{count} hand{'s' if count != 1 else ''} up in #{room}:"
    return [head, *(hand_entry(i, hand, clock) for i, hand in enumerate(queue, 1))]


def seen_words(seen: int, of: int) -> str:
    return f"{seen} of {of} have seen this"


def time_left(seconds: float) -> str:
    """`45 s left`, `10 min left`, `2 h 5 min left`, `3 days left`."""
    if math.ceil(seconds) < 60:
        return f"{max(1, math.ceil(seconds))} s left"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min left"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min left" if rest else f"{hours} h left"
    return f"{math.ceil(minutes / (24 * 60))} days left"


def mute_words(label: str, mute: Sanction, now: float, clock: Clock, *, advice: bool = True) -> str:
    """A mute on us: who, until when, how long is left, why; with `advice`,
    what becomes of what is typed (the log's line; the notice leaves it to
    the message box)."""
    if not mute.by:
        said = readable_times(mute.said, clock) if mute.said else f"you are muted in {label}"
        return said[:1].upper() + said[1:]
    text = f"You are muted in {label} by {mute.by}"
    if mute.until is None:
        text += " until a moderator lifts it"
    else:
        text += f" until {clock.moment(mute.until)} ({time_left(mute.until - now)})"
    if mute.reason:
        text += f": {mute.reason}"
    return text + (
        ". What you type there stays in the box, unsent; commands still work." if advice else "."
    )


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def readable_times(text: str, clock: Clock) -> str:
    """A server's words with its RFC 3339 timestamps (`until
    2026-12-01T13:57:31.893Z`) as a person reads them (`until 13:57`, with
    the day when it is not today), in local time."""
    return _TIMESTAMP.sub(lambda match: clock.moment(match.group()), text)


def sentence(text: str) -> str:
    """A server's reason as a sentence: a capital first, a full stop last."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


@dataclass(slots=True, frozen=True)
class PutOut:
    """Why we are out of a room or of the chat, in words: a title, the
    lines of the dialog that explains it, and a short reason for the room's
    mark in the sidebar."""

    title: str
    lines: tuple[str, ...]
    brief: str
    server: bool = False


def _until_line(news: Moderation, now: float, clock: Clock) -> str:
    until = parse_ts(news.until) if isinstance(news.until, str) else None
    if until is None:
        return "Until a moderator lifts it."
    return f"Until {clock.moment(until)} ({time_left(until - now)})."


def put_out(
    label: str,
    reason: str,
    news: Moderation | None,
    *,
    now: float,
    clock: Clock,
) -> PutOut:
    """We were kicked (`reason` kicked) or banned from the room `label`;
    `news` is the moderator's action, when it came first."""
    banned = reason == "banned"
    why = news.reason if news is not None and isinstance(news.reason, str) else ""
    by = news.by if news is not None else ""
    room = label.removeprefix("#")
    if banned:
        title = f"Banned from {label}"
        first = f"{by} banned you from {label}." if by else f"You were banned from {label}."
        lines = [first]
        if why:
            lines.append(f"Reason: {why}")
        if news is not None:
            lines.append(_until_line(news, now, clock))
        lines.append(
            f"Its log stays here (/part closes it); /join {room} is refused while the ban lasts."
        )
        brief = f"banned by {by}" if by else "banned"
    else:
        title = f"Kicked out of {label}"
        first = f"{by} kicked you out of {label}." if by else f"You were put out of {label}."
        lines = [first]
        if why:
            lines.append(f"Reason: {why}")
        lines.append(f"Its log stays here. You may come back: /join {room}.")
        brief = f"kicked out by {by}" if by else "kicked out"
    if why:
        brief += f": {why}"
    return PutOut(title, tuple(lines), brief)


def banned_from_chat(news: Moderation | None, said: str, *, now: float, clock: Clock) -> PutOut:
    """We are banned from the whole chat: from the news of it, or (when the
    news did not reach us) from the server's refusal of our reconnect."""
    lines: list[str]
    if news is not None:
        lines = [f"{news.by} banned you from this chat."]
        if isinstance(news.reason, str) and news.reason:
            lines.append(f"Reason: {news.reason}")
        lines.append(_until_line(news, now, clock))
    else:
        lines = [
            sentence(readable_times(said, clock)) if said else "You are banned from this chat."
        ]
    lines.append("This client will not reconnect. Quit, or stay to read what is here.")
    return PutOut("Banned from this chat", tuple(lines), "banned from this chat", server=True)


@dataclass(slots=True, frozen=True)
class Notice:
    """One line above the message box; `kind` picks its colours."""

    kind: str  # muted, moderated, slow, mode, hand, turn, announcement, hands
    text: str


def standing_notices(
    label: str,
    standing: Standing,
    *,
    now: float,
    clock: Clock,
    slow_wait: float = 0.0,
    waiting: int = 0,
    unseen_from: str | None = None,
    show_queue: bool = False,
) -> list[Notice]:
    """What the box above the message input says about the room shown:
    a mute, the settings that hold us back, our hand, an announcement to
    acknowledge, and (for staff whose hands panel is hidden) the queue."""
    notices: list[Notice] = []
    mute = standing.muted(now)
    if mute is not None:
        notices.append(Notice("muted", mute_words(label, mute, now, clock, advice=False)))
    mode = standing.mode
    if not standing.staff:
        if mode.moderated:
            notices.append(Notice("moderated", f"{label} is moderated: only its moderators speak."))
        if mode.slow:
            text = f"{label} is in slow mode: one message every {mode.slow} s"
            if waiting:
                noun = "message waits" if waiting == 1 else "messages wait"
                text += f" · {waiting} {noun}, the next goes in {max(1, math.ceil(slow_wait))} s"
            elif slow_wait > 0:
                text += f" · your next in {max(1, math.ceil(slow_wait))} s"
            notices.append(Notice("slow", text + "."))
    elif mode.moderated or mode.slow:
        role = standing.role or Role.MODERATOR
        held = [p for p, on in (("moderated", mode.moderated), ("slow", mode.slow)) if on]
        notices.append(
            Notice("mode", f"{label} is {' and '.join(held)}: as its {role} you are not held back.")
        )
    if standing.hand is HandState.UP:
        place = f": number {standing.position} in line" if standing.position else ""
        notices.append(Notice("hand", f"Your hand is up{place} · /hand down lowers it"))
    elif standing.hand is HandState.TURN:
        by = standing.turn_by or "a moderator"
        notices.append(Notice("turn", f"Your turn: {by} is taking your question."))
    if unseen_from is not None:
        notices.append(
            Notice(
                "announcement",
                f"Announcement from {unseen_from} · {SEEN_KEY} says you have seen it",
            )
        )
    queue = standing.queue
    if show_queue and standing.staff and queue:
        names = ", ".join(hand.name for hand in queue[:5]) + (" …" if len(queue) > 5 else "")
        notices.append(
            Notice(
                "hands",
                f"Hands up ({len(queue)}): {names} · {NEXT_KEY} or /next takes {queue[0].name}.",
            )
        )
    return notices


__all__ = [
    "NEXT_KEY",
    "SEEN_KEY",
    "Notice",
    "PutOut",
    "audit_line",
    "banned_from_chat",
    "hand_entry",
    "hand_line",
    "mode_words",
    "moderation_line",
    "mute_words",
    "put_out",
    "queue_lines",
    "readable_times",
    "seen_words",
    "sentence",
    "standing_notices",
    "time_left",
    "until_words",
]
