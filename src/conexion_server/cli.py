"""`conexion-server`: command-line options and environment -> ServerConfig -> run."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import resource
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from conexion_protocol import ProtocolError, parse_room

from . import SERVER_ID
from .config import DEFAULT_HOST, DEFAULT_PORT, RoomCreation, ServerConfig
from .hub import HubConfig
from .server import ChatServer, serve, ssl_context
from .store import StoreError

EXIT_CANNOT_LISTEN = 1
EXIT_USAGE = 2
EXIT_BAD_DATABASE = 3
MEMORY_DB = ":memory:"


def default_db() -> str:
    """history.db in the platform's user data folder (~/.local/share/conexion on Linux)."""
    return str(platformdirs.user_data_path("conexion") / "history.db")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _room_names(text: str) -> tuple[str, ...]:
    """`a,b,c` as room names, each checked by the protocol's rule."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        try:
            parse_room(name.removeprefix("#"))
        except ProtocolError as exc:
            raise argparse.ArgumentTypeError(f"{name!r}: {exc.message}") from None
    return tuple(name.removeprefix("#") for name in names)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {text!r}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless there is none or the help text
    already says what it is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, argparse.SUPPRESS, False, ()) or "default" in text:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    hub, srv = HubConfig(), ServerConfig()
    env_port = os.environ.get("CONEXION_PORT")
    p = argparse.ArgumentParser(
        prog="conexion-server",
        description="Conexion chat server: relays chat between JSON clients (conexion-tui) "
        "and plain-text clients (nc, telnet).",
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "--host",
        default=os.environ.get("CONEXION_HOST", DEFAULT_HOST),
        help="address to listen on (env CONEXION_HOST); 0.0.0.0 opens it to the network",
    )
    p.add_argument(
        "--port",
        type=_port,
        # A string default goes through `type` like a typed value, so a bad
        # CONEXION_PORT is a usage error (status 2), not a traceback.
        default=env_port or DEFAULT_PORT,
        help="TCP port (env CONEXION_PORT); 0 picks a free one",
    )
    p.add_argument(
        "--max-clients",
        type=_positive_int,
        default=hub.max_clients,
        help="joined users at most; one more gets server_full",
    )
    p.add_argument(
        "--history",
        type=int,
        default=hub.history_size,
        help="recent messages kept in memory for welcome and history requests",
    )
    p.add_argument(
        "--rate",
        type=_positive_float,
        default=hub.rate,
        help="messages (say + dm) a user may send per second, sustained",
    )
    p.add_argument(
        "--burst",
        type=_positive_int,
        default=hub.burst,
        help="messages a user may send at once before --rate applies",
    )
    p.add_argument(
        "--ping-after",
        type=_positive_float,
        default=srv.ping_after,
        help="seconds of silence before the server pings a JSON client",
    )
    p.add_argument(
        "--idle-timeout",
        type=_positive_float,
        default=srv.idle_timeout,
        help="seconds of silence before a JSON client is dropped (see also --hello-timeout)",
    )
    p.add_argument(
        "--max-output",
        type=_positive_int,
        default=srv.max_output,
        help="bytes queued for one client before it is dropped as slow",
    )
    p.add_argument(
        "--keepalive-idle",
        type=_positive_int,
        default=srv.keepalive_idle,
        metavar="SECONDS",
        help="seconds of silence before TCP keepalive probes a connection; a dead plain-text "
        f"client is then found within {srv.keepalive_interval * srv.keepalive_count} s more",
    )
    p.add_argument(
        "--backlog",
        type=_positive_int,
        default=srv.backlog,
        help="connections the kernel queues before the server accepts them (a join storm)",
    )
    p.add_argument(
        "--db",
        default=os.environ.get("CONEXION_DB") or None,
        metavar="PATH",
        help=f"SQLite file for the message history (env CONEXION_DB; default {default_db()}); "
        f"{MEMORY_DB} keeps it in memory and loses it on exit",
    )
    p.add_argument(
        "--keep-days",
        type=_positive_float,
        default=None,
        help="delete stored messages older than this many days (default: keep them all)",
    )
    p.add_argument(
        "--keep-messages",
        type=_positive_int,
        default=None,
        help="keep only the newest N stored messages (default: keep them all)",
    )
    p.add_argument(
        "--hello-timeout",
        type=_positive_float,
        default=srv.hello_timeout,
        help="seconds a connection may take to join (name, and password if any) "
        "before it is dropped",
    )
    p.add_argument(
        "--greet-after",
        type=float,
        default=srv.greet_after,
        help="seconds of silence after connecting before a plain-text user is greeted "
        "and asked for a name (0: never; JSON clients speak first and never see it)",
    )
    p.add_argument(
        "--max-per-address",
        type=_positive_int,
        default=srv.max_per_address,
        help="concurrent connections from one IP address; one more is refused and closed",
    )
    p.add_argument(
        "--password-file",
        default=None,
        metavar="FILE",
        help="ask every client for the password in FILE (its first line); "
        "env CONEXION_PASSWORD gives it directly. Without either, no password is asked",
    )
    p.add_argument(
        "--tls-cert",
        default=None,
        metavar="FILE",
        help="PEM certificate (chain) for TLS; needs --tls-key. Without it the server speaks "
        "plain TCP",
    )
    p.add_argument("--tls-key", default=None, metavar="FILE", help="PEM private key for TLS")
    p.add_argument(
        "--irc-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="also serve IRC clients (irssi, WeeChat, HexChat) on this port, e.g. 6667 "
        "(see docs/irc.md); off unless given",
    )
    p.add_argument(
        "--irc-name",
        default="conexion",
        metavar="NAME",
        help="the server's name in IRC lines (default: conexion)",
    )
    p.add_argument(
        "--irc-tls-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="IRC over TLS with --tls-cert/--tls-key, e.g. 6697; off unless given",
    )
    p.add_argument(
        "--cluster",
        default=os.environ.get("CONEXION_CLUSTER") or None,
        metavar="URL",
        help="serve one chat with every instance on this Redis, redis://HOST:PORT/DB "
        "(env CONEXION_CLUSTER); history then lives in Redis and --db is not used",
    )
    p.add_argument(
        "--cluster-prefix",
        default=srv.cluster_prefix,
        metavar="PREFIX",
        help="prefix of this chat's Redis keys, so several chats can share one Redis",
    )
    p.add_argument(
        "--cluster-max-log",
        type=_positive_int,
        default=srv.cluster_max_log,
        metavar="ENTRIES",
        help="log entries (messages, joins, leaves) Redis keeps, about; older history is trimmed",
    )
    p.add_argument(
        "--presence-ttl",
        type=_positive_float,
        default=srv.presence_ttl,
        metavar="SECONDS",
        help="with --cluster: an instance silent this long is dead and its users are "
        "announced as lost",
    )
    p.add_argument(
        "--rooms",
        type=_room_names,
        default=(),
        metavar="ROOM,ROOM",
        help="rooms to create at start besides general, comma-separated "
        "(e.g. announcements,lab-1); rooms are kept across restarts",
    )
    p.add_argument(
        "--room-creation",
        choices=[c.value for c in RoomCreation],
        default=hub.room_creation.value,
        help="who may create a room by joining it: anyone, registered users, or admins "
        "(the operator's --rooms exist in any case)",
    )
    p.add_argument(
        "--max-rooms",
        type=_positive_int,
        default=hub.max_rooms,
        help="rooms the server keeps at most; a join that would create one more is refused",
    )
    p.add_argument(
        "--max-rooms-per-user",
        type=_positive_int,
        default=hub.max_rooms_per_user,
        help="rooms one user may be in at once (general included)",
    )
    p.add_argument(
        "--presence-limit",
        type=_positive_int,
        default=hub.presence_limit,
        metavar="MEMBERS",
        help="in a room with more members than this, joins and leaves go only to those "
        "who watch it (clients that show its user list)",
    )
    p.add_argument(
        "--text-recap",
        type=_non_negative_int,
        default=srv.text_recap,
        metavar="MESSAGES",
        help="recent messages a plain-text (nc) user is shown on joining the chat or a room",
    )
    p.add_argument("--motd", default=None, help="message of the day, sent on join")
    p.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default=os.environ.get("CONEXION_LOOP", "asyncio"),
        help="event loop (env CONEXION_LOOP): uvloop (pip install 'conexion[fast]') relays "
        "busy rooms with less CPU but joins thousands of users far more slowly; "
        "see docs/performance.md",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log detail",
    )
    p.add_argument("--version", action="version", version=SERVER_ID)
    return p


class UsageError(Exception):
    """A bad option value found after parsing (a file that cannot be read)."""


def read_password(path: str | None, env: str | None) -> bytes | None:
    """The password from FILE's first line (the file wins) or the env value.

    Only the line ending is dropped: spaces may be part of a password.
    """
    if path is not None:
        try:
            with open(path, "rb") as f:
                first = f.readline()
        except OSError as exc:
            raise UsageError(f"cannot read the password file {path}: {exc.strerror}") from None
        password = first.rstrip(b"\r\n")
        if not password:
            raise UsageError(f"the password file {path} is empty")
        return password
    if env:
        return env.encode()
    return None


def check_cluster_url(url: str) -> None:
    """A usage error unless `url` is a Redis URL and redis-py is installed."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise UsageError(f"--cluster wants a redis:// URL, not {url!r}")
    try:
        import redis  # noqa: F401
    except ImportError:
        raise UsageError(
            "--cluster needs the redis package: pip install 'conexion[cluster]'"
        ) from None


def event_loop_factory(
    choice: str, tls: bool = False
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop factory for `--loop`; None means the standard loop.

    Not uvloop with TLS: each connection starts TLS itself (so that failed
    handshakes are logged), which needs reading paused from the first
    moment, and uvloop ignores a pause made in `connection_made`.
    """
    if choice == "asyncio":
        return None
    if tls:
        raise UsageError("--loop uvloop does not serve TLS; use the standard loop")
    try:
        import uvloop
    except ImportError:
        raise UsageError("--loop uvloop needs uvloop: pip install 'conexion[fast]'") from None
    return uvloop.new_event_loop


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    srv = ServerConfig()
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.cluster is not None:
        check_cluster_url(args.cluster)
    hub = HubConfig(
        max_clients=args.max_clients,
        history_size=max(0, args.history),
        welcome_history=max(0, min(args.history, HubConfig().welcome_history)),
        rate=args.rate,
        burst=args.burst,
        motd=args.motd,
        rooms=args.rooms,
        room_creation=RoomCreation(args.room_creation),
        max_rooms=args.max_rooms,
        max_rooms_per_user=args.max_rooms_per_user,
        presence_limit=args.presence_limit,
    )
    return ServerConfig(
        host=args.host,
        port=args.port,
        hub=hub,
        ping_after=args.ping_after,
        idle_timeout=max(args.idle_timeout, args.ping_after),
        max_output=args.max_output,
        keepalive_idle=args.keepalive_idle,
        text_recap=args.text_recap,
        backlog=args.backlog,
        db=args.db or default_db(),
        keep_days=args.keep_days,
        keep_messages=args.keep_messages,
        hello_timeout=args.hello_timeout,
        greet_after=max(0.0, args.greet_after),
        max_per_address=args.max_per_address,
        password=read_password(args.password_file, os.environ.get("CONEXION_PASSWORD")),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        irc_port=args.irc_port,
        irc_tls_port=args.irc_tls_port,
        irc_name=args.irc_name,
        cluster=args.cluster,
        cluster_prefix=args.cluster_prefix,
        cluster_max_log=args.cluster_max_log,
        presence_ttl=args.presence_ttl,
        presence_refresh=min(srv.presence_refresh, args.presence_ttl / 5),
    )


def raise_file_limit() -> tuple[int, int]:
    """Raise the soft limit on open descriptors to the hard one (every
    connection is one); the limit before and after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, target
    return soft, soft


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["accounts"]:
        from . import account_admin

        return account_admin.main(argv[1:], default_db())
    args = build_parser().parse_args(argv)
    # In a cluster several instances often log to one terminal (`make
    # cluster`): each line says which one it is by its port.
    label = f"[:{args.port}] " if args.cluster else ""
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {label}%(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    before, after = raise_file_limit()
    logging.getLogger(__name__).debug("open descriptors allowed: %d (was %d)", after, before)
    try:
        config = config_from_args(args)
        if config.tls_cert:
            # Load it now so a bad file is one clear line, not a traceback.
            ssl_context(config)
    except UsageError as exc:
        print(f"conexion-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ssl.SSLError) as exc:
        print(f"conexion-server: cannot load the TLS certificate or key: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if config.db != MEMORY_DB and config.cluster is None:
        # The default folder may not exist yet: `make run` needs no setup.
        try:
            Path(config.db).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"conexion-server: cannot use database {config.db}: {exc}", file=sys.stderr)
            return EXIT_BAD_DATABASE

    def ready(server: ChatServer) -> None:
        for host, port in server.addresses:
            shown = f"[{host}]" if ":" in host else host
            _tell(f"conexion-server listening on {shown}:{port}")
        for kind in ("irc", "irc-tls"):
            if getattr(config, kind.replace("-", "_") + "_port") is not None:
                _tell(f"conexion-server serving IRC ({kind}) on port {server.irc_port(kind)}")

    try:
        loop_factory = event_loop_factory(args.loop, tls=config.tls_cert is not None)
    except UsageError as exc:
        print(f"conexion-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(config, ready))
    except StoreError as exc:
        print(f"conexion-server: database error: {exc}", file=sys.stderr)
        return EXIT_BAD_DATABASE
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use (is another server running?)"
        else:
            reason = exc.strerror or str(exc)
        print(
            f"conexion-server: cannot listen on {config.host}:{config.port}: {reason}",
            file=sys.stderr,
        )
        return EXIT_CANNOT_LISTEN
    _tell("conexion-server stopped")
    return 0


def _tell(line: str) -> None:
    """Print a status line. Whoever started the server may have stopped
    reading (a closed pipe); that must not turn a clean run into a traceback."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
