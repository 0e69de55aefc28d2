"""The chat screen: client events in, routed to one `Channel` per room and per DM partner (its
log, conversation, user list); typed lines and keys in, client calls out. It must not wait on the
network, nor keep what a conversation knows (`Conversation` and `Roster` do).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
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
    DirectMessage,
    Message,
    Moderation,
    RoomSummary,
    Stored,
    Welcome,
    name_key,
)

from ..client import (
    ChatClient,
    Outgoing,
    SendStatus,
    State,
)
from ..clock import Clock, epoch_of
from ..commands import (
    ClearLog,
    JoinRoom,
    ListRooms,
    OpenDirect,
    PartRoom,
    Place,
    Quit,
    Target,
    keeps_secret,
    parse,
)
from ..config import UiConfig
from ..conversation import (
    Conversation,
    by_conversation,
    dm_key,
    partner,
    room_key,
)
from ..entries import Entry, Kind
from ..news import readable_times
from ..standing import Sanction
from ..widgets import (
    ChatHeader,
    ChatInput,
    HandsPanel,
    MessageLog,
    RoomNotice,
    Sidebar,
    SidebarItem,
    UserList,
)
from ..widgets.action_log import ActionLog
from ..widgets.sidebar import NUMBERED
from .channel import (
    Channel,
    error_entry,
    known_count,
    message_entry,
    separator,
    stored_entry,
    system_entry,
)
from .chat_account import AccountActions, AccountNotice
from .chat_actions import MessageActions
from .chat_commands import TypedCommands
from .chat_events import NetworkEvents
from .chat_moderation import ModerationActions
from .help import HelpScreen
from .switcher import Places, QuickSwitcher


class UnreadBar(Static):
    """The "3 new messages below" bar, shown while the log is scrolled up."""

    def on_click(self) -> None:
        screen = self.screen
        if isinstance(screen, ChatScreen):
            screen.log_view.scroll_to_live()


class ChatScreen(
    MessageActions,
    NetworkEvents,
    TypedCommands,
    AccountActions,
    ModerationActions,
    Screen[None],
):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
        Binding("pageup", "page_up", "Scroll", priority=True),
        Binding("pagedown", "page_down", "Scroll down", priority=True, show=False),
        Binding("escape", "live", "Live", priority=True, show=False),
        Binding("f1", "help", "Help"),
        # F2 is the account's key: the footer names it only while it is
        # worth a look (the first of these that is enabled is the one shown).
        Binding("f2", "log_in_again", "Log in"),
        Binding("f2", "choose_password", "New password"),
        Binding("f2", "account", "Account", show=False),
        # Shown only while they apply: an announcement to acknowledge, a hand to take.
        Binding("f3", "seen", "Seen"),
        Binding("f4", "next_hand", "Next hand"),
        # ctrl+k replaces the message box's "delete to the end of the line".
        Binding("ctrl+k", "switcher", "Switch", priority=True),
        Binding("alt+down,ctrl+pagedown", "next_channel", "Next", show=False, priority=True),
        Binding("alt+up,ctrl+pageup", "previous_channel", "Previous", show=False, priority=True),
        Binding("ctrl+n", "next_unread", "Next unread", show=False, priority=True),
        *(
            Binding(f"alt+{n}", f"go_to({n})", f"Conversation {n}", show=False, priority=True)
            for n in range(1, NUMBERED + 1)
        ),
        # Message actions (chat_actions.py): select a message, then act on it.
        Binding("ctrl+up", "select_message(-1)", "Select", show=False, priority=True),
        Binding("ctrl+down", "select_message(1)", "Select next", show=False, priority=True),
        Binding("ctrl+f", "search", "Search", show=False, priority=True),
        Binding("ctrl+o", "editor", "Editor", show=False, priority=True),
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
        self._who_shown: set[str] = set()  # ids of the `who` requests /who asked: answers to show
        self._rooms_asked = False  # show the next room list as a dialog
        self._go_to: set[str] = set()  # rooms to show as soon as their `room` answer comes
        self.known_rooms: list[RoomSummary] = []  # the latest room list from the server
        self._switcher: QuickSwitcher | None = None
        # Moderation: timed mutes on us shown (to say when each runs out), the
        # news of a kick or ban awaiting its `left`, the /hands asked for the
        # log, and whether the ban from the whole chat was explained already.
        self._mutes_shown: dict[str, Sanction] = {}
        self._put_out: dict[str, Moderation] = {}
        self._hands_shown: set[str] = set()
        self._banned_shown = False
        self._address = ""  # the server address the header was given last
        self._today = clock.day_key(clock.now())  # the date the day separators were named on
        self._first_history = by_conversation(welcome.history, self.me)
        self._init_actions()
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
        log = ActionLog(
            clock=self.clock,
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
        # A room we could not join again is not remembered: it would fail again.
        rooms = tuple(c.title for c in self.ordered() if c.room and c.gone is None)
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
                yield AccountNotice(id="account-notice", markup=False)
                yield RoomNotice(id="room-notice")
            with Vertical(id="side-pane"):
                yield UserList(id="users")
                yield HandsPanel(self.clock, id="hands")
        yield ChatInput(
            id="input",
            names=lambda: self.current.roster.names,
            rooms=self._room_names,
            hands=lambda: self.query_one("#hands", HandsPanel).names,
            history_size=self.ui.input_history,
            placeholder=self._placeholder(self.current),
            edit_last=self._edit_last,
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
        if self.taken_down():
            return  # quit (a signal, say) while the screen was being put up
        welcome = self.welcome
        header = self.header
        self._address = header.address = self.client.address
        header.secure = self.client.tls is not None
        header.name_shown = self.me
        self.set_status(self.client.state, "", self.client.rtt)
        self._show_account()
        general = room_key(DEFAULT_ROOM)
        given = {room_key(room) for room in welcome.rooms}
        for channel in list(self.channels.values()):
            if channel.room and channel.key not in given:
                continue  # being joined again; its `room` answer fills it
            if channel.key == general:
                channel.roster.replace(
                    welcome.users, known_count(welcome.user_count), welcome.roles
                )
            entries = self._begin(channel, self._first_history.get(channel.key, []))
            channel.log.extend(entries)
            if channel.room:
                self.client.who(channel.title, watch=True)
        count = known_count(welcome.user_count) or len(welcome.users)
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
        if welcome.registered and welcome.temporary_password:
            entries.append(
                self._system(
                    "your password is a one-time one the operator made: "
                    "choose your own with F2 or /password"
                )
            )
        self.current.log.extend(entries)
        self.switch_to(self.current, force=True)
        # At once: a deferred focus could land after the user's first keys
        # (a selection made with Ctrl+Up) and undo them.
        self.set_focus(self.query_one("#input", ChatInput))
        self._changed_channels()
        # Counts a mute down and says when it ran out; what it shows comes
        # from the injected clock, so a test moves time by calling `_tick`.
        self.set_interval(self.ui.tick, self._tick)

    def _begin(self, channel: Channel, history: list[Stored]) -> list[Entry]:
        """A channel's first history, between "earlier messages" and "live"."""
        channel.loaded = True
        entries: list[Entry] = []
        shown = channel.conversation.begin(history)
        if shown:
            entries.append(Entry(Kind.SEPARATOR, "", "earlier messages"))
            entries.extend(self._stored(m) for m in shown)
            entries.append(separator("live"))
        return entries

    def fatal(self, reason: str) -> None:
        """The network worker died: nothing more will arrive or leave."""
        self.set_status(State.CLOSED, "restart the client to reconnect", None)
        self.users.set_online(False)
        self.log_view.add(self._error(f"{reason}; restart the client to reconnect"))

    def on_resize(self) -> None:
        # The breakpoint classes change with the width: the header says what
        # is unread elsewhere only while the sidebar is collapsed, and the
        # queue of hands is a notice line while its panel is hidden.
        self.call_after_refresh(self._refresh_sidebar)
        self.call_after_refresh(self._refresh_standing)

    # -- switching ----------------------------------------------------------------

    def switch_to(self, channel: Channel, *, force: bool = False) -> None:
        """Show `channel`: its log (where it was scrolled), its users, its topic."""
        previous = self.current
        if channel is previous and not force:
            return
        box = self.query_one("#input", ChatInput)
        if channel is not previous:
            self._leaving_conversation()  # a reply or an edit belongs to the one left
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
        self._refresh_standing()

    def _placeholder(self, channel: Channel) -> str:
        held = self._standing_placeholder(channel)
        if held is not None:
            return held
        return f"Message {channel.label} · Enter sends · /help lists commands"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        shown = self._moderation_check(action)
        if shown is not None:
            return shown
        return AccountActions.check_action(self, action, parameters)

    def _show_topic(self) -> None:
        channel = self.current
        self.header.room = channel.label
        self.header.topic = channel.topic if channel.room else "direct messages"

    def taken_down(self) -> bool:
        """The app is quitting and the widgets are gone: a timer or a late
        callback (the tick, an after-resize redraw) has nothing to draw."""
        return not self.query("#header")

    def _refresh_sidebar(self) -> None:
        if self.taken_down():
            return
        items = [
            SidebarItem(
                c.key,
                c.title,
                c.room,
                c.conversation.unread,
                c.conversation.mentions,
                c.joining,
                c.gone is not None,
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
        found = self.query("#header")
        if not found:
            return  # the app is closing: the last "disconnected" has nowhere to go
        header = found.first(ChatHeader)
        if self.client.address != self._address:
            # Another server of several answered (a failover).
            self._address = header.address = self.client.address
        header.state = state
        header.detail = detail
        header.rtt = rtt

    @on(UserList.WidthChanged)
    def _fit_users(self, event: UserList.WidthChanged) -> None:
        width = max(self.ui.users_min, min(self.ui.users_max, event.width))
        self.query_one("#side-pane").styles.width = width

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

    # -- entries -------------------------------------------------------------------

    def _message(self, message: Message) -> Entry:
        return self._dressed(message, message_entry(message, self.me, self.clock))

    def _stored(self, message: Stored) -> Entry:
        return self._dressed(message, stored_entry(message, self.me, self.clock))

    def _system(self, text: str, *, when: str | None = None) -> Entry:
        return system_entry(text, self.clock, when)

    def _error(self, text: str) -> Entry:
        # Errors carry the server's words, whose times are RFC 3339 UTC.
        return error_entry(readable_times(text, self.clock), self.clock)

    def _mark(self, out: Outgoing) -> None:
        own = self._own.pop(out.id, None)
        if own is None:
            return
        channel, entry = own
        entry.status = out.status
        if out.status is SendStatus.SENT and out.ts:
            entry.time = self.clock.hhmm(out.ts)
            entry.at = epoch_of(out.ts) or entry.at
            entry.seq = out.seq  # so it can be deleted, and its tombstone found
        if out.status is SendStatus.FAILED:
            reason = readable_times(out.error_message or "", self.clock)
            entry.reason = f"{out.error_code}: {reason}"
        channel.log.touch(entry)

    # -- typed lines -------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def _submitted(self, event: ChatInput.Submitted) -> None:
        text = event.text if event.redacted else self._action_submit(event.text)
        if text is None:
            return  # an edit, a reaction, a search or a paste (chat_actions.py)
        command = parse(text)
        if command is None:
            return
        if event.redacted:
            # What followed may have been a password: it is gone, unsent and
            # unkept, and it is not repeated here either.
            self.log_view.add(
                self._error(
                    f"{event.text} takes no password on the line: what you typed after it "
                    "was not sent or kept. Type it in the box that opens."
                )
            )
        if isinstance(command, Quit):
            await self.app.action_quit()
            return
        self._run(command)
        if keeps_secret(event.text) and self._password_dialog is None:
            # No dialog to type the password into: the box takes keys again.
            self.query_one("#input", ChatInput).release()
        if not isinstance(command, ClearLog):
            self.log_view.scroll_to_live()

    # -- actions ---------------------------------------------------------------

    def action_page_up(self) -> None:
        self.log_view.page_up()

    def action_page_down(self) -> None:
        self.log_view.page_down()

    def action_live(self) -> None:
        if self._cancel_action():
            return  # Esc ended a reply, an edit or a selection first
        self.log_view.scroll_to_live()

    def action_help(self) -> None:
        """F1 and /help: the keys and commands over the chat, nothing in the log."""
        if not isinstance(self.app.screen, HelpScreen):
            self.app.push_screen(HelpScreen())


def _room_detail(summary: RoomSummary) -> str:
    here = "1 here" if summary.members == 1 else f"{summary.members} here"
    return f"{here} · {summary.topic}" if summary.topic else here
