"""The servers a benchmark runs against, each as its own process: Conexion, the
naive asyncio relay, ngircd (a C IRC server, Debian package `ngircd`), and
Conexion clusters (instances on a redis-server of their own). CPU time and
RSS are read from /proc."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from importlib.util import find_spec
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# `--max-output`: the conexion targets' slow-peer bound, when it is not the
# server's default (1 MiB, which cuts readers a saturated generator leaves
# behind at 300 clients).
SERVER_OPTIONS: list[str] = []


class Target(ABC):
    name = "?"
    wire = "json"  # or "irc"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def port_for(self, i: int) -> int:
        """The port client number `i` connects to (a cluster spreads them)."""
        return self.port

    def side_pids(self) -> dict[str, int]:
        """Processes beside the server that it needs (a cluster's Redis), by a
        short name: their usage is part of `cpu_seconds` and `rss_bytes`, and
        scenarios also report it on its own."""
        return {}

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that starts this server on a free port."""

    def __enter__(self) -> Target:
        # Without the variable, so that a CONEXION_CLUSTER set in the shell
        # cannot turn the single server into a cluster.
        env = {k: v for k, v in os.environ.items() if k != "CONEXION_CLUSTER"}
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.__exit__()
            raise RuntimeError(f"{self.name} did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        stop(self.proc)

    def pids(self) -> list[int]:
        """Every process of the target: the server's and those beside it."""
        assert self.proc is not None
        return [self.proc.pid, *self.side_pids().values()]

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return cpu_of(self.proc.pid)

    def rss_bytes(self) -> int:
        assert self.proc is not None
        return rss_of(self.proc.pid)


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / CLK_TCK


def rss_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (a clean stop), then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A free loopback port, for servers that cannot pick one themselves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            "--max-rooms",
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
            *SERVER_OPTIONS,
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


class Guarded(Target):
    """Conexion with its default limits (rate, per-address cap, ...), as
    shipped: the target of the attack scenarios."""

    name = "guarded"
    db: tuple[str, ...] = ("--db", ":memory:")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "conexion_server", "--port", "0", *self.db]


class GuardedDurable(Guarded):
    name = "guarded-durable"

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory(prefix="bench-guarded-db-")
        self.db = ("--db", str(Path(self.dir.name) / "history.db"))

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
        self.port = free_port()
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


def start_redis(folder: Path) -> tuple[subprocess.Popen[str], int]:
    """A redis-server on a free loopback port, its files in `folder`, set up
    as a deployment would be: the append-only file on and fsynced once a
    second (so an fsync is never in a message's path), no RDB snapshots."""
    port = free_port()
    argv = [shutil.which("redis-server") or "redis-server", "--port", str(port)]
    argv += ["--bind", "127.0.0.1", "--dir", str(folder), "--daemonize", "no"]
    argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
    argv += ["--logfile", str(folder / "redis.log")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            tail = (folder / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server did not start:\n{tail}")
        time.sleep(0.05)


class ConexionCluster(Target):
    """`instances` Conexion servers (`--cluster`, benchmark options as for
    `conexion`) serving one chat through a redis-server started for the run.
    Client i connects to instance i % instances. CPU and RSS cover every
    process, Redis included; Redis is also reported on its own."""

    instances = 1

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None and find_spec("redis") is not None

    def __enter__(self) -> Target:
        self.dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.redis: subprocess.Popen[str] | None = None
        self.servers: list[Conexion] = []
        try:
            self.redis, redis_port = start_redis(Path(self.dir.name))
            self.url = f"redis://127.0.0.1:{redis_port}/0"
            for _ in range(self.instances):
                server = Conexion("--cluster", self.url)
                server.__enter__()  # returns once it listens, i.e. has joined the cluster
                self.servers.append(server)
        except BaseException:
            self.__exit__()
            raise
        self.proc, self.port = self.servers[0].proc, self.servers[0].port
        return self

    def command(self) -> list[str]:
        raise NotImplementedError("a cluster is several processes, started by __enter__")

    def port_for(self, i: int) -> int:
        return self.servers[i % len(self.servers)].port

    def side_pids(self) -> dict[str, int]:
        assert self.redis is not None
        return {"redis": self.redis.pid}

    def pids(self) -> list[int]:
        servers = [s.proc.pid for s in self.servers if s.proc is not None]
        return servers + list(self.side_pids().values())

    def cpu_seconds(self) -> float:
        return sum(cpu_of(pid) for pid in self.pids())

    def rss_bytes(self) -> int:
        return sum(rss_of(pid) for pid in self.pids())

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:  # all at once, so that they stop in parallel
            assert server.proc is not None
            server.proc.terminate()
        for server in self.servers:
            server.__exit__()
        # Redis last: a stopping instance still writes its users' leaves.
        if self.redis is not None:
            stop(self.redis)
        self.dir.cleanup()


class Cluster1(ConexionCluster):
    name = "cluster-1"
    instances = 1


class Cluster3(ConexionCluster):
    name = "cluster-3"
    instances = 3


def all_targets() -> list[type[Target]]:
    targets: list[type[Target]] = [Conexion, ConexionDurable, Guarded, GuardedDurable, MinimalRelay]
    if Ngircd.available():
        targets.append(Ngircd)
    if ConexionCluster.available():
        targets += [Cluster1, Cluster3]
    return targets
