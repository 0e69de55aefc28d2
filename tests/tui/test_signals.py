"""SIGTERM and SIGHUP to a real `conexion-tui` process in a pseudo-terminal,
against a real server: the others see a clean leave (`quit`, not `lost`), the
terminal is given back (alternate screen left, mouse reporting off, cursor
shown) and the process exits 0."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import sys
import termios
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

LEAVE_ALT_SCREEN = b"\x1b[?1049l"
SHOW_CURSOR = b"\x1b[?25h"
MOUSE_OFF = (b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?1006l")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
async def test_a_signal_says_bye_and_gives_the_terminal_back(
    server, peers, signum: signal.Signals, tmp_path: Path
) -> None:
    bob = await peers("bob")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "CONEXION_DATA_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conexion_tui",
        "--port",
        str(server.port),
        "--name",
        "ana",
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    output = bytearray()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            chunk = b""
        if chunk:
            output.extend(chunk)
        else:
            loop.remove_reader(master)
            done.set()

    loop.add_reader(master, readable)
    try:
        joined = await bob.expect("joined", timeout=20)
        assert joined["name"] == "ana"
        proc.send_signal(signum)
        left = await bob.expect("left", timeout=10)
        assert (left["name"], left["reason"]) == ("ana", "quit")
        async with asyncio.timeout(15):
            code = await proc.wait()
            await done.wait()
        # On failure, what the program wrote (Textual prints a traceback there).
        assert code == 0, bytes(output[-20000:]).decode(errors="replace")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        loop.remove_reader(master)
        os.close(master)
    tail = bytes(output[-4096:])
    assert LEAVE_ALT_SCREEN in tail
    assert SHOW_CURSOR in tail
    for sequence in MOUSE_OFF:
        assert sequence in tail
    assert b"Traceback" not in output
