"""The chat screen's network side: each batch of client events routed to the channels it
concerns (their logs, conversations, user lists, topics), unread counts and notices. A mixin of
`ChatScreen`, which owns the channels and widgets; it must not send anything but requests the
screen would send itself (`who` with watch).
"""

from __future__ import annotations

from collections.abc import Iterable

from conexion_protocol import (
    DEFAULT_ROOM,
    UNSET,
    AuditLog,
    CodeInfo,
    Deleted,
    DirectMessage,
    Edited,
    Error,
    Found,
    HandNews,
    HandQueue,
    HistoryReply,
    Joined,
    Left,
    LeftReason,
    Message,
    Moderation,
    Reacted,
    Registered,
    Renamed,
    RoomInfo,
    RoomList,
    SeenCount,
    Shutdown,
    TopicInfo,
    Users,
    name_key,
)

from ..client import (
    Acked,
    Barred,
    ClientEvent,
    ConnectionLost,
    Failed,
    LoginNeeded,
    Received,
    Request,
    RequestFailed,
    RequestKind,
    Welcomed,
)
from ..conversation import CatchUp, by_conversation, dm_key, partner, room_key
from ..entries import Entry, Kind
from .channel import Batch, Channel, known_count, separator
from .room_list import RoomListDialog

# What counts as unread.
_COUNTED = frozenset({Kind.CHAT, Kind.ACTION, Kind.DM_IN, Kind.ANNOUNCEMENT})
_SNIPPET = 80  # characters of a message quoted in a notification
# Rooms up to this size are listed again after someone joins, for their role.
ROLE_REFRESH_MAX = 200


class NetworkEvents:
    """`ChatScreen.apply()` and everything it calls. It uses the screen's
    channels (`channels`, `current`, `_room`, `_dm`, `_new_channel`,
    `_remove_channel`, `switch_to`), its widgets and its entry builders.
    (Not typed as `ChatScreen`: that import would be a cycle.)"""

    def apply(self, events: Iterable[ClientEvent]) -> None:
        """Show a batch of client events: one log update per channel touched."""
        batch = Batch()
        for event in events:
            match event:
                case Received(frame=frame, request=request):
                    self._frame(frame, request, batch)
                case Acked(out=out):
                    own = self._own.get(out.id)
                    if own is not None:
                        own[0].conversation.note(out.seq)
                    self._own_acked(out)
                    self._mark(out)
                    if own is not None and out.announce:
                        self._own_announcement(own[0], out, own[1])
                case Failed(out=out):
                    self._mark(out)
                    self._refused_send(out)
                case RequestFailed(request=request, code=code, message=message):
                    self._request_failed(request, code, message, batch)
                case ConnectionLost(reason=reason, at=at):
                    self.users.set_online(False)
                    line = f"connection lost at {self.clock.hhmm(at)}: {reason}"
                    for channel in self.channels.values():
                        channel.conversation.lost(at)
                        batch.add(channel, self._system(line))
                    self._who_shown.clear()  # those requests died with the connection
                    self._account_lost()
                case Welcomed():
                    self._reconnected(event, batch)
                    self._account_reconnected()
                case LoginNeeded():
                    self._needs_login(event, batch)
                case Barred():
                    self._barred(event, batch)
        for channel, entries in batch.entries.items():
            if self.channels.get(channel.key) is channel:  # not closed meanwhile
                channel.log.extend(entries)
        if batch.sidebar:
            self._refresh_sidebar()
        for channel, entry in batch.notices:
            self._notify(channel, entry)
        if batch.notices or batch.ring:
            self.app.bell()  # once per batch, however many there were
        self._refresh_standing()  # a mute, a setting, a hand, a role may have changed
        for channel in batch.arrivals:
            # `joined` carries no role: one `who` per room and batch badges a
            # newcomer who is staff (only in rooms small enough to list whole).
            if channel.roster.count <= ROLE_REFRESH_MAX and self.channels.get(channel.key):
                self.client.who(channel.title, watch=True)

    def _live(self, channel: Channel, entry: Entry, batch: Batch) -> None:
        """A new message shown in `channel`: unread, mentions, bells."""
        batch.add(channel, entry)
        if entry.kind is Kind.ANNOUNCEMENT:
            self._announced(channel, entry, prompt=True)
        if entry.own or entry.kind not in _COUNTED:
            return
        important = entry.mention or entry.kind is Kind.DM_IN
        if channel is self.current:
            if important and (not channel.log.following or not self.app.app_focus):
                batch.ring = True
            return
        batch.sidebar = True
        if channel.conversation.arrived(mention=important):
            batch.notices.append((channel, entry))

    def _notify(self, channel: Channel, entry: Entry) -> None:
        snippet = entry.text.split("\n", 1)[0]
        if len(snippet) > _SNIPPET:
            snippet = snippet[: _SNIPPET - 1] + "…"
        if channel.room:
            title, message = "Mention", f"{entry.name} in {channel.label}: {snippet}"
        else:
            title, message = "Direct message", f"{entry.name}: {snippet}"
        # Names and texts are untrusted: never markup.
        self.app.notify(message, title=title, timeout=self.ui.notify_timeout, markup=False)

    def _frame(self, frame: object, request: Request | None, batch: Batch) -> None:
        """One server frame; `request` is ours that it answers (None: news)."""
        match frame:
            case Message(room=room):
                channel = self._room(room)
                if channel is not None:
                    channel.conversation.note(frame.seq)
                    self._live(channel, self._message(frame), batch)
            case DirectMessage():
                other = partner(frame, self.me)
                channel = self._dm(other)
                if name_key(other) == name_key(frame.from_):
                    channel.title = frame.from_  # the server's spelling
                channel.conversation.note(frame.seq)
                self._live(channel, self._stored(frame), batch)
            case Joined(name=name, room=room):
                channel = self._room(_room_of(room))
                if channel is not None and not self.client.session.is_me(name):
                    if channel.roster.add(name):
                        self._roster_changed(channel)
                        batch.arrivals.add(channel)
                    batch.add(channel, self._system(f"{name} joined", when=frame.ts))
            case Left():
                self._left(frame, batch)
            case Renamed():
                self._renamed(frame, batch)
            case Users(room=room, users=names):
                channel = self._room(room)
                if channel is not None:
                    channel.roster.replace(names, roles=frame.roles)
                    self._roster_changed(channel)
                    if request is not None and request.id in self._who_shown:
                        self._who_shown.discard(request.id)
                        shown = self.ui.who_shown
                        listed = ", ".join(channel.roster.badged(n) for n in names[:shown])
                        if len(names) > shown:
                            listed += f" and {len(names) - shown} more (the user list has all)"
                        said = f"in {channel.label} ({len(names)}): {listed}"
                        batch.add(channel, self._system(said))
            case RoomInfo():
                self._room_info(frame, request, batch)
            case RoomList(rooms=rooms):
                self.known_rooms = list(rooms)
                if self._switcher is not None and self._switcher.is_mounted:
                    self._switcher.refresh_choices(gather=True)
                if self._rooms_asked:
                    self._rooms_asked = False
                    joined = {c.key for c in self.channels.values() if c.room}
                    self.app.push_screen(RoomListDialog(self.known_rooms, joined), self._picked)
            case TopicInfo():
                self._topic(frame, request, batch)
            case HistoryReply():
                self._older(frame)
            case Edited() | Reacted():
                self._message_changed(frame, batch)  # chat_actions.py
            case Found():
                self._found(frame, request)
            case Registered():
                self._registered(frame, request, batch)
            case Moderation():
                self._moderation_news(frame, batch)
            case Deleted():
                self._message_changed(frame, batch)  # its state (chat_actions.py)
                self._deleted(frame, batch)  # its line, and by whom (chat_moderation.py)
            case HandNews():
                self._hand_news(frame, batch)
            case HandQueue():
                self._hand_queue(frame, request, batch)
            case SeenCount():
                self._seen_count(frame)
            case CodeInfo():
                self._code(frame, batch)
            case AuditLog():
                self._audit(frame)
            case Error(code=code, message=message):
                batch.add(self.current, self._error(f"{message} ({code})"))
            case Shutdown(message=message):
                for channel in self.channels.values():
                    batch.add(channel, self._system(f"server notice: {message}"))

    def _roster_changed(self, channel: Channel) -> None:
        if channel is self.current:
            self.users.changed()

    def _left(self, frame: Left, batch: Batch) -> None:
        channel = self._room(_room_of(frame.room))
        if channel is None:
            return
        if self.client.session.is_me(frame.name):
            if frame.reason in (LeftReason.KICKED, LeftReason.BANNED):
                self._put_out_of(channel, frame.reason, batch)
                return
            # Our own `part` confirmed.
            if len([c for c in self.channels.values() if c.room]) == 1:
                channel.joining = True
                batch.add(channel, self._system(f"you are no longer in {channel.label}"))
                batch.sidebar = True
                return
            self._remove_channel(channel)
            how = "left" if frame.reason == LeftReason.PART else f"were removed ({frame.reason})"
            batch.add(self.current, self._system(f"you {how} {channel.label}", when=frame.ts))
            return
        if channel.roster.remove(frame.name):
            self._roster_changed(channel)
        batch.add(channel, self._system(f"{frame.name} left ({frame.reason})", when=frame.ts))

    def _renamed(self, frame: Renamed, batch: Batch) -> None:
        old, new = frame.old, frame.new
        mine = name_key(old) == name_key(self.me)
        if mine:
            self.me = new
            self.header.name_shown = new
            self.users.me = new
        line = f"you are now {new}" if mine else f"{old} is now {new}"
        self._renamed_in_reactions(old, new)
        for channel in list(self.channels.values()):
            if channel.room:
                if channel.roster.rename(old, new):
                    self._roster_changed(channel)
                    batch.add(channel, self._system(line, when=frame.ts))
                elif mine:
                    batch.add(channel, self._system(line, when=frame.ts))
            elif channel.key == dm_key(old) and not mine:
                # The same person under a new name: so is their conversation,
                # unless one with the new name is open already.
                if dm_key(new) not in self.channels:
                    del self.channels[channel.key]
                    channel.key, channel.title = dm_key(new), new
                    self.channels[channel.key] = channel
                    channel.roster.rename(old, new)
                    if channel is self.current:
                        self._show_topic()
                    batch.sidebar = True
                batch.add(channel, self._system(line, when=frame.ts))

    def _room_info(self, info: RoomInfo, request: Request | None, batch: Batch) -> None:
        key = room_key(info.room)
        if request is not None and request.kind is RequestKind.REFRESH:
            # Asked after a welcome only for the room's settings, our role and
            # a mute on us: the welcome brought its messages and its list.
            channel = self.channels.get(key)
            if channel is not None:
                channel.roster.replace(info.users, info.user_count, info.roles)
                self._roster_changed(channel)
                self._entered(channel)
            return
        channel = self.channels.get(key)
        if channel is None:
            channel = self._new_channel(key, room=True, title=info.room)
            self._changed_channels()
        elif channel.title != info.room:
            channel.title = info.room
            self._changed_channels()
        channel.joining = False
        channel.gone = None
        channel.topic = info.topic
        channel.roster.replace(info.users, info.user_count, info.roles)
        self._roster_changed(channel)
        self._entered(channel)
        if not channel.loaded:
            batch.extend(channel, self._begin(channel, list(info.history)))
            created = " (you created it)" if info.created else ""
            batch.add(channel, self._system(f"you joined {channel.label}{created}"))
            topic = (
                f"topic: {info.topic}" if info.topic else "no topic is set; /topic TEXT sets one"
            )
            batch.add(channel, self._system(topic))
            here = ", ".join(info.users)
            more = info.user_count - len(info.users)
            batch.add(
                channel,
                self._system(
                    f"{info.user_count} here: {here}" + (f" and {more} more" if more > 0 else "")
                ),
            )
        else:
            self._refresh_known(channel, list(info.history))
            self._caught_up(channel, channel.conversation.rejoin(list(info.history)), batch)
        # The list shown must stay complete, however large the room grows.
        self.client.who(info.room, watch=True)
        batch.sidebar = True
        if channel is self.current:
            self._show_topic()
        if key in self._go_to:
            self._go_to.discard(key)
            self.switch_to(channel)

    def _caught_up(self, channel: Channel, catch_up: CatchUp, batch: Batch) -> None:
        """What a reconnect missed in `channel`, counted as unread if not shown."""
        if catch_up.restarted:
            batch.add(channel, self._system("the server was restarted; its history starts again"))
        if catch_up.missed:
            batch.add(channel, separator("missed while offline"))
            for message in catch_up.missed:
                self._live(channel, self._stored(message), batch)
            batch.add(channel, separator("live"))

    def _topic(self, frame: TopicInfo, request: Request | None, batch: Batch) -> None:
        channel = self._room(frame.room)
        if channel is None:
            return
        channel.topic = frame.topic
        if channel is self.current:
            self._show_topic()
        by = frame.by if isinstance(frame.by, str) else None
        if request is not None:
            # The answer to our /topic: it carries the request's id, which
            # news of a topic being set never does.
            if frame.topic:
                said = f"topic: {frame.topic}" + (f" (set by {by})" if by else "")
            else:
                said = "no topic is set; /topic TEXT sets one"
            batch.add(channel, self._system(said))
        elif by is not None:
            said = (
                f"{by} set the topic: {frame.topic}" if frame.topic else f"{by} cleared the topic"
            )
            when = frame.ts if isinstance(frame.ts, str) else None
            batch.add(channel, self._system(said, when=when))

    def _reconnected(self, event: Welcomed, batch: Batch) -> None:
        welcome = event.welcome
        self.me = welcome.name
        self.header.name_shown = welcome.name
        self.users.me = welcome.name
        self.users.set_online(True)
        history = by_conversation(welcome.history, self.me)
        given = {room_key(room): room for room in welcome.rooms}
        general = room_key(DEFAULT_ROOM)
        for channel in list(self.channels.values()):
            if not channel.room or channel.gone is not None:
                continue  # a room we could not join again is not joined again
            if channel.key not in given:
                channel.joining = True  # its `room` answer brings what it missed
                continue
            if channel.key == general:
                channel.roster.replace(
                    welcome.users, known_count(welcome.user_count), welcome.roles
                )
                self._roster_changed(channel)
            self._refresh_known(channel, history.get(channel.key, []))
            catch_up = channel.conversation.rejoin(history.get(channel.key, []))
            self._caught_up(channel, catch_up, batch)
            self.client.who(channel.title, watch=True)
        for messages in history.values():
            first = messages[0]
            if not isinstance(first, DirectMessage):
                continue
            channel = self._dm(partner(first, self.me))
            if channel.conversation.newest is None and not channel.log.entries:
                batch.extend(channel, self._begin(channel, messages))
            else:
                self._caught_up(channel, channel.conversation.rejoin(messages), batch)
        parts = [f"reconnected at {self.clock.hhmm()}"]
        if event.resent:
            parts.append(f"{event.resent} unacknowledged {_plural(event.resent)} resent")
        if event.queued:
            parts.append(f"{event.queued} queued {_plural(event.queued)} sent")
        if not event.resent and not event.queued:
            parts.append("nothing was waiting to be sent")
        line = "; ".join(parts)
        for channel in self.channels.values():
            batch.add(channel, self._system(line))
        batch.sidebar = True

    def _request_failed(self, request: Request, code: str, message: str, batch: Batch) -> None:
        """The server refused one of our requests: say so where it belongs
        (its id tells which room a failed rejoin was, of several)."""
        why = f"{message} ({code})"
        room = request.room
        channel = self._room(room) if room is not None and request.with_ is None else None
        match request.kind:
            case RequestKind.REGISTER | RequestKind.PASSWORD:
                self._account_refused(request, code, message, batch)
            case RequestKind.REFRESH:
                pass  # the welcome put us there; only its settings are unknown
            case _ if self._moderation_refused(request, why, batch):
                pass
            case RequestKind.REJOIN if channel is not None:
                self._gone(channel, why, batch)
            case RequestKind.JOIN:
                self._go_to.discard(room_key(room or DEFAULT_ROOM))
                if channel is not None and channel.gone is not None:
                    self._gone(channel, why, batch)
                else:
                    batch.add(self.current, self._error(f"cannot join #{room}: {why}"))
            case RequestKind.SEARCH if self._search_failed(request, why):
                pass  # said in the search screen
            case RequestKind.HISTORY:
                target = self.channels.get(dm_key(request.with_)) if request.with_ else channel
                if target is not None:
                    target.conversation.page_failed()
                    batch.add(target, self._error(f"cannot load older messages: {why}"))
            case _:
                if request.kind is RequestKind.ROOMS:
                    self._rooms_asked = False
                batch.add(channel or self.current, self._error(why))

    def _gone(self, channel: Channel, why: str, batch: Batch) -> None:
        """Joining `channel` again was refused: it stays, marked, with its log."""
        channel.joining = False
        channel.gone = why
        line = (
            f"could not join {channel.label} again: {why}; "
            f"/join {channel.title} tries again, /part closes it"
        )
        batch.add(channel, self._error(line))
        if channel is not self.current:
            batch.add(self.current, self._error(line))
        batch.sidebar = True
        self._changed_channels()

    def _older(self, reply: HistoryReply) -> None:
        if reply.with_ is not UNSET and isinstance(reply.with_, str):
            channel = self.channels.get(dm_key(reply.with_))
        else:
            channel = self._room(reply.room if isinstance(reply.room, str) else DEFAULT_ROOM)
        if channel is None:
            return
        older = channel.conversation.older(reply.messages)
        if not older:
            channel.log.prepend([separator("beginning of history")])
        else:
            channel.log.prepend([self._stored(m) for m in older])
        self._jump_progress(channel)  # looking for a reply's original or a search hit


def _room_of(room: str | object) -> str:
    """A frame's room, `general` when it has none (a server before rooms)."""
    return room if isinstance(room, str) else DEFAULT_ROOM


def _plural(count: int) -> str:
    return "message" if count == 1 else "messages"
