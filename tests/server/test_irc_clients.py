"""Real IRC clients against the gateway: WeeChat (headless, driven through
its FIFO) and irssi (in tmux, typed into with send-keys), each joining a
room, talking with a JSON user, parting and quitting. CI installs them from
Debian (`.ci/run`); a machine without them skips these tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.peers import JsonPeer

pytestmark = [
    pytest.mark.single_server("the clients talk to one server; tests/server/test_irc.py has both"),
    pytest.mark.timeout(90),
]
WAIT = 30.0  # seconds a client may take to start, connect and answer


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    """Poll `check` until it holds: a client's file or screen changes on its
    own time, and nothing tells when."""
    try:
        async with asyncio.timeout(timeout):
            while not await check():  # noqa: ASYNC110 (another process's state)
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


async def run(*argv: str, env: dict[str, str] | None = None) -> str:
    """Run a command to its end; its output."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, argv
    return out.decode(errors="replace")


async def in_lab(server, connect) -> JsonPeer:
    ana: JsonPeer = await connect(server, "ana")
    await ana.send(type="join", room="lab")
    await ana.expect("room")
    return ana


async def joined(ana: JsonPeer, name: str, room: str) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            frame = await ana.recv(WAIT)
            if frame["type"] == "joined" and (frame["name"], frame.get("room")) == (name, room):
                return


async def said(ana: JsonPeer, text: str) -> dict:
    async with asyncio.timeout(WAIT):
        while True:
            frame = await ana.recv(WAIT)
            if frame["type"] == "message" and frame["text"] == text:
                return frame


async def left(ana: JsonPeer, name: str, reason: str) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            frame = await ana.recv(WAIT)
            if frame["type"] == "left" and (frame["name"], frame["reason"]) == (name, reason):
                return


@pytest.mark.skipif(shutil.which("weechat-headless") is None, reason="weechat-headless missing")
async def test_weechat_joins_talks_and_parts(make_server, connect, tmp_path: Path) -> None:
    server = await make_server(irc_port=0)
    ana = await in_lab(server, connect)
    home = tmp_path / "weechat"
    setup = ";".join(
        [
            f"/server add conexion 127.0.0.1/{server.irc_port()} -notls",
            "/set irc.server.conexion.nicks wee",
            "/set logger.file.flush_delay 0",
            "/connect conexion",
        ]
    )
    client = await asyncio.create_subprocess_exec(
        *("weechat-headless", "--dir", str(home), "-r", setup),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await joined(ana, "wee", "general")
        # WeeChat takes commands for a server once it has read the welcome
        # (the chat saw the join before that): its server buffer's log says.
        server_log = home / "logs" / "irc.server.conexion.weechatlog"

        async def registered() -> bool:
            return server_log.exists() and "MOTD File is missing" in server_log.read_text()

        await until(registered, "weechat reads the welcome")
        fifos = list(home.glob("weechat_fifo*"))
        assert fifos, "weechat's FIFO is not there"

        def command(buffer: str, text: str) -> None:
            with open(fifos[0], "w") as fifo:
                fifo.write(f"{buffer} *{text}\n")

        command("irc.server.conexion", "/join #lab")
        await joined(ana, "wee", "lab")
        log = home / "logs" / "irc.conexion.#lab.weechatlog"

        def logged(text: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return log.exists() and text in log.read_text()

            return check

        # The channel's buffer exists once WeeChat has read its NAMES.
        await until(logged("Channel #lab:"), "weechat opens #lab")
        command("irc.conexion.#lab", "hello from weechat")
        assert (await said(ana, "hello from weechat"))["room"] == "lab"
        await ana.say("hi wee", room="lab")
        await until(logged("\tana\thi wee"), "weechat shows ana's message")
        command("irc.conexion.#lab", "/part")
        await left(ana, "wee", "part")
        command("core.weechat", "/quit")
        await left(ana, "wee", "quit")
        async with asyncio.timeout(WAIT):
            assert await client.wait() == 0
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()


@pytest.mark.skipif(
    shutil.which("irssi") is None or shutil.which("tmux") is None, reason="irssi or tmux missing"
)
async def test_irssi_in_tmux_joins_talks_and_parts(make_server, connect, tmp_path: Path) -> None:
    server = await make_server(irc_port=0)
    ana = await in_lab(server, connect)
    session = f"conexion-irssi-{uuid.uuid4().hex[:8]}"
    socket = str(tmp_path / "tmux.sock")  # a tmux server of its own
    home = tmp_path / "irssi"
    home.mkdir()
    tmux = ["tmux", "-S", socket]
    irssi = f"irssi --home={home} -c 127.0.0.1 -p {server.irc_port()} -n issy"
    env = {**os.environ, "TERM": "screen"}
    await run(*tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", irssi, env=env)

    def shows(text: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return text in await run(*tmux, "capture-pane", "-p", "-t", session)

        return check

    async def type_line(text: str) -> None:
        await run(*tmux, "send-keys", "-t", session, "-l", text)
        await run(*tmux, "send-keys", "-t", session, "Enter")

    try:
        await joined(ana, "issy", "general")
        # Typed commands count once irssi has read the welcome and the join.
        await until(shows("MOTD File is missing"), "irssi reads the welcome")
        await type_line("/join #lab")
        await joined(ana, "issy", "lab")
        await until(shows("[#lab]"), "irssi shows #lab")
        await type_line("hello from irssi")
        assert (await said(ana, "hello from irssi"))["room"] == "lab"
        await ana.say("hi issy", room="lab")
        await until(shows("< ana> hi issy"), "irssi shows ana's message")
        await type_line("/part #lab")
        await left(ana, "issy", "part")
        await type_line("/quit")
        await left(ana, "issy", "quit")
    finally:
        killer = await asyncio.create_subprocess_exec(
            *tmux,
            "kill-server",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await killer.wait()
