"""The chat screen: client events in, routed to one `Channel` per room and per DM partner (its
log, conversation, user list); typed lines and keys in, client calls out. It must not wait on the
network, nor keep what a conversation knows (`Conversation` and `Roster` do).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from conexion_protocol import (
    DEFAULT_ROOM,
    FEATURE_ROOMS,
    UNSET,
    DirectMessage,
    Error,
    HistoryReply,
    Joined,
    Left,
    LeftReason,
    Message,
    ProtocolError,
    Renamed,
    RoomInfo,
    RoomList,
    RoomSummary,
    Shutdown,
    Stored,
    TopicInfo,
    Users,
    Welcome,
    clean_text,
    clean_topic,
    name_key,
    normalize_name,
)

from ..client import (
    Acked,
    ChatClient,
    ClientEvent,
    ConnectionLost,
    Failed,
    Outgoing,
    Received,
    SendStatus,
    State,
    Welcomed,
)
from ..clock import Clock
from ..commands import (
    ChangeNick,
    ClearLog,
    Command,
    CommandError,
    JoinRoom,
    ListRooms,
    ListUsers,
    OpenDirect,
    PartRoom,
    Place,
    Quit,
    SendAction,
    SendDirect,
    SendText,
    SetTopic,
    ShowHelp,
    Target,
    help_lines,
    parse,
)
from ..config import UiConfig
from ..conversation import (
    CatchUp,
    Conversation,
    Roster,
    by_conversation,
    dm_key,
    partner,
    room_key,
)
from ..entries import Entry, Kind, clean, mentions
from ..widgets import ChatHeader, ChatInput, MessageLog, Sidebar, SidebarItem, UserList
from ..widgets.sidebar import NUMBERED
from .room_list import RoomListDialog
from .switcher import Places, QuickSwitcher

_COUNTED = frozenset({Kind.CHAT, Kind.ACTION, Kind.DM_IN})  # what counts as unread
_SNIPPET = 80  # characters of a message quoted in a notification


class UnreadBar(Static):
    """The "3 new messages below" bar, shown while the log is scrolled up."""

    def on_click(self) -> None:
        screen = self.screen
        if isinstance(screen, ChatScreen):
            screen.log_view.scroll_to_live()


@dataclass(eq=False)
class Channel:
    """One conversation as the screen shows it: a room we are in, or the
    direct messages with one person. Its log widget keeps its own entries
    and scroll position while another channel is shown."""

    key: str  # `room_key` or `dm_key`
    room: bool
    title: str  # the room as the server spells it, or the other person's name
    conversation: Conversation
    log: MessageLog
    roster: Roster = field(default_factory=Roster)
    topic: str = ""
    # Its first history (a welcome's or a `room` answer's) has been shown:
    # later ones are what a reconnect missed.
    loaded: bool = False
    joining: bool = False  # a room asked for and not answered yet
    draft: str = ""  # what was typed here when another channel was chosen

    @property
    def label(self) -> str:
        return f"#{self.title}" if self.room else self.title


@dataclass(slots=True)
class _Batch:
    """What one batch of events adds: entries per channel (appended once
    each), the first mention of each channel not shown, and whether to ring."""

    entries: dict[Channel, list[Entry]] = field(default_factory=dict)
    notices: list[tuple[Channel, Entry]] = field(default_factory=list)
    ring: bool = False
    sidebar: bool = False  # unread counts or the channel list changed

    def add(self, channel: Channel, entry: Entry) -> None:
        self.entries.setdefault(channel, []).append(entry)

    def extend(self, channel: Channel, entries: Iterable[Entry]) -> None:
        self.entries.setdefault(channel, []).extend(entries)


class ChatScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
        Binding("pageup", "page_up", "Scroll", priority=True),
        Binding("pagedown", "page_down", "Scroll down", priority=True, show=False),
        Binding("escape", "live", "Live", priority=True, show=False),
        Binding("f1", "help", "Help"),
        # ctrl+k replaces the message box's "delete to the end of the line".
        Binding("ctrl+k", "switcher", "Switch", priority=True),
        Binding("alt+down,ctrl+pagedown", "next_channel", "Next", show=False, priority=True),
        Binding("alt+up,ctrl+pageup", "previous_channel", "Previous", show=False, priority=True),
        Binding("ctrl+n", "next_unread", "Next unread", show=False, priority=True),
        *(
            Binding(f"alt+{n}", f"go_to({n})", f"Conversation {n}", show=False, priority=True)
            for n in range(1, NUMBERED + 1)
        ),
    ]
    # Set per screen from `UiConfig`: narrower hides the user list, then the sidebar.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = None

    @dataclass
    class RoomsChanged(TextualMessage):
        """The rooms we are in changed (in sidebar order): worth remembering."""

        rooms: tuple[str, ...]

        def can_replace(self, message: TextualMessage) -> bool:
            return isinstance(message, ChatScreen.RoomsChanged)

    def __init__(
        self,
        client: ChatClient,
        welcome: Welcome,
        *,
        clock: Clock,
        ui: UiConfig,
    ) -> None:
        super().__init__()
        self.client = client
        self.welcome = welcome
        self.clock = clock
        self.ui = ui
        self.me = welcome.name
        collapse = min(ui.collapse_below, ui.narrow_below)
        self.HORIZONTAL_BREAKPOINTS = [
            (0, "-collapsed"),
            (collapse, "-narrow"),
            (ui.narrow_below, "-wide"),
        ]
        self.channels: dict[str, Channel] = {}  # by key, in the order they came
        self._log_ids = itertools.count()
        # Our sends still waiting for an answer, by id, with where they are shown.
        self._own: dict[str, tuple[Channel, Entry]] = {}
        self._room_keys: dict[str, str] = {}  # the server's spelling -> key, once computed
        self._who_asked: dict[str, int] = {}  # /who answers to show, per room key
        self._topic_asked: set[str] = set()  # /topic answers to show
        self._rooms_asked = False  # show the next room list as a dialog
        self._go_to: set[str] = set()  # rooms to show as soon as their `room` answer comes
        self.known_rooms: list[RoomSummary] = []  # the latest room list from the server
        self._switcher: QuickSwitcher | None = None
        self._first_history = by_conversation(welcome.history, self.me)
        self._open_initial_channels()
        self.current = self._first_channel()

    # -- channels ---------------------------------------------------------------

    def _open_initial_channels(self) -> None:
        """The rooms the session is in (the welcome's, and those it is
        joining again from an earlier run), then the people in the welcome's DMs."""
        rooms = list(self.client.session.rooms.values()) or list(self.welcome.rooms)
        given = {room_key(room) for room in self.welcome.rooms}
        for room in rooms:
            channel = self._new_channel(room_key(room), room=True, title=room)
            channel.joining = room_key(room) not in given
        for key, messages in self._first_history.items():
            first = messages[0]
            if isinstance(first, DirectMessage) and key not in self.channels:
                self._new_channel(key, room=False, title=partner(first, self.me))

    def _first_channel(self) -> Channel:
        general = self.channels.get(room_key(DEFAULT_ROOM))
        if general is not None:
            return general
        if self.channels:
            return next(iter(self.channels.values()))
        # Nothing at all (a server that put us in no room): a place to type.
        return self._new_channel(room_key(DEFAULT_ROOM), room=True, title=DEFAULT_ROOM)

    def _new_channel(self, key: str, *, room: bool, title: str) -> Channel:
        log = MessageLog(
            id=f"log-{next(self._log_ids)}",
            classes="log",
            scrollback=self.ui.scrollback,
            cache_size=self.ui.strip_cache,
            prune_share=self.ui.prune_share,
        )
        channel = Channel(key, room, title, Conversation(self.ui.history_page), log)
        if not room:
            channel.roster.replace(
                [self.me, title] if dm_key(title) != dm_key(self.me) else [title]
            )
        self.channels[key] = channel
        if self.is_mounted:
            log.display = False  # a ContentSwitcher shows what is mounted later until told
            self.query_one("#logs", ContentSwitcher).mount(log)
        return channel

    def _room(self, room: str) -> Channel | None:
        key = self._room_keys.get(room)
        if key is None:
            key = self._room_keys[room] = room_key(room)
        return self.channels.get(key)

    def _dm(self, name: str) -> Channel:
        """The channel of the DMs with `name`, opened if there is none."""
        key = dm_key(name)
        channel = self.channels.get(key)
        if channel is None:
            channel = self._new_channel(key, room=False, title=name)
            channel.loaded = True  # nothing to page back to until the server says so
            self._changed_channels()
        return channel

    def ordered(self) -> list[Channel]:
        """The channels as the sidebar lists them: rooms, then people."""
        channels = list(self.channels.values())
        return [c for c in channels if c.room] + [c for c in channels if not c.room]

    def _remove_channel(self, channel: Channel) -> None:
        if channel is self.current:
            order = self.ordered()
            index = order.index(channel)
            rest = order[:index] + order[index + 1 :]
            if not rest:
                return  # never leave the screen with nowhere to type
            self.switch_to(rest[index - 1] if index else rest[0])
        del self.channels[channel.key]
        self._own = {i: (c, e) for i, (c, e) in self._own.items() if c is not channel}
        channel.log.remove()
        self._changed_channels()

    def _changed_channels(self) -> None:
        """The list of channels changed: redraw the sidebar, remember the rooms."""
        self._refresh_sidebar()
        rooms = tuple(c.title for c in self.ordered() if c.room)
        self.post_message(self.RoomsChanged(rooms))

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ChatHeader(id="header")
        with Horizontal(id="chat-body"):
            yield Sidebar(id="sidebar")
            with Vertical(id="log-pane"):
                with ContentSwitcher(id="logs", initial=self.current.log.id):
                    yield from (channel.log for channel in self.channels.values())
                yield UnreadBar(id="unread", markup=False)
            yield UserList(id="users")
        yield ChatInput(
            id="input",
            names=lambda: self.current.roster.names,
            rooms=self._room_names,
            history_size=self.ui.input_history,
            placeholder=self._placeholder(self.current),
        )
        # Compact, and without the palette hint, so that ^q still shows on a
        # narrow terminal (ctrl+p opens the palette all the same).
        yield Footer(compact=True, show_command_palette=False)

    @property
    def log_view(self) -> MessageLog:
        """The log of the conversation shown."""
        return self.current.log

    @property
    def users(self) -> UserList:
        return self.query_one("#users", UserList)

    @property
    def header(self) -> ChatHeader:
        return self.query_one("#header", ChatHeader)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one("#sidebar", Sidebar)

    @property
    def rooms_feature(self) -> bool:
        return FEATURE_ROOMS in self.client.session.features

    def _room_names(self) -> list[str]:
        names = {c.title for c in self.channels.values() if c.room}
        names.update(r.room for r in self.known_rooms)
        return sorted(names, key=name_key)

    def on_mount(self) -> None:
        welcome = self.welcome
        header = self.header
        header.address = self.client.address
        header.name_shown = self.me
        self.set_status(self.client.state, "", self.client.rtt)
        general = room_key(DEFAULT_ROOM)
        given = {room_key(room) for room in welcome.rooms}
        for channel in list(self.channels.values()):
            if channel.room and channel.key not in given:
                continue  # being joined again; its `room` answer fills it
            if channel.key == general:
                channel.roster.replace(welcome.users, _count(welcome.user_count))
            entries = self._begin(channel, self._first_history.get(channel.key, []))
            channel.log.extend(entries)
            if channel.room:
                self.client.who(channel.title, watch=True)
        count = _count(welcome.user_count) or len(welcome.users)
        others = count - 1
        online = "nobody else is online" if others <= 0 else f"{others} more online"
        entries = [
            self._system(
                f"joined as {self.me}; {online}. "
                "Type a message and press Enter; /help lists the commands."
            )
        ]
        if welcome.motd:
            entries.append(self._system(f"message of the day: {welcome.motd}"))
        self.current.log.extend(entries)
        self.switch_to(self.current, force=True)
        self.query_one("#input", ChatInput).focus()
        self._changed_channels()

    def _begin(self, channel: Channel, history: list[Stored]) -> list[Entry]:
        """A channel's first history, between "earlier messages" and "live"."""
        channel.loaded = True
        entries: list[Entry] = []
        shown = channel.conversation.begin(history)
        if shown:
            entries.append(Entry(Kind.SEPARATOR, "", "earlier messages"))
            entries.extend(self._history_entry(m) for m in shown)
            entries.append(Entry(Kind.SEPARATOR, "", "live"))
        return entries

    def fatal(self, reason: str) -> None:
        """The network worker died: nothing more will arrive or leave."""
        self.set_status(State.CLOSED, "restart the client to reconnect", None)
        self.users.set_online(False)
        self.log_view.add(self._error(f"{reason}; restart the client to reconnect"))

    def on_resize(self) -> None:
        # The breakpoint classes change with the width: the header says what
        # is unread elsewhere only while the sidebar is collapsed.
        self.call_after_refresh(self._refresh_sidebar)

    # -- switching ----------------------------------------------------------------

    def switch_to(self, channel: Channel, *, force: bool = False) -> None:
        """Show `channel`: its log (where it was scrolled), its users, its topic."""
        previous = self.current
        if channel is previous and not force:
            return
        box = self.query_one("#input", ChatInput)
        if channel is not previous:
            previous.draft = box.text
            box.load_text(channel.draft)
            box.move_cursor(box.document.end)
        self.current = channel
        channel.conversation.read()
        self.query_one("#logs", ContentSwitcher).current = channel.log.id
        box.placeholder = self._placeholder(channel)
        self.users.show(channel.roster, self.me)
        self._show_topic()
        self._unread_bar(channel.log.unread)
        self._refresh_sidebar()

    def _placeholder(self, channel: Channel) -> str:
        return f"Message {channel.label} · Enter sends · /help lists commands"

    def _show_topic(self) -> None:
        channel = self.current
        self.header.room = channel.label
        self.header.topic = channel.topic if channel.room else "direct messages"

    def _refresh_sidebar(self) -> None:
        items = [
            SidebarItem(
                c.key,
                c.title,
                c.room,
                c.conversation.unread,
                c.conversation.mentions,
                c.joining,
            )
            for c in self.ordered()
        ]
        self.sidebar.show(items, self.current.key)
        unread = sum(c.conversation.unread for c in self.channels.values())
        marked = sum(c.conversation.mentions for c in self.channels.values())
        elsewhere = ""
        if unread and self.has_class("-collapsed"):
            elsewhere = f"+{unread} unread" + (f" (@{marked})" if marked else "")
        self.header.elsewhere = elsewhere

    @on(Sidebar.Selected)
    def _sidebar_selected(self, event: Sidebar.Selected) -> None:
        channel = self.channels.get(event.key)
        if channel is not None:
            self.switch_to(channel)

    def action_next_channel(self) -> None:
        self._step(1)

    def action_previous_channel(self) -> None:
        self._step(-1)

    def _step(self, step: int) -> None:
        order = self.ordered()
        index = order.index(self.current)
        self.switch_to(order[(index + step) % len(order)])

    def action_go_to(self, number: int) -> None:
        order = self.ordered()
        if 1 <= number <= len(order):
            self.switch_to(order[number - 1])
        else:
            self.app.bell()

    def action_next_unread(self) -> None:
        """The next channel (after this one, round) that mentions us, else
        the next with anything unread."""
        order = self.ordered()
        index = order.index(self.current)
        after = order[index + 1 :] + order[:index]
        for wanted in (lambda c: c.conversation.mentions, lambda c: c.conversation.unread):
            for channel in after:
                if wanted(channel):
                    self.switch_to(channel)
                    return
        self.app.bell()

    # -- the quick switcher and dialogs --------------------------------------------

    def action_switcher(self, query: str = "") -> None:
        if self._switcher is not None:
            return
        self.client.list_rooms()  # fresher rooms to offer, if online; shown as they come
        self._switcher = QuickSwitcher(self._places, query, limit=self.ui.switcher_limit)
        self.app.push_screen(self._switcher, self._switched)

    def _places(self) -> Places:
        conversations = []
        for channel in self.ordered():
            conv = channel.conversation
            detail = ""
            if conv.mentions:
                detail = f"@{conv.mentions} · {conv.unread} unread"
            elif conv.unread:
                detail = f"{conv.unread} unread"
            if channel is self.current:
                detail = "shown now"
            conversations.append(
                Place(Target.OPEN, channel.title, channel.key, detail, room=channel.room)
            )
        rooms = [
            Place(Target.JOIN, r.room, r.room, _room_detail(r), room=True)
            for r in self.known_rooms
            if room_key(r.room) not in self.channels
        ]
        seen: dict[str, str] = {}
        for channel in self.ordered():
            if channel.room:
                for name in channel.roster.names:
                    seen.setdefault(name_key(name), name)
        me = name_key(self.me)
        people = [
            Place(Target.MESSAGE, name, name, room=False)
            for key, name in seen.items()
            if key != me and dm_key(name) not in self.channels
        ]
        return conversations, rooms, people

    def _switched(self, place: Place | None) -> None:
        self._switcher = None
        if place is None:
            return
        match place.target:
            case Target.OPEN:
                channel = self.channels.get(place.key)
                if channel is not None:
                    self.switch_to(channel)
            case Target.JOIN | Target.CREATE:
                self._run(JoinRoom(place.name))
            case Target.MESSAGE:
                self._run(OpenDirect(place.name))

    def action_rooms(self) -> None:
        self._run(ListRooms())

    def action_leave(self) -> None:
        self._run(PartRoom(None))

    # -- status ----------------------------------------------------------------

    def set_status(self, state: State, detail: str, rtt: float | None) -> None:
        header = self.header
        header.state = state
        header.detail = detail
        header.rtt = rtt

    @on(MessageLog.UnreadChanged)
    def _unread_changed(self, event: MessageLog.UnreadChanged) -> None:
        if event.log is self.current.log:
            self._unread_bar(event.count)

    def _unread_bar(self, count: int) -> None:
        label = self.query_one("#unread", Static)
        if count:
            noun = "message" if count == 1 else "messages"
            label.update(Text(f"↓ {count} new {noun} below · Esc jumps to live"))
        label.set_class(count > 0, "-visible")

    # -- events from the network -------------------------------------------

    def apply(self, events: Iterable[ClientEvent]) -> None:
        """Show a batch of client events: one log update per channel touched."""
        batch = _Batch()
        for event in events:
            match event:
                case Received(frame=frame):
                    self._frame(frame, batch)
                case Acked(out=out):
                    own = self._own.get(out.id)
                    if own is not None:
                        own[0].conversation.note(out.seq)
                    self._mark(out)
                case Failed(out=out):
                    self._mark(out)
                case ConnectionLost(reason=reason, at=at):
                    self.users.set_online(False)
                    line = f"connection lost at {self.clock.hhmm(at)}: {reason}"
                    for channel in self.channels.values():
                        channel.conversation.lost(at)
                        batch.add(channel, self._system(line))
                case Welcomed():
                    self._reconnected(event, batch)
        for channel, entries in batch.entries.items():
            if self.channels.get(channel.key) is channel:  # not closed meanwhile
                channel.log.extend(entries)
        if batch.sidebar:
            self._refresh_sidebar()
        for channel, entry in batch.notices:
            self._notify(channel, entry)
        if batch.notices or batch.ring:
            self.app.bell()  # once per batch, however many there were

    def _live(self, channel: Channel, entry: Entry, batch: _Batch) -> None:
        """A new message shown in `channel`: unread, mentions, bells."""
        batch.add(channel, entry)
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

    def _frame(self, frame: object, batch: _Batch) -> None:
        match frame:
            case Message(room=room):
                channel = self._room(room)
                if channel is not None:
                    channel.conversation.note(frame.seq)
                    self._live(channel, self._message_entry(frame), batch)
            case DirectMessage():
                other = partner(frame, self.me)
                channel = self._dm(other)
                if name_key(other) == name_key(frame.from_):
                    channel.title = frame.from_  # the server's spelling
                channel.conversation.note(frame.seq)
                self._live(channel, self._history_entry(frame), batch)
            case Joined(name=name, room=room):
                channel = self._room(_room_of(room))
                if channel is not None and not self.client.session.is_me(name):
                    if channel.roster.add(name):
                        self._roster_changed(channel)
                    batch.add(channel, self._system(f"{name} joined", when=frame.ts))
            case Left():
                self._left(frame, batch)
            case Renamed():
                self._renamed(frame, batch)
            case Users(room=room, users=names):
                channel = self._room(room)
                if channel is not None:
                    channel.roster.replace(names)
                    self._roster_changed(channel)
                    if self._who_asked.get(channel.key):
                        self._who_asked[channel.key] -= 1
                        listed = ", ".join(names)
                        batch.add(
                            channel, self._system(f"in {channel.label} ({len(names)}): {listed}")
                        )
            case RoomInfo():
                self._room_info(frame, batch)
            case RoomList(rooms=rooms):
                self.known_rooms = list(rooms)
                if self._switcher is not None and self._switcher.is_mounted:
                    self._switcher.refresh_choices()
                if self._rooms_asked:
                    self._rooms_asked = False
                    joined = {c.key for c in self.channels.values() if c.room}
                    self.app.push_screen(RoomListDialog(self.known_rooms, joined), self._picked)
            case TopicInfo():
                self._topic(frame, batch)
            case HistoryReply():
                self._older(frame)
            case Error(code=code, message=message):
                batch.add(self.current, self._error(f"{message} ({code})"))
            case Shutdown(message=message):
                for channel in self.channels.values():
                    batch.add(channel, self._system(f"server notice: {message}"))

    def _roster_changed(self, channel: Channel) -> None:
        if channel is self.current:
            self.users.changed()

    def _left(self, frame: Left, batch: _Batch) -> None:
        channel = self._room(_room_of(frame.room))
        if channel is None:
            return
        if self.client.session.is_me(frame.name):
            # Our own `part` confirmed (or we were put out of the room).
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

    def _renamed(self, frame: Renamed, batch: _Batch) -> None:
        old, new = frame.old, frame.new
        mine = name_key(old) == name_key(self.me)
        if mine:
            self.me = new
            self.header.name_shown = new
            self.users.me = new
        line = f"you are now {new}" if mine else f"{old} is now {new}"
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

    def _room_info(self, info: RoomInfo, batch: _Batch) -> None:
        key = room_key(info.room)
        channel = self.channels.get(key)
        if channel is None:
            channel = self._new_channel(key, room=True, title=info.room)
            self._changed_channels()
        elif channel.title != info.room:
            channel.title = info.room
            self._changed_channels()
        channel.joining = False
        channel.topic = info.topic
        channel.roster.replace(info.users, info.user_count)
        self._roster_changed(channel)
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
            self._caught_up(channel, channel.conversation.rejoin(list(info.history)), batch)
        # The list shown must stay complete, however large the room grows.
        self.client.who(info.room, watch=True)
        batch.sidebar = True
        if channel is self.current:
            self._show_topic()
        if key in self._go_to:
            self._go_to.discard(key)
            self.switch_to(channel)

    def _caught_up(self, channel: Channel, catch_up: CatchUp, batch: _Batch) -> None:
        """What a reconnect missed in `channel`, counted as unread if not shown."""
        if catch_up.restarted:
            batch.add(channel, self._system("the server was restarted; its history starts again"))
        if catch_up.missed:
            batch.add(channel, Entry(Kind.SEPARATOR, "", "missed while offline"))
            for message in catch_up.missed:
                self._live(channel, self._history_entry(message), batch)
            batch.add(channel, Entry(Kind.SEPARATOR, "", "live"))

    def _topic(self, frame: TopicInfo, batch: _Batch) -> None:
        channel = self._room(frame.room)
        if channel is None:
            return
        channel.topic = frame.topic
        if channel is self.current:
            self._show_topic()
        by = frame.by if isinstance(frame.by, str) else None
        if channel.key in self._topic_asked:
            # The answer to our /topic (a topic set meanwhile may come first:
            # it says the same).
            self._topic_asked.discard(channel.key)
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

    def _reconnected(self, event: Welcomed, batch: _Batch) -> None:
        welcome = event.welcome
        self.me = welcome.name
        self.header.name_shown = welcome.name
        self.users.me = welcome.name
        self.users.set_online(True)
        history = by_conversation(welcome.history, self.me)
        given = {room_key(room): room for room in welcome.rooms}
        general = room_key(DEFAULT_ROOM)
        for channel in list(self.channels.values()):
            if not channel.room:
                continue
            if channel.key not in given:
                channel.joining = True  # its `room` answer brings what it missed
                continue
            if channel.key == general:
                channel.roster.replace(welcome.users, _count(welcome.user_count))
                self._roster_changed(channel)
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

    # -- older history ---------------------------------------------------------------

    @on(MessageLog.ReachedTop)
    def _reached_top(self, event: MessageLog.ReachedTop) -> None:
        """Scrolled to the top: ask the server for the page before it."""
        channel = next((c for c in self.channels.values() if c.log is event.log), None)
        if channel is None:
            return
        request = channel.conversation.next_page()
        if request is None:
            return
        if channel.room:
            asked = self.client.history(request.before, request.limit, room=channel.title)
        else:
            asked = self.client.history(request.before, request.limit, with_=channel.title)
        if asked:
            channel.conversation.page_asked()

    def _older(self, reply: HistoryReply) -> None:
        if reply.with_ is not UNSET and isinstance(reply.with_, str):
            channel = self.channels.get(dm_key(reply.with_))
        else:
            channel = self._room(reply.room if isinstance(reply.room, str) else DEFAULT_ROOM)
        if channel is None:
            return
        older = channel.conversation.older(reply.messages)
        if not older:
            channel.log.prepend([Entry(Kind.SEPARATOR, "", "beginning of history")])
            return
        channel.log.prepend([self._history_entry(m) for m in older])

    # -- entries ---------------------------------------------------------------

    def _history_entry(self, message: Stored) -> Entry:
        """A stored message or DM as the log shows it (DMs we sent as DM_OUT)."""
        if isinstance(message, Message):
            return self._message_entry(message)
        mine = name_key(message.from_) == name_key(self.me)
        return Entry(
            Kind.DM_OUT if mine else Kind.DM_IN,
            self.clock.hhmm(message.ts),
            clean(message.text),
            name=clean(message.to if mine else message.from_, single_line=True),
            own=mine,
        )

    def _message_entry(self, message: Message) -> Entry:
        text = clean(message.text)
        own = name_key(message.from_) == name_key(self.me)
        return Entry(
            Kind.ACTION if message.action else Kind.CHAT,
            self.clock.hhmm(message.ts),
            text,
            name=clean(message.from_, single_line=True),
            mention=not own and mentions(text, self.me),
            own=own,
        )

    def _system(self, text: str, *, when: str | None = None) -> Entry:
        return Entry(Kind.SYSTEM, self.clock.hhmm(when), clean(text))

    def _error(self, text: str) -> Entry:
        return Entry(Kind.ERROR, self.clock.hhmm(), clean(text))

    def _mark(self, out: Outgoing) -> None:
        own = self._own.pop(out.id, None)
        if own is None:
            return
        channel, entry = own
        entry.status = out.status
        if out.status is SendStatus.SENT and out.ts:
            entry.time = self.clock.hhmm(out.ts)
        if out.status is SendStatus.FAILED:
            entry.reason = f"{out.error_code}: {out.error_message}"
        channel.log.touch(entry)

    # -- typed lines -------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def _submitted(self, event: ChatInput.Submitted) -> None:
        command = parse(event.text)
        if command is None:
            return
        if isinstance(command, Quit):
            await self.app.action_quit()
            return
        self._run(command)
        if not isinstance(command, ClearLog):
            self.log_view.scroll_to_live()

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
                elif self.client.who(channel.title):
                    self._who_asked[channel.key] = self._who_asked.get(channel.key, 0) + 1
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
            case ClearLog():
                self._own = {i: (c, e) for i, (c, e) in self._own.items() if c is not channel}
                log.clear()
            case ShowHelp():
                self.action_help()
            case Quit():
                self.app.exit(0)  # reached only from code; typed /quit is awaited above
            case CommandError(message=message):
                log.add(self._error(message))

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
        if existing is not None and existing.room:
            self.switch_to(existing)
            return
        if not self.rooms_feature:
            log.add(self._error("this server has no rooms besides general"))
        elif self.client.join_room(room):
            self._go_to.add(room_key(room))
            log.add(self._system(f"joining #{room}…"))
        else:
            log.add(self._error("you are offline; /join works once reconnected"))

    def _part(self, room: str | None) -> None:
        log = self.log_view
        channel = self.current if room is None else self.channels.get(room_key(room))
        if channel is None:
            log.add(self._error(f"you are not in #{room}"))
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
        elif topic is None:
            self._topic_asked.add(channel.key)

    def _picked(self, room: str | None) -> None:
        if room is not None:
            self._join(room)

    def _send(self, text: str, *, action: bool = False, to: str | None = None) -> None:
        """Queue a say or dm and show it at once, marked pending."""
        try:
            clean_text(text)
        except ProtocolError as exc:
            # Checked here as well as on the server: a frame over the size
            # limit would make the server drop the connection, and the resend
            # after reconnecting would do it again.
            self.log_view.add(self._error(f"not sent: {exc.message} ({exc.code})"))
            return
        channel = self.current
        if to is None and not channel.room:
            if action:
                self.log_view.add(
                    self._error("/me works in rooms; direct messages have no actions")
                )
                return
            to = channel.title
        if to is not None:
            channel = self._dm(to)
            self.switch_to(channel)
            out = self.client.dm(to, text)
            kind, name = Kind.DM_OUT, clean(to, single_line=True)
        else:
            out = self.client.say(text, action=action, room=channel.title)
            kind, name = (Kind.ACTION if action else Kind.CHAT), self.me
        entry = Entry(kind, self.clock.hhmm(), clean(text), name=name, status=out.status, own=True)
        if out.status is SendStatus.FAILED:  # refused before it left, e.g. too long
            entry.reason = f"{out.error_code}: {out.error_message}"
        else:
            self._own[out.id] = (channel, entry)
        channel.log.add(entry)

    # -- actions ---------------------------------------------------------------

    def action_page_up(self) -> None:
        self.log_view.page_up()

    def action_page_down(self) -> None:
        self.log_view.scroll_page_down(animate=False)

    def action_live(self) -> None:
        self.log_view.scroll_to_live()

    def action_help(self) -> None:
        lines = help_lines()
        self.log_view.extend([self._system(line) for line in lines])
        self.log_view.scroll_to_live()


def _room_of(room: str | object) -> str:
    """A frame's room, `general` when it has none (a server before rooms)."""
    return room if isinstance(room, str) else DEFAULT_ROOM


def _count(user_count: int | object) -> int | None:
    return user_count if isinstance(user_count, int) else None


def _room_detail(summary: RoomSummary) -> str:
    here = "1 here" if summary.members == 1 else f"{summary.members} here"
    return f"{here} · {summary.topic}" if summary.topic else here


def _plural(count: int) -> str:
    return "message" if count == 1 else "messages"
