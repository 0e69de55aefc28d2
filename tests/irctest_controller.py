"""A controller for irctest, the IRC server conformance suite: it starts
`conexion-server` with its IRC gateway on the port the suite picks.

Not a test module (pytest here never imports it): `make irctest` points
irctest's `--controller` at it. See docs/irc.md.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from typing import Any, ClassVar

from irctest.basecontrollers import BaseServerController, NotImplementedByController


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ConexionController(BaseServerController):
    software_name = "Conexion"
    supported_sasl_mechanisms: ClassVar[set[str]] = set()  # no accounts in its runs
    supports_sts = False

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None,
        websocket_hostname: str | None,
        websocket_port: int | None,
    ) -> None:
        if ssl:
            raise NotImplementedByController("TLS")
        if run_services:
            raise NotImplementedByController("services")
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        assert self.proc is None
        self.hostname, self.port = hostname, port
        server = shutil.which("conexion-server") or sys.executable
        argv: list[Any] = [] if server != sys.executable else ["-m", "conexion_server"]
        argv = [
            server,
            *argv,
            "--host",
            hostname,
            "--port",
            str(_free_port()),  # the JSON and plain-text port, unused here
            "--irc-port",
            str(port),
            "--db",
            ":memory:",
            "--rate",
            "1000",
            "--burst",
            "1000",
            "--greet-after",
            "0",
            "--irc-name",
            "My.Little.Server",  # the name irctest's cases expect of every server
        ]
        env = dict(os.environ)
        if password is not None:
            env["CONEXION_PASSWORD"] = password  # never on the command line
        self.proc = self.execute(argv, env=env)


def get_irctest_controller_class() -> type[ConexionController]:
    return ConexionController
