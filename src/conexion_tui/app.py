"""The Textual app: the start screen, the network worker, the event batcher, routing to screens,
quitting with `bye`. It must not parse frames or keep session state: the client and screens do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from platformdirs import user_downloads_path
from textual import work
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from conexion_protocol import format_address

from .client import ChatClient, ClientEvent, JoinError, RttMeasured, State, StateChanged
from .clock import Clock, LocalClock
from .config import ClientConfig, UiConfig
from .messages import JoinFailed, NetEvents, SessionStarted, StatusUpdate
from .saved import SavedRooms, default_folder
from .screens import ChatScreen, StartScreen

log = logging.getLogger(__name__)

# Signals that end the client the way ctrl+q does: `bye` to the server, the
# terminal given back, exit status 0. SIGTERM is a polite kill; SIGHUP is the
# terminal (or the ssh session) going away.
QUIT_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def deliver_alt_digits() -> None:
    """Let alt+1 … alt+9 reach the app as the keys they are.

    xterm, tmux and most Linux terminals send alt+1 as ESC 1. Textual 8 reads
    ESC 1 … ESC 0 as the characters WezTerm on macOS means by them (option+1
    is "¡"), so the bindings never fire and "¡™£" lands in the message box.
    Off macOS nobody types those characters that way (a "¡" key sends the
    character itself, which still arrives as typed), so the sequences go
    back to Textual's ordinary rule: ESC then a key is alt+key.
    """
    if sys.platform == "darwin":
        return
    for digit in "1234567890":
        sequence = f"\x1b{digit}"
        if isinstance(ANSI_SEQUENCES_KEYS.get(sequence), str):
            del ANSI_SEQUENCES_KEYS[sequence]


def as_markup(text: str) -> str:
    """`text` as markup that reads as itself: every `[` escaped (Textual's
    `escape` leaves `[DURATION]` alone, which the palette then drops)."""
    return text.replace("[", "\\[")


class EventBatcher:
    """Collects client events and posts them to the app in batches.

    A quiet chat shows each message `window` seconds after it arrives; under
    a flood, updates come at most every `min_interval` seconds, so the screen
    work per message shrinks and keys stay responsive. Status events (state,
    RTT) fold into a single replaceable `StatusUpdate`.
    """

    def __init__(self, app: App[object], window: float, min_interval: float) -> None:
        self.app = app
        self.window = window
        self.min_interval = min_interval
        self._last_flush = 0.0
        self._events: list[ClientEvent] = []
        self._status: StatusUpdate | None = None
        self._state = State.CONNECTING
        self._detail = ""
        self._rtt: float | None = None
        self._scheduled: asyncio.TimerHandle | None = None

    def __call__(self, event: ClientEvent) -> None:
        match event:
            case StateChanged(state=state, detail=detail):
                self._state, self._detail = state, detail
                self._status = StatusUpdate(self._state, self._detail, self._rtt)
            case RttMeasured(seconds=seconds):
                self._rtt = seconds
                self._status = StatusUpdate(self._state, self._detail, self._rtt)
            case _:
                self._events.append(event)
        if self._scheduled is None:
            loop = asyncio.get_running_loop()
            delay = max(self.window, self._last_flush + self.min_interval - loop.time())
            self._scheduled = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        events, self._events = self._events, []
        status, self._status = self._status, None
        if events or status is not None:
            self._last_flush = asyncio.get_running_loop().time()
        if events:
            self.app.post_message(NetEvents(tuple(events)))
        if status is not None:
            self.app.post_message(status)

    def cancel(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None


class ConexionApp(App[int]):
    """`conexion-tui`: a start screen to pick a name, then the chat."""

    # Absolute, so that subclasses defined elsewhere (tests) find it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "Conexion"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        host: str,
        port: int,
        name: str | None = None,
        *,
        suggested_name: str = "",
        clock: Clock | None = None,
        client_config: ClientConfig | None = None,
        ui_config: UiConfig | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        data_dir: Path | None = None,
        handle_signals: bool = False,
        more: tuple[tuple[str, int], ...] = (),
    ) -> None:
        super().__init__()
        # Only the real program takes over SIGTERM and SIGHUP: an app made in
        # a test must not replace the test runner's handlers.
        self.handle_signals = handle_signals
        deliver_alt_digits()
        # Where the rooms we were in are remembered; None remembers nothing.
        self.saved = SavedRooms(data_dir) if data_dir is not None else None
        self.password = password  # pre-fills the start screen; never shown in clear
        self.tls = tls
        self.host = host
        self.port = port
        self.more = more  # other servers to try, in order, when (host, port) fails
        self.name_given = name
        self.suggested_name = suggested_name
        self.clock: Clock = clock or LocalClock()
        self.client_config = client_config or ClientConfig()
        self.ui_config = ui_config or UiConfig()
        self.client: ChatClient | None = None
        self._batcher = EventBatcher(
            self, self.ui_config.batch_window, self.ui_config.min_flush_interval
        )
        self._chat: ChatScreen | None = None
        self._quitting = False

    @property
    def quitting(self) -> bool:
        return self._quitting

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    def on_mount(self) -> None:
        if self.handle_signals:
            self._catch_signals()
        name = self.name_given or self.suggested_name
        self.push_screen(
            StartScreen(
                self.address,
                name,
                autojoin=self.name_given is not None,
                password=self.password,
                secure=self.tls is not None,
            )
        )

    # -- joining -------------------------------------------------------------

    def on_start_screen_join_requested(self, message: StartScreen.JoinRequested) -> None:
        self.connect(message.name, message.password, message.account_password)

    @work(exclusive=True, group="net", exit_on_error=False)
    async def connect(
        self, name: str, password: str | None = None, account_password: str | None = None
    ) -> None:
        """The network worker: join, then serve the connection until quit.

        It owns the socket (inside the client) and only posts messages; the
        screens never wait for it.
        """
        client = ChatClient(
            self.host, self.port, self._batcher, self.client_config, tls=self.tls, more=self.more
        )
        rooms = self.saved.load(self.address) if self.saved is not None else None
        try:
            welcome = await client.join(
                name, password, account_password=account_password, rooms=rooms
            )
        except JoinError as exc:
            self.post_message(JoinFailed(exc.code, exc.message))
            return
        self.client = client
        self.post_message(SessionStarted(welcome))
        try:
            await client.run()
        finally:
            self._batcher.flush()

    def on_join_failed(self, message: JoinFailed) -> None:
        screen = self.screen
        if isinstance(screen, StartScreen):
            screen.show_error(message.code, message.message)

    async def on_session_started(self, message: SessionStarted) -> None:
        assert self.client is not None
        if self._quitting:
            return  # joined just as we were told to quit: nothing to show
        self._chat = ChatScreen(self.client, message.welcome, clock=self.clock, ui=self.ui_config)
        # Awaited so the screen is mounted before the next batch of events.
        await self.switch_screen(self._chat)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A bug in the network code must not leave a silent, frozen chat:
        say what broke, where the user is looking."""
        worker = event.worker
        if worker.group != "net" or event.state is not WorkerState.ERROR:
            return
        reason = f"the connection failed unexpectedly: {worker.error!r}"
        screen = self.screen
        if isinstance(screen, StartScreen):
            screen.show_error("error", reason)
        elif self._chat is not None and self._chat.is_mounted:
            self._chat.fatal(reason)

    # -- events ------------------------------------------------------------------

    def _showing_chat(self) -> bool:
        # Once quitting, what still arrives (the answer to a request just
        # sent, the last "disconnected") may find the screen half taken down.
        return self._chat is not None and self._chat.is_mounted and not self._quitting

    def on_net_events(self, message: NetEvents) -> None:
        if self._showing_chat():
            assert self._chat is not None
            self._chat.apply(message.events)

    def on_status_update(self, message: StatusUpdate) -> None:
        if self._showing_chat():
            assert self._chat is not None
            self._chat.set_status(message.state, message.detail, message.rtt)

    def on_chat_screen_rooms_changed(self, message: ChatScreen.RoomsChanged) -> None:
        if self.saved is not None:
            self.saved.save(self.address, list(message.rooms))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): Textual's own, and the chat's."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, ChatScreen):
            yield SystemCommand(
                "Join room…",
                "Go to a room you are in, join one, or create a new one",
                lambda: screen.action_switcher("#"),
            )
            yield SystemCommand(
                "Message user…",
                "Open the direct conversation with someone",
                lambda: screen.action_switcher("@"),
            )
            yield SystemCommand(
                "Leave room", "Leave the room shown (a DM: close it)", screen.action_leave
            )
            yield SystemCommand("Room list", "Every room on the server", screen.action_rooms)
            yield SystemCommand(
                "Switch conversation…", "The quick switcher (ctrl+k)", screen.action_switcher
            )
            # Moderation and the classroom tools, those our rank may use here.
            # The palette reads titles and help as markup: `[DURATION]` would
            # vanish, and a name is the network's, so both are escaped.
            for title, help_text, run in screen.moderation_commands():
                yield SystemCommand(as_markup(title), as_markup(help_text), run)
            if screen.accounts_feature:
                session = screen.client.session
                if screen.client.waiting_for_login:
                    yield SystemCommand(
                        "Log in again…",
                        "Type the password the reconnect waits for (F2)",
                        screen.action_account,
                    )
                if session.registered:
                    yield SystemCommand(
                        "Change password…",
                        "Choose a new password for your account (F2, /password)",
                        screen.action_change_password,
                    )
                else:
                    yield SystemCommand(
                        "Register this name…",
                        "Make your name an account with a password (F2, /register)",
                        screen.action_register,
                    )

    # -- screenshots ---------------------------------------------------------------

    def screenshot_folder(self) -> Path:
        """Where the palette's screenshot goes: the Downloads folder if there
        is one, else the client's data folder (made if need be), else here.
        Textual's own choice, a Downloads folder that may not exist, fails."""
        downloads = user_downloads_path()
        if downloads.is_dir():
            return downloads
        folder = self.saved.path.parent if self.saved is not None else default_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return Path.cwd()
        return folder

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        folder = Path(path).expanduser() if path else self.screenshot_folder()
        # Textual says where it went once it is written ("Saved screenshot to …").
        self.deliver_screenshot(filename, str(folder))

    # -- quitting ----------------------------------------------------------------

    def _catch_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in QUIT_SIGNALS:
            # Not on Windows, and only in the main thread: then the default stays.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        log.info("%s: quitting", signal.Signals(signum).name)
        # The handler runs outside Textual's message loop: quit from inside it.
        self.call_next(self.action_quit)

    def on_unmount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in QUIT_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signum)

    async def action_quit(self) -> None:
        """Say bye (bounded by the client's close timeout), then exit."""
        if self._quitting:
            return
        self._quitting = True
        client = self.client
        if client is not None:
            with contextlib.suppress(OSError):
                await client.close()
        self._batcher.cancel()
        self.exit(0)
