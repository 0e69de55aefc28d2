"""`make run`: a server on this machine and the client connected to it.

The server is started first and must say where it listens before the client
opens: if it cannot start (the database is held by another server, say), its
error is shown and this exits with its status, instead of opening a client
on whatever else answers. A taken port is not an error here: the server is
started on a free one instead, and this says so. The server stops when the
client exits.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
READY = re.compile(rb"listening on (\S+):(\d+)")
START_WAIT = 15.0  # seconds for the server to say where it listens


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args, client_args = parser.parse_known_args()
    port = args.port
    if not port_free(args.host, port):
        print(f"run: port {port} is taken; starting the server on a free port instead", flush=True)
        port = 0
    # The server's output goes to a file, not a pipe nobody would drain
    # while the client runs (a full pipe would stop the server).
    log_path = Path(tempfile.gettempdir()) / f"conexion-run-{os.getpid()}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "conexion-server"), "--host", args.host, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    listening = wait_listening(server, log_path)
    if listening is None:
        if server.poll() is None:
            server.kill()
        sys.stderr.write(log_path.read_text(errors="replace"))
        print(f"run: the server did not start (exit status {server.wait()})", file=sys.stderr)
        return server.returncode or 1
    print(f"run: server on {args.host}:{listening} (log: {log_path}); opening the client")
    try:
        tui = [str(BIN / "conexion-tui"), "--host", args.host, "--port", str(listening)]
        client = subprocess.run([*tui, *client_args], check=False)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    if server.returncode not in (0, -signal.SIGTERM):
        print(f"run: the server ended with status {server.returncode}; see {log_path}")
    else:
        log_path.unlink(missing_ok=True)
    return client.returncode


def wait_listening(server: subprocess.Popen[bytes], log_path: Path) -> int | None:
    """The port the server says it listens on, or None if it exits first
    (or says nothing for START_WAIT seconds)."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        found = READY.search(log_path.read_bytes())
        if found:
            return int(found.group(2))
        if server.poll() is not None:
            return None
        time.sleep(0.05)
    return None


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
