"""The plain-text session, so that `nc` and `telnet` are chat clients: the
first line is a name (then, on a server with a password, the next line is the
password), then every line is a message or a /command. Every word a text user
is told is written here or in `textformat`; no asyncio, no sockets.
"""

from __future__ import annotations

import logging

import msgspec

from conexion_protocol import (
    DEFAULT_ROOM,
    UNSET,
    Ack,
    AuditLog,
    CodeInfo,
    ErrorCode,
    Found,
    Hand,
    HistoryReply,
    LeftReason,
    Message,
    Mod,
    Mode,
    ProtocolError,
    RoomInfo,
    Search,
    Welcome,
    name_key,
    normalize_name,
    normalize_room,
)

from . import refusals, textformat
from .backplane import Backplane, Peer, ignore
from .config import ServerConfig
from .fanout import AWAY, TEXT
from .hub import Outbound, Room
from .store import StoreError

HISTORY_PAGE = 20  # messages a plain /history shows


class TextHandler:
    json = False

    def __init__(self, session: Peer, backplane: Backplane, config: ServerConfig) -> None:
        self.session = session
        self.backplane = backplane
        self.config = config
        # The name waiting for the server's password line; None while asking
        # for a name.
        self.pending_name: str | None = None
        # A registered name waiting for its account's password line.
        self.login_name: str | None = None
        # `/password` alone: the answers so far (the old password), None
        # when not asking.
        self.changing: list[str] | None = None
        # A right password is asked once per connection, even if the name
        # then turns out to be taken.
        self.authenticated = config.password is None
        # Where a plain line goes: a room key, or "" when the user has left
        # every room.
        self.current_room = DEFAULT_ROOM
        self.limited_in_a_row = 0  # lines refused for coming too fast, in a row
        # Per room, the oldest message `/history` showed (for `/history more`).
        self.history_cursor: dict[str, int] = {}
        # The words of the last /search and where its next page starts.
        self.search_next: tuple[str, str] | None = None

    # -- wording --------------------------------------------------------------

    def form(self, room: Room | None) -> str:
        # A message names its room for a reader whose current room is another.
        return TEXT if room is None or room.key == self.current_room else AWAY

    def wire(self, out: Outbound) -> bytes:
        return out.text

    def render_error(self, error: ProtocolError) -> bytes:
        return f"! {error.message}\n".encode()

    def too_long(self) -> bytes:
        return f"! that line is longer than {self.config.max_frame} bytes; closing\n".encode()

    def timed_out(self) -> bytes:
        return b"! no name given in time; bye\n"

    def welcome(self, welcome: Welcome) -> None:
        self.say(textformat.render_welcome(welcome, self.config.text_recap))

    def say(self, text: str) -> None:
        self.session.send(text.encode())

    # -- lines in -------------------------------------------------------------

    def handle(self, raw: bytes) -> None:
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            self.say("! that line is not valid UTF-8 text; nothing was sent\n")
            return
        if line.endswith("\r"):
            line = line[:-1]
        try:
            if self.session.member is not None:
                if self.changing is not None:
                    self.change_password(line)
                else:
                    self.command(line)
            elif self.pending_name is not None:
                self.check_password(line)
            elif self.login_name is not None:
                self.log_in(line)
            else:
                self.choose_name(line.strip())
        except ProtocolError as exc:
            self._refused(exc)
        except StoreError as exc:
            self.session.note(
                "store", "%s: the store failed: %s", self.session.peer, exc, level=logging.ERROR
            )
            self._refused(refusals.store_failure())

    def choose_name(self, name: str) -> None:
        if not name:
            return  # blank lines are ignored, even before the name
        if not self.authenticated:
            try:
                self.pending_name = normalize_name(name)
            except ProtocolError as exc:
                self._name_refused(exc)
                return
            self.say("* password:\n")
            return
        self._join(name, None)

    def _join(self, name: str, password: str | None) -> None:
        try:
            answer = self.backplane.join(self.session, name, password)
        except ProtocolError as exc:
            self._name_refused(exc, name)
            return
        self.session.then(answer, ignore, lambda exc: self._name_refused(exc, name))

    def log_in(self, password: str) -> None:
        # As for the server's password: never echoed or logged, only the
        # line ending trimmed.
        if not password:
            return
        name = self.login_name
        assert name is not None
        if password.strip().lower() == "/cancel":
            self.login_name = None
            self.say("* type another name:\n")
            return
        self._join(name, password)

    def change_password(self, line: str) -> None:
        # Lines that are passwords: never echoed or logged.
        answers = self.changing
        assert answers is not None
        assert self.session.member is not None
        if line.strip().lower() == "/cancel":
            self.changing = None
            self.say("* your password is unchanged\n")
            return
        if not line:
            return
        answers.append(line)
        if len(answers) == 1:
            self.say("* the new password:\n")
            return
        self.changing = None
        old, new = answers
        chat, member = self.backplane, self.session.member
        self.session.then(chat.change_password(member, old, new), ignore, self._refused)

    def check_password(self, password: str) -> None:
        # The line is never echoed back or logged. Only a line ending is
        # trimmed: spaces may be part of a password.
        if not password:
            return  # a blank line is not an attempt
        if not self.session.authenticate(password):
            self.say("! wrong password; password:\n")
            return
        self.authenticated = True
        name, self.pending_name = self.pending_name, None
        assert name is not None
        self.choose_name(name)

    def command(self, line: str) -> None:
        member = self.session.member
        assert member is not None
        try:
            cmd = textformat.parse_line(line)
        except ValueError as exc:
            self.say(f"! {exc}\n")
            return
        if cmd is None:
            return
        session, chat = self.session, self.backplane
        match cmd.name:
            case "say" | "me":
                if not self.current_room:
                    self.say("! you are in no room; /join one to talk (/rooms lists them)\n")
                    return
                action = cmd.name == "me"
                answer = chat.say(member, cmd.arg, id=None, room=self.current_room, action=action)
                session.then(answer, self._sent, self._refused)
            case "msg":
                sent = chat.dm(member, cmd.target, cmd.arg, id=None)
                session.then(sent, self._sent_to, self._refused)
            case "nick":
                session.then(chat.rename(member, cmd.arg), ignore, self._refused)
            case "join":
                key = normalize_room(cmd.target)
                entered = key not in member.rooms

                def shown(info: RoomInfo) -> None:
                    self.current_room = normalize_room(info.room)
                    recap = self.config.text_recap
                    self.say(textformat.render_room(info, member.name, recap, entered=entered))

                code = cmd.arg or None
                session.then(chat.enter(member, cmd.target, code), shown, self._refused)
            case "part":
                room = cmd.target or self._current()
                session.then(chat.part(member, room), lambda _: self._parted(), self._refused)
            case "rooms":
                self.say(textformat.render_room_list(chat.rooms()))
            case "topic":
                room = self._current()
                if cmd.arg:
                    session.then(chat.set_topic(member, room, cmd.arg), ignore, self._refused)
                else:
                    self.say(textformat.render_topic(chat.topic(room)))
            case "who":
                users = chat.who(cmd.target or self._current())
                self.say(textformat.render_users(users.users, users.room))
            case "mod":
                assert isinstance(cmd.frame, Mod)
                mod = cmd.frame
                if not mod.server:
                    mod = msgspec.structs.replace(mod, room=self._current())
                session.then(chat.moderate(member, mod), ignore, self._refused)
            case "history":
                room = self._current()
                more = cmd.arg == "more"
                before = self.history_cursor.get(room) if more else None
                if more and before is None:
                    self.say("! /history first, then /history more\n")
                    return
                limit = int(cmd.arg) if cmd.arg.isdigit() else HISTORY_PAGE
                page = chat.history(room, before, limit, member)

                def show_history(reply: HistoryReply) -> None:
                    if reply.messages:
                        self.history_cursor[room] = reply.messages[0].seq
                    text = textformat.render_history(reply.messages, room, member.name, more=more)
                    self.say(text)

                session.then(page, show_history, self._refused)
            case "hand":
                assert isinstance(cmd.frame, Hand)
                hand = msgspec.structs.replace(cmd.frame, room=self._current())
                session.then(chat.hand(member, hand), ignore, self._refused)
            case "hands":
                self.say(textformat.render_queue(chat.hands(member, self._current())))
            case "announce":
                answer = chat.say(
                    member, cmd.arg, id=None, room=self._current(), action=False, announce=True
                )
                session.then(answer, self._sent, self._refused)
            case "seen":
                # The room's latest announcement: a text user has no seq to give.
                seen = chat.seen(member, self._current(), None)
                session.then(seen, self._acknowledged, self._refused)
            case "mode":
                assert isinstance(cmd.frame, Mode)
                mode = msgspec.structs.replace(cmd.frame, room=self._current())
                session.then(chat.set_mode(member, mode), ignore, self._refused)
            case "code":
                room = self._current()
                answer = chat.join_code(member, room, rotate=cmd.arg == "rotate")
                session.then(answer, self._show_code, self._refused)
            case "audit":
                where = None if cmd.target.lower() == "server" else cmd.target or self._current()

                def show_audit(log: AuditLog) -> None:
                    room = log.room if isinstance(log.room, str) else None
                    self.say(textformat.render_audit(log.entries, room))

                session.then(chat.audit(member, where, 50), show_audit, self._refused)
            case "register":
                session.then(chat.register(member, cmd.arg), ignore, self._refused)
            case "password" if not cmd.arg:
                self.changing = []
                self.say("* your password now (or /cancel):\n")
            case "password":
                session.then(
                    chat.change_password(member, cmd.target, cmd.arg), ignore, self._refused
                )
            case "reply":
                room = self._current()
                target = self._latest(room, cmd.target)
                answer = chat.say(
                    member, cmd.arg, id=None, room=room, action=False, reply_to=target.seq
                )
                session.then(answer, self._sent, self._refused)
            case "edit":
                room = self._current()
                mine = self._latest(room, member.name)
                session.then(chat.edit(member, room, mine.seq, cmd.arg), ignore, self._refused)
            case "delete":
                room = self._current()
                target = self._latest(room, cmd.target or member.name)
                session.then(chat.delete(member, room, target.seq), ignore, self._refused)
            case "react":
                room = self._current()
                target = self._latest(room, cmd.target or None)
                reacted = chat.react(member, room, target.seq, cmd.arg, None)
                session.then(reacted, ignore, self._refused)
            case "search":
                self.search(cmd.arg)
            case "help":
                self.say("\n".join(textformat.HELP_LINES) + "\n")
            case "exit":
                session.close(LeftReason.QUIT, b"* bye\n")

    def _latest(self, room: str, name: str | None) -> Message:
        """The message a /reply, /edit, /react or /delete means: the newest
        in `room` by `name` (anyone's when None)."""
        by = name_key(name) if name else None
        found = self.backplane.latest(normalize_room(room), by)
        if found is None:
            whose = f"by {name} " if name else ""
            raise refusals.nothing_to_act_on(f"there is no recent message {whose}in #{room}")
        return found

    def search(self, words: str) -> None:
        member = self.session.member
        assert member is not None
        more = words.strip().lower() == "more"
        if more:
            if self.search_next is None:
                self.say("! nothing more to show; /search WORDS starts a search\n")
                return
            words, before = self.search_next
        else:
            before = None
        frame = Search(text=words, before=before if before is not None else UNSET)

        def show(found: Found) -> None:
            after = found.next if isinstance(found.next, str) else None
            self.search_next = (words, after) if after is not None else None
            self.say(textformat.render_search(found, more=more))

        self.session.then(self.backplane.search(member, frame), show, self._refused)

    def _current(self) -> str:
        if not self.current_room:
            raise ProtocolError(
                ErrorCode.NOT_IN_ROOM, "you are in no room; name one, or /join one first"
            )
        return self.current_room

    def _parted(self) -> None:
        """After a /part: if the current room is gone, `general` (or another
        room the user is in) becomes current."""
        member = self.session.member
        if member is None or self.current_room in member.rooms:
            return
        rooms = member.rooms
        if DEFAULT_ROOM in rooms:
            self.current_room = DEFAULT_ROOM
        else:
            self.current_room = next(iter(rooms), "")
        if self.current_room:
            self.say(f"* now talking in #{rooms[self.current_room].name}\n")
        else:
            self.say("* you are in no room now; /join one to talk\n")

    # -- answers ----------------------------------------------------------------

    def _name_refused(self, exc: ProtocolError, name: str = "") -> None:
        session = self.session
        if exc.code is ErrorCode.LOGIN_REQUIRED:
            self.login_name = name
            words = (
                f"* {name} is registered: type its password, or /cancel for another name\n"
                "* password:\n"
            )
        elif exc.code is ErrorCode.BAD_LOGIN:
            if exc.hold:
                session.hold_back(exc.hold)
            words = "! wrong password (or /cancel for another name); password:\n"
        else:
            self.login_name = None
            words = f"! {exc.message}; type another name:\n"
        session.send(words.encode(), urgent=True)

    def _refused(self, exc: ProtocolError) -> None:
        session = self.session
        session.send(self.render_error(exc), urgent=True)
        if exc.code is ErrorCode.RATE_LIMITED:
            self.limited_in_a_row += 1
            if self.limited_in_a_row >= self.config.max_rate_limited:
                session.note("too_fast", "%s kept sending too fast; closing", session.peer)
                session.close(LeftReason.ERROR, b"! too many lines too fast; bye\n")

    def _acknowledged(self, _: None) -> None:
        self.say("* thanks: marked as seen\n")

    def _show_code(self, info: CodeInfo) -> None:
        room = textformat.room_tag(info.room)
        self.say(f"* the join code of {room} is {info.code} (/join {info.room} {info.code})\n")

    def _sent(self, _: Ack) -> None:
        self.limited_in_a_row = 0
        self.say("* sent\n")

    def _sent_to(self, answer: tuple[Ack, str]) -> None:
        self.limited_in_a_row = 0
        self.say(f"* sent to {answer[1]}\n")
