"""The chat screen: header, message log, user list, input and footer.

It turns batches of client events into log entries and list updates, and
typed lines into commands for the client. It never waits on the network: the
client's send methods only queue.
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
    Users,
    Welcome,
    clean_text,
    format_ts,
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
from ..entries import Entry, Kind, clean, mentions
from ..widgets import ChatHeader, ChatInput, MessageLog, UserList

NARROW_BELOW = 70  # columns; narrower terminals hide the user list


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
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (NARROW_BELOW, "-wide"),
    ]

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
        self._own: dict[str, Entry] = {}
        self._last_seq = 0
        self._lost_at: float | None = None
        # Older pages: the oldest seq shown, whether a request is out, and
        # whether the server said there is nothing older.
        self._oldest_seq: int | None = None
        self._history_asked = False
        self._history_done = False

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ChatHeader(id="header")
        with Horizontal(id="chat-body"):
            with Vertical(id="log-pane"):
                yield MessageLog(
                    id="log", scrollback=self.ui.scrollback, cache_size=self.ui.strip_cache
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
            entries.extend(self._history_entry(m) for m in welcome.history)
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
                    self._note_seq(out.seq)
                    self._mark(out)
                case Failed(out=out):
                    self._mark(out)
                case ConnectionLost(reason=reason, at=at):
                    self._lost_at = at
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
                self._note_seq(frame.seq)
                return self._message_entry(frame)
            case DirectMessage():
                self._note_seq(frame.seq)
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
        history = welcome.history
        if history and history[-1].seq < self._last_seq:
            # seq went backwards: a different (restarted) server. Its history
            # is new to us only from the moment we lost the old one.
            since = format_ts(self._lost_at) if self._lost_at is not None else ""
            missed = [m for m in history if m.ts >= since]
            entries.append(self._system("the server was restarted; its history starts again"))
        else:
            missed = [m for m in history if m.seq > self._last_seq]
        if missed:
            entries.append(Entry(Kind.SEPARATOR, "", "missed while offline"))
            entries.extend(self._history_entry(m) for m in missed)
            entries.append(Entry(Kind.SEPARATOR, "", "live"))
            for m in missed:
                self._note_seq(m.seq)
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

    def _note_seq(self, seq: int | None) -> None:
        if seq is None:
            return
        if seq > self._last_seq:
            self._last_seq = seq
        if self._oldest_seq is None or seq < self._oldest_seq:
            self._oldest_seq = seq

    @on(MessageLog.ReachedTop)
    def _reached_top(self) -> None:
        """Scrolled to the top: ask the server for the page before it."""
        if self._history_asked or self._history_done:
            return
        if self.client.history(self._oldest_seq, self.ui.history_page):
            self._history_asked = True

    def _older(self, messages: list[Message | DirectMessage]) -> None:
        self._history_asked = False
        oldest = self._oldest_seq
        older = [m for m in messages if oldest is None or m.seq < oldest]
        if not older:
            self._history_done = True
            self.log_view.prepend([Entry(Kind.SEPARATOR, "", "beginning of history")])
            return
        self.log_view.prepend([self._history_entry(m) for m in older])

    def _history_entry(self, message: Message | DirectMessage) -> Entry:
        """A stored message or DM as the log shows it (DMs we sent as DM_OUT)."""
        if isinstance(message, Message):
            return self._message_entry(message)
        self._note_seq(message.seq)
        mine = name_key(message.from_) == name_key(self.me)
        return Entry(
            Kind.DM_OUT if mine else Kind.DM_IN,
            self.clock.hhmm(message.ts),
            clean(message.text),
            name=clean(message.to if mine else message.from_, single_line=True),
            own=mine,
        )

    def _message_entry(self, message: Message) -> Entry:
        self._note_seq(message.seq)
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
