"""The chat screen: client events in, log entries and list updates out; typed lines in, client
calls out. It must not wait on the network, nor keep conversation state (`Conversation` does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from conexion_protocol import (
    DirectMessage,
    Error,
    HistoryReply,
    Joined,
    Left,
    Message,
    ProtocolError,
    Renamed,
    Shutdown,
    Stored,
    Users,
    Welcome,
    clean_text,
    name_key,
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
    CommandError,
    ListUsers,
    Quit,
    SendAction,
    SendDirect,
    SendText,
    ShowHelp,
    help_lines,
    parse,
)
from ..config import UiConfig
from ..conversation import Conversation
from ..entries import Entry, Kind, clean, mentions
from ..widgets import ChatHeader, ChatInput, MessageLog, UserList


class UnreadBar(Static):
    """The "3 new messages below" bar, shown while the log is scrolled up."""

    def on_click(self) -> None:
        self.screen.query_one("#log", MessageLog).scroll_to_live()


class ChatScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
        Binding("pageup", "page_up", "Scroll", priority=True),
        Binding("pagedown", "page_down", "Scroll down", priority=True, show=False),
        Binding("escape", "live", "Live", priority=True, show=False),
        Binding("f1", "help", "Help"),
    ]
    # Set per screen from `UiConfig.narrow_below`: narrower hides the user list.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = None

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
        self.HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (ui.narrow_below, "-wide")]
        self._own: dict[str, Entry] = {}  # our sends still waiting for an answer, by id
        # The log's one conversation: the general room, with your DMs in it
        # as the server's history for general carries them (one seq counter).
        self.conversation = Conversation(ui.history_page)

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ChatHeader(id="header")
        with Horizontal(id="chat-body"):
            with Vertical(id="log-pane"):
                yield MessageLog(
                    id="log",
                    scrollback=self.ui.scrollback,
                    cache_size=self.ui.strip_cache,
                    prune_share=self.ui.prune_share,
                )
                yield UnreadBar(id="unread", markup=False)
            yield UserList(id="users")
        yield ChatInput(
            id="input",
            names=lambda: self.users.names,
            history_size=self.ui.input_history,
            placeholder="Message everyone · Enter sends · /help lists commands",
        )
        # Compact, and without the palette hint, so that ^q still shows on a
        # narrow terminal (ctrl+p opens the palette all the same).
        yield Footer(compact=True, show_command_palette=False)

    @property
    def log_view(self) -> MessageLog:
        return self.query_one("#log", MessageLog)

    @property
    def users(self) -> UserList:
        return self.query_one("#users", UserList)

    @property
    def header(self) -> ChatHeader:
        return self.query_one("#header", ChatHeader)

    def on_mount(self) -> None:
        welcome = self.welcome
        header = self.header
        header.address = self.client.address
        header.name_shown = self.me
        self.set_status(self.client.state, "", self.client.rtt)
        self.users.set_users(welcome.users, self.me)
        entries: list[Entry] = []
        if welcome.history:
            entries.append(Entry(Kind.SEPARATOR, "", "earlier messages"))
            entries.extend(self._history_entry(m) for m in self.conversation.begin(welcome.history))
            entries.append(Entry(Kind.SEPARATOR, "", "live"))
        others = len(welcome.users) - 1
        online = "nobody else is online" if others <= 0 else f"{others} more online"
        entries.append(
            self._system(
                f"joined as {self.me}; {online}. "
                "Type a message and press Enter; /help lists the commands."
            )
        )
        if welcome.motd:
            entries.append(self._system(f"message of the day: {welcome.motd}"))
        self.log_view.extend(entries)
        self.query_one("#input", ChatInput).focus()

    def fatal(self, reason: str) -> None:
        """The network worker died: nothing more will arrive or leave."""
        self.set_status(State.CLOSED, "restart the client to reconnect", None)
        self.users.set_online(False)
        self.log_view.add(self._error(f"{reason}; restart the client to reconnect"))

    # -- status ----------------------------------------------------------------

    def set_status(self, state: State, detail: str, rtt: float | None) -> None:
        header = self.header
        header.state = state
        header.detail = detail
        header.rtt = rtt

    @on(MessageLog.UnreadChanged)
    def _unread_changed(self, event: MessageLog.UnreadChanged) -> None:
        label = self.query_one("#unread", Static)
        if event.count:
            noun = "message" if event.count == 1 else "messages"
            label.update(Text(f"↓ {event.count} new {noun} below · Esc jumps to live"))
        label.set_class(event.count > 0, "-visible")

    # -- events from the network -------------------------------------------

    def apply(self, events: Iterable[ClientEvent]) -> None:
        """Show a batch of client events: one log update for the whole batch."""
        log = self.log_view
        scrolled_up = not log.following
        new: list[Entry] = []
        ring = False
        for event in events:
            match event:
                case Received(frame=frame):
                    entry = self._frame_entry(frame)
                    if entry is not None:
                        new.append(entry)
                        ring = ring or entry.mention or entry.kind is Kind.DM_IN
                case Acked(out=out):
                    self.conversation.note(out.seq)
                    self._mark(out)
                case Failed(out=out):
                    self._mark(out)
                case ConnectionLost(reason=reason, at=at):
                    self.conversation.lost(at)
                    self.users.set_online(False)
                    new.append(self._system(f"connection lost at {self.clock.hhmm(at)}: {reason}"))
                case Welcomed():
                    new.extend(self._reconnected(event))
        if new:
            log.extend(new)
        if ring and (scrolled_up or not self.app.app_focus):
            self.app.bell()

    def _frame_entry(self, frame: object) -> Entry | None:
        match frame:
            case Message():
                self.conversation.note(frame.seq)
                return self._message_entry(frame)
            case DirectMessage():
                self.conversation.note(frame.seq)
                return Entry(
                    Kind.DM_IN,
                    self.clock.hhmm(frame.ts),
                    clean(frame.text),
                    name=clean(frame.from_, single_line=True),
                )
            case Joined(name=name):
                self.users.add(name)
                return self._system(f"{name} joined", when=frame.ts)
            case Left(name=name, reason=reason):
                self.users.remove(name)
                return self._system(f"{name} left ({reason})", when=frame.ts)
            case Renamed(old=old, new=new):
                self.users.rename(old, new)
                if name_key(old) == name_key(self.me):
                    self.me = new
                    self.header.name_shown = new
                    return self._system(f"you are now {new}", when=frame.ts)
                return self._system(f"{old} is now {new}", when=frame.ts)
            case Users(users=names):
                self.users.set_users(names, self.me)
                listed = ", ".join(names)
                return self._system(f"online ({len(names)}): {listed}")
            case Error(code=code, message=message):
                return self._error(f"{message} ({code})")
            case Shutdown(message=message):
                return self._system(f"server notice: {message}")
            case HistoryReply(messages=messages):
                self._older(messages)
                return None
        return None

    def _reconnected(self, event: Welcomed) -> list[Entry]:
        welcome = event.welcome
        self.me = welcome.name
        self.header.name_shown = welcome.name
        self.users.set_users(welcome.users, self.me)
        self.users.set_online(True)
        entries: list[Entry] = []
        catch_up = self.conversation.rejoin(welcome.history)
        if catch_up.restarted:
            entries.append(self._system("the server was restarted; its history starts again"))
        if catch_up.missed:
            entries.append(Entry(Kind.SEPARATOR, "", "missed while offline"))
            entries.extend(self._history_entry(m) for m in catch_up.missed)
            entries.append(Entry(Kind.SEPARATOR, "", "live"))
        parts = [f"reconnected at {self.clock.hhmm()}"]
        if event.resent:
            parts.append(f"{event.resent} unacknowledged {_plural(event.resent)} resent")
        if event.queued:
            parts.append(f"{event.queued} queued {_plural(event.queued)} sent")
        if not event.resent and not event.queued:
            parts.append("nothing was waiting to be sent")
        entries.append(self._system("; ".join(parts)))
        return entries

    # -- entries ---------------------------------------------------------------

    @on(MessageLog.ReachedTop)
    def _reached_top(self) -> None:
        """Scrolled to the top: ask the server for the page before it."""
        request = self.conversation.next_page()
        if request is not None and self.client.history(request.before, request.limit):
            self.conversation.page_asked()

    def _older(self, messages: list[Stored]) -> None:
        older = self.conversation.older(messages)
        if not older:
            self.log_view.prepend([Entry(Kind.SEPARATOR, "", "beginning of history")])
            return
        self.log_view.prepend([self._history_entry(m) for m in older])

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
        entry = self._own.pop(out.id, None)
        if entry is None:
            return
        entry.status = out.status
        if out.status is SendStatus.SENT and out.ts:
            entry.time = self.clock.hhmm(out.ts)
        if out.status is SendStatus.FAILED:
            entry.reason = f"{out.error_code}: {out.error_message}"
        self.log_view.touch(entry)

    # -- typed lines -------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def _submitted(self, event: ChatInput.Submitted) -> None:
        command = parse(event.text)
        log = self.log_view
        match command:
            case None:
                return
            case SendText(text=text):
                self._send(text)
            case SendAction(text=text):
                self._send(text, action=True)
            case SendDirect(to=to, text=text):
                self._send(text, to=to)
            case ChangeNick(name=name):
                if not self.client.nick(name):
                    log.add(self._error("you are offline; /nick works once reconnected"))
            case ListUsers():
                if not self.client.who():
                    log.add(self._error("you are offline; /who works once reconnected"))
            case ClearLog():
                self._own.clear()
                log.clear()
            case ShowHelp():
                self.action_help()
            case Quit():
                await self.app.action_quit()
            case CommandError(message=message):
                log.add(self._error(message))
        if command is not None and not isinstance(command, ClearLog | Quit):
            log.scroll_to_live()

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
        out = self.client.dm(to, text) if to is not None else self.client.say(text, action=action)
        if to is not None:
            kind, name = Kind.DM_OUT, clean(to, single_line=True)
        else:
            kind, name = (Kind.ACTION if action else Kind.CHAT), self.me
        entry = Entry(kind, self.clock.hhmm(), clean(text), name=name, status=out.status, own=True)
        if out.status is SendStatus.FAILED:  # refused before it left, e.g. too long
            entry.reason = f"{out.error_code}: {out.error_message}"
        else:
            self._own[out.id] = entry
        self.log_view.add(entry)

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


def _plural(count: int) -> str:
    return "message" if count == 1 else "messages"
