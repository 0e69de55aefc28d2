"""The chat screen's typed side: what each parsed command does (sends, joins, parts, topics,
lists) in the conversation shown. A mixin of `ChatScreen`; the parsing is `commands.parse`, and
nothing here waits for an answer: answers come back through `NetworkEvents`.
"""

from __future__ import annotations

from conexion_protocol import (
    MAX_TEXT_LEN,
    ProtocolError,
    clean_text,
    clean_topic,
    normalize_name,
)

from ..client import SendStatus
from ..commands import (
    ChangeNick,
    ClearLog,
    Command,
    CommandError,
    JoinRoom,
    ListRooms,
    ListUsers,
    NewPassword,
    OpenDirect,
    PartRoom,
    Quit,
    RegisterName,
    SendAction,
    SendDirect,
    SendText,
    SetTopic,
    ShowHelp,
    split_text,
)
from ..conversation import room_key
from ..entries import Entry, Kind, clean
from ..widgets import ChatInput
from .split import SplitDialog


class TypedCommands:
    """`ChatScreen._run()` and what it calls, on the screen's channels,
    client and log. (Not typed as `ChatScreen`: that import would be a cycle.)"""

    def _run(self, command: Command) -> None:
        log = self.log_view
        channel = self.current
        match command:
            case SendText(text=text):
                self._send(text)
            case SendAction(text=text):
                self._send(text, action=True)
            case SendDirect(to=to, text=text):
                if self._valid_name(to):
                    self._send(text, to=to)
            case OpenDirect(to=to):
                if self._valid_name(to):
                    self.switch_to(self._dm(to))
            case ChangeNick(name=name):
                if not self.client.nick(name):
                    log.add(self._error("you are offline; /nick works once reconnected"))
            case ListUsers():
                if not channel.room:
                    log.add(self._system(f"this conversation: {', '.join(channel.roster.names)}"))
                elif asked := self.client.who(channel.title):
                    self._who_shown.add(asked)
                else:
                    log.add(self._error("you are offline; /who works once reconnected"))
            case JoinRoom(room=room):
                self._join(room)
            case PartRoom(room=room):
                self._part(room)
            case ListRooms():
                if not self.rooms_feature:
                    log.add(self._error("this server has no rooms besides general"))
                elif self.client.list_rooms():
                    self._rooms_asked = True
                else:
                    log.add(self._error("you are offline; /rooms works once reconnected"))
            case SetTopic(topic=topic):
                self._set_topic(topic)
            case RegisterName():
                self.action_register()
            case NewPassword():
                self.action_change_password()
            case ClearLog():
                self._own = {i: (c, e) for i, (c, e) in self._own.items() if c is not channel}
                log.clear()
            case ShowHelp():
                self.action_help()
            case Quit():
                self.app.exit(0)  # reached only from code; typed /quit is awaited above
            case CommandError(message=message):
                log.add(self._error(message))
            case _:
                self._run_moderation(command)

    def _valid_name(self, name: str) -> bool:
        try:
            normalize_name(name)
        except ProtocolError as exc:
            self.log_view.add(self._error(f"{exc.message} (not {name!r})"))
            return False
        return True

    def _join(self, room: str) -> None:
        log = self.log_view
        existing = self.channels.get(room_key(room))
        if existing is not None and existing.room and existing.gone is None:
            self.switch_to(existing)
            return
        if not self.rooms_feature:
            log.add(self._error("this server has no rooms besides general"))
        elif self.client.join_room(room):
            self._go_to.add(room_key(room))
            log.add(self._system(f"joining #{room}…"))
            if existing is not None:
                existing.joining = True  # a room we could not join again: once more
                self._refresh_sidebar()
        else:
            log.add(self._error("you are offline; /join works once reconnected"))

    def _part(self, room: str | None) -> None:
        log = self.log_view
        channel = self.current if room is None else self.channels.get(room_key(room))
        if channel is None:
            log.add(self._error(f"you are not in #{room}"))
            return
        if channel.gone is not None:
            self._remove_channel(channel)  # not in it: nothing to tell the server
            return
        if not channel.room:
            if len(self.channels) == 1:
                log.add(self._error("this is your only conversation; /join a room first"))
                return
            self._remove_channel(channel)  # a DM conversation closes here only
            return
        if len([c for c in self.channels.values() if c.room]) == 1:
            log.add(self._error(f"{channel.label} is your last room; /join another first"))
            return
        if not self.client.part(channel.title):
            log.add(self._error("you are offline; /part works once reconnected"))
        elif channel.joining:
            self._remove_channel(channel)  # never answered: nothing will confirm it

    def _set_topic(self, topic: str | None) -> None:
        channel = self.current
        log = self.log_view
        if not channel.room:
            log.add(self._error("a direct conversation has no topic"))
            return
        if topic is not None:
            try:
                topic = clean_topic(topic)
            except ProtocolError as exc:
                log.add(self._error(f"{exc.message} ({exc.code})"))
                return
        if not self.client.topic(channel.title, topic):
            log.add(self._error("you are offline; /topic works once reconnected"))

    def _picked(self, room: str | None) -> None:
        if room is not None:
            self._join(room)

    def _offer_split(self, text: str, to: str | None) -> None:
        """A message over the limit (a long paste): it goes back in the box,
        and a dialog offers to send it as several messages instead."""
        box = self.query_one("#input", ChatInput)
        if not box.text:
            box.load_text(text)
            box.move_cursor(box.document.end)
        pieces = split_text(text, MAX_TEXT_LEN)
        channel = self.current

        def answered(send: bool | None) -> None:
            if not send or self.current is not channel:
                return
            if box.text == text:
                box.load_text("")
            for piece in pieces:
                if piece.strip():
                    self._send(piece, to=to)

        self.app.push_screen(SplitDialog(len(text), MAX_TEXT_LEN, len(pieces)), answered)

    def _send(
        self, text: str, *, action: bool = False, to: str | None = None, announce: bool = False
    ) -> None:
        """Queue a say or dm and show it at once, marked pending."""
        try:
            clean_text(text)
        except ProtocolError as exc:
            # Checked here as well as on the server: a frame over the size
            # limit would make the server drop the connection, and the resend
            # after reconnecting would do it again.
            if len(text) > MAX_TEXT_LEN and not action and not announce:
                self._offer_split(text, to)
                return
            self.log_view.add(self._error(f"not sent: {exc.message} ({exc.code})"))
            return
        channel = self.current
        if to is None and channel.gone is not None:
            self.log_view.add(
                self._error(
                    f"you are not in {channel.label} ({channel.gone}); "
                    f"/join {channel.title} tries again"
                )
            )
            return
        if to is None and not channel.room:
            if action:
                self.log_view.add(
                    self._error("/me works in rooms; direct messages have no actions")
                )
                return
            to = channel.title
        if to is None and self._held_back(channel, text):
            return
        if to is not None:
            channel = self._dm(to)
            self.switch_to(channel)
            out = self.client.dm(to, text)
            kind, name = Kind.DM_OUT, clean(to, single_line=True)
        else:
            reply_to = self._take_reply(channel)  # chat_actions.py: r on a message
            out = self.client.say(
                text, action=action, room=channel.title, announce=announce, reply_to=reply_to
            )
            kind = Kind.ANNOUNCEMENT if announce else Kind.ACTION if action else Kind.CHAT
            name = self.me
        entry = Entry(
            kind,
            self.clock.hhmm(),
            clean(text),
            name=name,
            status=out.status,
            own=True,
            at=self.clock.now(),
        )
        if out.status is SendStatus.FAILED:  # refused before it left, e.g. too long
            entry.reason = f"{out.error_code}: {out.error_message}"
        else:
            self._own[out.id] = (channel, entry)
        self._own_sent(channel, entry, out)
        channel.log.add(entry)
