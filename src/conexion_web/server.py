"""The web front: textual-serve's server, with a seat per visitor (a full
server answers 503 and a page that says so) and the TUI's command line
made here, so a visitor starts at the TUI's start screen, which asks for
a name."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from textual_serve.server import Server

from .visitors import FULL_PAGE, Visitors

CONTENT_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class ChatAddress:
    """The chat server every visitor's client connects to."""

    host: str = "127.0.0.1"
    port: int = 8000
    tls: bool = False
    ca: str | None = None


def client_command(chat: ChatAddress) -> str:
    """The shell command of one visitor's client. The login name of the
    web server's account is nobody's name: the start screen suggests
    `guest`. Nothing is remembered on this machine between visitors."""
    argv = [sys.executable, "-m", "conexion_tui", "--host", chat.host, "--port", str(chat.port)]
    if chat.tls:
        argv.append("--tls")
    if chat.ca:
        argv += ["--ca", chat.ca]
    argv.append("--forget-rooms")
    return "env LOGNAME=guest USER=guest " + shlex.join(argv)


class ChatWeb(Server):
    def __init__(
        self,
        chat: ChatAddress,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        public_url: str | None = None,
        max_visitors: int = 50,
    ) -> None:
        super().__init__(
            client_command(chat), host=host, port=port, title="Conexion", public_url=public_url
        )
        self.visitors = Visitors(max_visitors)
        self._runner: web.AppRunner | None = None
        self._idle = asyncio.Event()  # no visitor's client is running
        self._idle.set()
        self._fixed_url = public_url is not None

    async def handle_index(self, request: web.Request) -> Any:  # type: ignore[override]
        if self.visitors.full:
            return self.full()
        page = await super().handle_index(request)
        # Everything from this server, nothing from elsewhere: the page asks
        # a font of a third party, which would learn of every visitor.
        page.headers["Content-Security-Policy"] = CONTENT_POLICY
        return page

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.visitors.take():
            return self.full()
        self._idle.clear()
        try:
            return await super().handle_websocket(request)
        finally:
            self.visitors.give_back()
            if not self.visitors.count:
                self._idle.set()

    def full(self) -> web.Response:
        return web.Response(
            status=503,
            text=FULL_PAGE.format(limit=self.visitors.limit),
            content_type="text/html",
            headers={"Retry-After": "60"},
        )

    # -- running inside an event loop that is already there (tests) ------------

    async def start(self) -> int:
        """Listen (port 0: any free one) without taking over the loop; the port."""
        self._runner = web.AppRunner(await self._make_app(), handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        port = int(self._runner.addresses[0][1])
        if not self._fixed_url:
            self.public_url = f"http://{self.host}:{port}"
        return port

    async def stop(self, grace: float = 10.0) -> None:
        """Stop listening; the visitors' clients, whose browsers have gone,
        are waited for (each ends with its socket)."""
        if self._runner is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._idle.wait()
            await self._runner.cleanup()
