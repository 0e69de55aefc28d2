"""The servers a benchmark runs against, each as its own process: Conexion, the
naive asyncio relay, and ngircd (a C IRC server, Debian package `ngircd`).
CPU time and RSS are read from /proc."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Target(ABC):
    name = "?"
    wire = "json"  # or "irc"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that starts this server on a free port."""

    def __enter__(self) -> Target:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.__exit__()
            raise RuntimeError(f"{self.name} did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / CLK_TCK

    def rss_bytes(self) -> int:
        assert self.proc is not None
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE


class Conexion(Target):
    name = "conexion"

    def __init__(self, *extra: str) -> None:
        super().__init__()
        self.extra = extra

    def command(self) -> list[str]:
        # Protections raised so that the benchmark measures relaying, not refusals.
        return [
            sys.executable,
            "-m",
            "conexion_server",
            "--port",
            "0",
            "--log-level",
            "warning",
            "--rate",
            "1000000",
            "--burst",
            "1000000",
            "--max-clients",
            "100000",
            # Every generated client comes from 127.0.0.1, and joins queue up
            # behind each other in a storm.
            "--max-per-address",
            "1000000",
            "--hello-timeout",
            "600",
            "--db",
            ":memory:",
            *self.extra,
        ]


class ConexionDurable(Conexion):
    """Conexion with durable history: a SQLite file in a temporary folder, so
    every ack waits for a (group) commit."""

    name = "conexion-durable"

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="bench-conexion-db-")
        super().__init__("--db", str(Path(self.dir.name) / "history.db"))

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.dir.cleanup()


class MinimalRelay(Target):
    name = "minimal"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.minimal_relay", "--port", "0"]


NGIRCD_CONF = """\
[Global]
Name = bench.conexion.test
Info = Conexion benchmark reference
Listen = 127.0.0.1
Ports = {port}
PidFile = {dir}/ngircd.pid
ServerUID = 65534
ServerGID = 65534
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
MaxNickLength = 24
[Options]
DNS = no
Ident = no
PAM = no
"""


class Ngircd(Target):
    name = "ngircd"
    wire = "irc"

    @staticmethod
    def available() -> bool:
        return shutil.which("ngircd") is not None or Path("/usr/sbin/ngircd").exists()

    def __enter__(self) -> Target:
        self.dir = tempfile.TemporaryDirectory(prefix="bench-ngircd-")
        with socket.socket() as s:  # a free port; ngircd cannot pick one itself
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.conf = Path(self.dir.name) / "ngircd.conf"
        self.conf.write_text(NGIRCD_CONF.format(port=self.port, dir=self.dir.name))
        self.log = open(Path(self.dir.name) / "ngircd.log", "w")
        self.proc = subprocess.Popen(
            self.command(), stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("ngircd did not start")

    def command(self) -> list[str]:
        return [shutil.which("ngircd") or "/usr/sbin/ngircd", "-n", "-f", str(self.conf)]

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.log.close()
        if exc and exc[0] is not None:  # show why ngircd misbehaved before the log goes
            lines = (Path(self.dir.name) / "ngircd.log").read_text().splitlines()
            notable = [
                ln
                for ln in lines
                if "going down" not in ln
                and "closed (in" not in ln
                and "Accepted connection" not in ln
                and "registered" not in ln
            ]
            print("ngircd log (notable lines):", *notable[-15:], sep="\n", file=sys.stderr)
        self.dir.cleanup()


def all_targets() -> list[type[Target]]:
    targets: list[type[Target]] = [Conexion, ConexionDurable, MinimalRelay]
    if Ngircd.available():
        targets.append(Ngircd)
    return targets
