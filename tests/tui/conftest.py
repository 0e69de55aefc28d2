"""Helpers for the TUI tests: a fixed clock, fast client timings, bounded
waits, reading the log as drawn, and a server in a background thread for the
snapshot tests (which run the app in their own event loop)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from textual import events
from textual.pilot import Pilot

from conexion_server.config import ServerConfig
from conexion_server.hub import HubConfig
from conexion_server.server import ChatServer
from conexion_tui.app import ConexionApp
from conexion_tui.clock import day_key, day_words, epoch_of, full_words, moment_words
from conexion_tui.config import ClientConfig, UiConfig
from conexion_tui.screens import ChatScreen, StartScreen
from conexion_tui.widgets import ChatInput, MessageLog

T = TypeVar("T")

FIXED_TIME = "12:34"
WAIT = 5.0

# Reconnects within a fraction of a second; no pings unless a test asks.
FAST = ClientConfig(
    connect_timeout=2.0,
    hello_timeout=2.0,
    first_ping=3600.0,
    ping_interval=3600.0,
    dead_after=7200.0,
    backoff_base=0.05,
    backoff_max=0.2,
    close_timeout=2.0,
)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the real data folder, even through the command line."""
    monkeypatch.setenv("CONEXION_DATA_DIR", str(tmp_path_factory.mktemp("data")))


class FixedClock:
    """Every time shown is 12:34, so screens are the same on every run and
    zone. `now()` is the real time plus what a test moved it by (`advance`):
    the server stamps a mute's end with its own clock, and a test moves
    time past it without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.frozen: float | None = None  # set by `stop_at`

    def hhmm(self, when: str | float | None = None) -> str:
        return FIXED_TIME

    def now(self) -> float:
        return self.frozen if self.frozen is not None else time.time() + self.offset

    def moment(self, when: str | float) -> str:
        epoch = epoch_of(when)
        return "--:--" if epoch is None else moment_words(epoch, self.now())

    def day_key(self, epoch: float) -> str:
        return day_key(epoch)

    def day_words(self, key: str) -> str:
        return day_words(key, self.now())

    def full(self, epoch: float) -> str:
        return full_words(epoch)

    def advance(self, seconds: float) -> None:
        if self.frozen is not None:
            self.frozen += seconds
        self.offset += seconds

    def stop_at(self, epoch: float) -> None:
        """From now on it is `epoch` (then moved by `advance` only)."""
        self.frozen = epoch


class BellApp(ConexionApp):
    """The real app, counting bells instead of beeping."""

    bells = 0

    def bell(self) -> None:
        self.bells += 1


def make_app(
    port: int,
    name: str | None = "ana",
    *,
    config: ClientConfig = FAST,
    ui: UiConfig | None = None,
    suggested: str = "ana",
    host: str = "127.0.0.1",
    **options: Any,
) -> BellApp:
    """The app against a local server; `options` go to the app (`password`, `tls`)."""
    return BellApp(
        host,
        port,
        name,
        suggested_name=suggested,
        clock=FixedClock(),
        client_config=config,
        ui_config=ui,
        **options,
    )


@contextlib.asynccontextmanager
async def running(app: ConexionApp, size: tuple[int, int] = (100, 30)) -> AsyncIterator[Pilot[Any]]:
    """`app.run_test()` that ends the way a user does, with a quit (and its
    bye), unless the test already quit."""
    async with app.run_test(size=size) as pilot:
        yield pilot
        if not app.quitting:
            await app.action_quit()


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = WAIT, what: str = ""
) -> None:
    """Let the app run until `predicate()` is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


def chat(app: ConexionApp) -> ChatScreen:
    screen = app.screen
    assert isinstance(screen, ChatScreen), screen
    return screen


def start(app: ConexionApp) -> StartScreen:
    screen = app.screen
    assert isinstance(screen, StartScreen), screen
    return screen


def current_log(app: ConexionApp, key: str | None = None) -> MessageLog:
    """The log of the conversation shown, or of the one with `key`
    (`room_key("lab")`, `dm_key("bob")`)."""
    screen = chat(app)
    if key is None:
        return screen.log_view
    return screen.channels[key].log


def log_lines(app: ConexionApp, key: str | None = None) -> list[str]:
    """A chat log as drawn (the one shown unless `key` names another): one
    string per screen line, trailing blanks cut."""
    if not isinstance(app.screen, ChatScreen):
        return []
    if key is not None and key not in chat(app).channels:
        return []
    log = current_log(app, key)
    # A log not shown has no width of its own: draw it as wide as the one shown.
    width = (
        log.scrollable_content_region.width or chat(app).log_view.scrollable_content_region.width
    )
    return [line.rstrip() for line in log.rendered_lines(width or None)]


def log_text(app: ConexionApp, key: str | None = None) -> str:
    return "\n".join(log_lines(app, key))


def has_line(app: ConexionApp, text: str, key: str | None = None) -> bool:
    return any(text in line for line in log_lines(app, key))


async def joined(pilot: Pilot[Any]) -> ChatScreen:
    """Wait until the app shows the chat screen and is online."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), what="chat screen")
    screen = chat(pilot.app)
    await wait_for(pilot, lambda: screen.is_mounted and has_line(pilot.app, "joined as"))
    return screen


async def type_line(pilot: Pilot[Any], text: str, *, enter: bool = True) -> None:
    """Type into the message box key by key, then press Enter."""
    box = pilot.app.screen.query_one("#input", ChatInput)
    box.focus()
    for char in text:
        if char == "\n":
            await pilot.press("ctrl+j")
        else:
            await pilot.press(char)
    if enter:
        await pilot.press("enter")


async def send_line(pilot: Pilot[Any], text: str) -> None:
    """Put a whole text in the box at once (for long or exotic texts), then Enter."""
    box = pilot.app.screen.query_one("#input", ChatInput)
    box.focus()
    box.load_text(text)
    await pilot.press("enter")


def burst(app: Any, *keys: str) -> None:
    """Deliver keys the way a terminal delivers a fast typist or a paste: all
    queued before the app handles the first one."""
    for key in keys:
        char = key if len(key) == 1 else ("\r" if key == "enter" else None)
        name = "space" if key == " " else key
        event = events.Key(name, char)
        event.set_sender(app)
        app._driver.send_message(event)


ACCOUNT_PASSWORD = "a long one, with spaces"


async def register_name(server: ChatServer, name: str, password: str = ACCOUNT_PASSWORD) -> None:
    """Make `name` an account the way any client does (hello, register), then
    leave, and wait until the server has let the name go."""
    from tests.peers import JsonPeer, until

    peer = await JsonPeer.connect(server.port)
    try:
        await peer.hello(name)
        await peer.send(type="register", password=password, id="r1")
        assert (await peer.expect("registered"))["name"] == name
    finally:
        await peer.close()
    await until(lambda: server.hub.find(name) is None)


async def log_in_on_start(pilot: Pilot[Any], password: str = ACCOUNT_PASSWORD) -> None:
    """Type the account password when the start screen asks for it (the app
    was given a name, so it tried at once)."""
    from textual.widgets import Static

    app = pilot.app

    def asked() -> bool:
        return "is registered" in str(app.screen.query_one("#start-message", Static).render())

    await wait_for(pilot, asked, what="the prompt")
    await pilot.press(*password, "enter")


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a server in a thread, for snapshot tests ------------------------------------


class ThreadedServer:
    """A real ChatServer on its own event loop in a daemon thread."""

    def __init__(self, **hub_options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        # Arrivals announced at once, as the other tests' servers do.
        self.hub_options = {"quiet_arrival": 0.0, **hub_options}
        self.server: ChatServer | None = None

    def start(self) -> None:
        self.thread.start()

        async def boot() -> ChatServer:
            config = ServerConfig(host="127.0.0.1", port=0, hub=HubConfig(**self.hub_options))
            server = ChatServer(config)
            await server.start()
            return server

        self.server = self.call(boot())

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        """Run a coroutine on the server's loop from any thread; wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def run(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        """The same, awaited from another event loop (the app's)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        async with asyncio.timeout(timeout):
            return await asyncio.wrap_future(future)

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=WAIT)
        self.loop.close()


@pytest.fixture
def threaded_server() -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    server.start()
    yield server
    server.stop()
