"""The real `conexion-server` process: start, signals, exit statuses, options."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import JsonPeer, TextPeer

PROCESS_WAIT = 10.0  # seconds for a process to start or to exit
LISTENING = re.compile(rb"^conexion-server listening on 127\.0\.0\.1:(\d+)$")


def server_command() -> list[str]:
    """The installed console script, next to this interpreter when possible."""
    script = Path(sys.executable).with_name("conexion-server")
    if script.exists():
        return [str(script)]
    found = shutil.which("conexion-server")
    return [found] if found else [sys.executable, "-m", "conexion_server"]


@dataclass
class Running:
    proc: asyncio.subprocess.Process
    port: int

    async def finish(self) -> tuple[int, bytes, bytes]:
        """Wait for the exit: (status, rest of stdout, all of stderr)."""
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        async with asyncio.timeout(PROCESS_WAIT):
            out, err = await asyncio.gather(self.proc.stdout.read(), self.proc.stderr.read())
            status = await self.proc.wait()
        return status, out, err


async def run(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # In memory unless a test names a file: never the user's real history.
        env={**os.environ, "CONEXION_DB": ":memory:", **(env or {})},
    )


async def wait_listening(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    async with asyncio.timeout(PROCESS_WAIT):
        line = (await proc.stdout.readline()).rstrip(b"\n")
    match = LISTENING.match(line)
    assert match, line
    return int(match.group(1))


@pytest.fixture
async def start() -> AsyncIterator:
    started: list[asyncio.subprocess.Process] = []

    async def launch(*args: str, env: dict[str, str] | None = None) -> Running:
        proc = await run(*server_command(), *args, env=env)
        started.append(proc)
        return Running(proc, await wait_listening(proc))

    yield launch
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- signals ----------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_sends_shutdown_and_exits_0(start, sig: signal.Signals) -> None:
    server = await start("--port", "0", "--log-level", "warning")
    ana = await JsonPeer.connect(server.port)
    bob = await TextPeer.connect(server.port)
    anon = await JsonPeer.connect(server.port)
    try:
        await ana.hello("ana")
        await bob.type("bob")
        await bob.until(" online: ")
        await anon.send(type="ping")  # connected as JSON, never joined
        assert (await anon.recv())["type"] == "pong"
        ack = await ana.say("last message before the end")
        assert ack["type"] == "ack"

        server.proc.send_signal(sig)

        shutdown = await ana.expect("shutdown")
        assert shutdown["message"]
        assert await ana.closed()
        assert await bob.until("shutting down") == "* the server is shutting down"
        assert await bob.closed()
        assert (await anon.expect("shutdown"))["message"]
        assert await anon.closed()
        status, out, err = await server.finish()
    finally:
        for peer in (ana, bob, anon):
            await peer.close()
    assert status == 0, err
    assert out == b"conexion-server stopped\n"
    assert b"Traceback" not in err


async def test_signal_with_nobody_connected(start) -> None:
    server = await start("--port", "0")
    server.proc.send_signal(signal.SIGTERM)
    status, out, err = await server.finish()
    assert status == 0, err
    assert out == b"conexion-server stopped\n"
    assert b"Traceback" not in err


# -- start-up and options ----------------------------------------------------------------


async def test_port_already_taken_is_one_line_and_status_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await run(*server_command(), "--port", str(port))
        async with asyncio.timeout(PROCESS_WAIT):
            out, err = await proc.communicate()
    assert proc.returncode == 1
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("conexion-server: cannot listen on 127.0.0.1:")
    assert str(port) in lines[0]
    assert "already in use" in lines[0]
    assert out == b""


async def test_env_port_is_honoured(start) -> None:
    port = free_port()
    server = await start(env={"CONEXION_PORT": str(port)})
    assert server.port == port
    peer = await JsonPeer.connect(port)
    try:
        assert (await peer.hello("ana"))["name"] == "ana"
    finally:
        await peer.close()


async def test_the_command_line_beats_the_environment(start) -> None:
    server = await start("--port", "0", env={"CONEXION_PORT": "1"})
    assert server.port not in (0, 1)


@pytest.mark.parametrize("value", ["eighty", "70000", "-1"])
async def test_a_bad_env_port_is_a_usage_error_not_a_traceback(value: str) -> None:
    proc = await run(*server_command(), env={"CONEXION_PORT": value})
    async with asyncio.timeout(PROCESS_WAIT):
        out, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"Traceback" not in err
    assert b"--port" in err
    assert value.encode() in err
    assert out == b""


async def test_help_mentions_the_limits() -> None:
    proc = await run(*server_command(), "--help")
    async with asyncio.timeout(PROCESS_WAIT):
        out, _ = await proc.communicate()
    assert proc.returncode == 0
    text = " ".join(out.decode().split())  # argparse wraps lines
    for option, default in [
        ("--max-clients", "10000"),
        ("--rate", "10.0"),
        ("--burst", "20"),
        ("--ping-after", "30.0"),
        ("--idle-timeout", "90.0"),
        ("--max-output", "1048576"),
        ("--history", "100"),
        ("--port", "8000"),
        ("--host", "127.0.0.1"),
        ("--hello-timeout", "30.0"),
        ("--max-per-address", "64"),
    ]:
        assert option in text
        assert f"(default: {default})" in text, option
    assert "CONEXION_PORT" in text
    assert "CONEXION_PASSWORD" in text


async def test_an_unreadable_tls_key_is_one_line_and_status_2(tmp_path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    proc = await run(
        *server_command(), "--port", "0", "--tls-cert", str(bad), "--tls-key", str(bad)
    )
    async with asyncio.timeout(PROCESS_WAIT):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"cannot load the TLS certificate or key" in err
    assert b"Traceback" not in err


async def test_a_missing_password_file_is_one_line_and_status_2(tmp_path) -> None:
    proc = await run(*server_command(), "--password-file", str(tmp_path / "nope"))
    async with asyncio.timeout(PROCESS_WAIT):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"cannot read the password file" in err
    assert b"Traceback" not in err


async def test_password_and_tls_options_reach_the_server(start, tls_files, tmp_path) -> None:
    password = tmp_path / "pw.txt"
    password.write_text("open sesame\n")
    server = await start(
        "--port", "0", "--password-file", str(password),
        "--tls-cert", str(tls_files.cert_file), "--tls-key", str(tls_files.key_file),
    )  # fmt: skip
    peer = await JsonPeer.connect(server.port, tls=tls_files.client_context())
    try:
        await peer.send(type="hello", name="ana", proto=1, password="open sesame")
        assert (await peer.recv())["type"] == "welcome"
    finally:
        await peer.close()


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
async def test_either_event_loop_serves_the_chat(start, choice: str) -> None:
    server = await start("--port", "0", "--loop", choice, "--log-level", "debug")
    ana, bob = await JsonPeer.connect(server.port), await JsonPeer.connect(server.port)
    try:
        await ana.hello("ana")
        await bob.hello("bob")
        ack = await ana.say("hola")
        assert (await bob.expect("message"))["seq"] == ack["seq"]
    finally:
        await ana.close()
        await bob.close()
    server.proc.send_signal(signal.SIGTERM)
    status, _, err = await server.finish()
    assert status == 0
    assert f"event loop: {choice}".encode() in err


async def test_tls_runs_on_the_standard_loop(start, tls_files) -> None:
    tls = ("--tls-cert", str(tls_files.cert_file), "--tls-key", str(tls_files.key_file))
    server = await start("--port", "0", "--log-level", "debug", *tls)  # the default loop
    server.proc.send_signal(signal.SIGTERM)
    status, _, err = await server.finish()
    assert (status, b"event loop: asyncio" in err) == (0, True)
    proc = await run(*server_command(), "--port", "0", "--loop", "uvloop", *tls)
    async with asyncio.timeout(PROCESS_WAIT):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    assert err.decode().strip() == (
        "conexion-server: --loop uvloop does not serve TLS; use the standard loop"
    )


async def test_python_m_version() -> None:
    proc = await run(sys.executable, "-m", "conexion_server", "--version")
    async with asyncio.timeout(PROCESS_WAIT):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err
    assert re.fullmatch(rb"conexion/\d+\.\d+\.\d+\n", out)


async def test_options_reach_the_server(start) -> None:
    server = await start("--port", "0", "--max-clients", "1", "--motd", "hello there")
    ana, bob = await JsonPeer.connect(server.port), await JsonPeer.connect(server.port)
    try:
        welcome = await ana.hello("ana")
        assert welcome["motd"] == "hello there"
        await bob.send(type="hello", name="bob", proto=1)
        assert (await bob.recv())["code"] == "server_full"
    finally:
        await ana.close()
        await bob.close()


# -- in-process shutdown ------------------------------------------------------------------


async def test_stop_flushes_then_closes_everyone(make_server, connect) -> None:
    server = await make_server()
    ana = await connect(server, "ana")
    bob = await connect(server, "bob", text=True)
    await ana.send(type="say", id="late", text="queued just before the stop")
    ack = await ana.expect("ack")
    await server.stop()
    assert (await ana.expect("shutdown"))["message"] == "the server is shutting down"
    assert await ana.closed()
    lines = []
    while (line := await bob.text()) != "* the server is shutting down":
        lines.append(line)
    assert any(line.endswith("ana: queued just before the stop") for line in lines), (lines, ack)
    assert await bob.closed()
    assert not server.connections


def test_a_closed_stdout_does_not_turn_a_clean_stop_into_a_traceback() -> None:
    # Regression: whoever started the server (a benchmark, a supervisor) read
    # the "listening" line and went away; "conexion-server stopped" then raised
    # BrokenPipeError and the exit status was 1.
    import subprocess

    proc = subprocess.Popen(
        [*server_command(), "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CONEXION_DB": ":memory:"},
    )
    assert proc.stdout is not None
    assert LISTENING.match(proc.stdout.readline().rstrip(b"\n"))
    proc.stdout.close()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=PROCESS_WAIT)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


async def test_a_cluster_instance_labels_its_log_lines_with_its_port(redis_server) -> None:
    port = free_port()
    proc = await run(
        *server_command(),
        "--port",
        str(port),
        "--cluster",
        redis_server.url,
        "--cluster-prefix",
        "labels:",
        "--log-level",
        "debug",
    )
    try:
        assert await wait_listening(proc) == port
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), PROCESS_WAIT)
    assert proc.stderr is not None
    lines = (await proc.stderr.read()).decode().splitlines()
    assert lines
    assert all(f" [:{port}] " in line for line in lines if line[:2].isdigit()), lines
