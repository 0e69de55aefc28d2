"""`conexion-tui`: command-line options and environment -> the app -> run. The only place that
reads `sys.argv` or the environment; it must not hold chat logic.
"""

from __future__ import annotations

import argparse
import getpass
import os
import ssl
import sys
import unicodedata
from pathlib import Path

from conexion_protocol import MAX_NAME_LEN, ProtocolError, normalize_name

from . import CLIENT_ID
from .app import ConexionApp
from .client import tls_context
from .config import DEFAULT_HOST, DEFAULT_PORT, FALLBACK_NAME, UiConfig
from .saved import default_folder

EXIT_USAGE = 2


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a number, not {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless there is none (or it is a flag's
    False) or the help text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, argparse.SUPPRESS, False) or "default" in text:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    env_port = os.environ.get("CONEXION_PORT")
    p = argparse.ArgumentParser(
        prog="conexion-tui",
        description="Conexion chat client: a full-screen terminal chat.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "--host",
        action="append",
        default=None,
        metavar="HOST[:PORT][,HOST[:PORT]…]",
        help="server address (env CONEXION_HOST, default 127.0.0.1); several (comma-separated "
        "or the option repeated: a cluster's instances) are tried in order, moving to the next "
        "when one fails, and so is every address a name stands for",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=env_port if env_port else DEFAULT_PORT,
        help="server port (env CONEXION_PORT)",
    )
    p.add_argument(
        "--name",
        default=os.environ.get("CONEXION_NAME") or None,
        help="join at once under this name (env CONEXION_NAME); "
        "without it a start screen asks, suggesting your login name",
    )
    p.add_argument(
        "--scrollback",
        type=_positive_int,
        default=UiConfig().scrollback,
        help="messages kept in the log; older ones are dropped",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, checking the server's certificate against this computer's "
        "trusted authorities (or --ca)",
    )
    p.add_argument(
        "--ca",
        metavar="FILE",
        default=None,
        help="trust only this CA certificate (PEM) for the server's certificate; implies --tls",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=os.environ.get("CONEXION_DATA_DIR") or str(default_folder()),
        help="where the rooms you were in are remembered, per server (env CONEXION_DATA_DIR)",
    )
    p.add_argument(
        "--forget-rooms",
        action="store_true",
        help="do not remember rooms: start in the server's default rooms, save nothing",
    )
    p.add_argument("--version", action="version", version=CLIENT_ID)
    return p


def servers(hosts: list[str] | None, port: int) -> list[tuple[str, int]]:
    """The `--host` values as (host, port) pairs in order, each once: `a,b`
    and repeated options alike; `HOST:PORT` and `[v6]:PORT` give their own
    port, others take `port`."""
    found: list[tuple[str, int]] = []
    for value in hosts or [os.environ.get("CONEXION_HOST") or DEFAULT_HOST]:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            host, own = item, port
            if item.startswith("["):  # [::1]:8000
                host, _, rest = item[1:].partition("]")
                if rest.startswith(":"):
                    own = _port(rest[1:])
            elif item.count(":") == 1:
                host, _, number = item.partition(":")
                own = _port(number)
            if (host, own) not in found:
                found.append((host, own))
    if not found:
        raise argparse.ArgumentTypeError("--host needs at least one address")
    return found


def suggest_name(login: str | None) -> str:
    """A valid name made from a login name: invalid characters dropped,
    trimmed to the length limit; `guest` when nothing usable is left."""
    if not login:
        return FALLBACK_NAME
    kept = "".join(
        ch
        for ch in unicodedata.normalize("NFC", login)
        if unicodedata.category(ch)[0] in "LMN" or ch in "_-."
    )
    while kept and not (kept[0].isalpha() or kept[0].isdigit()):
        kept = kept[1:]
    kept = kept[:MAX_NAME_LEN]
    try:
        return normalize_name(kept)
    except ProtocolError:
        return FALLBACK_NAME


def login_name() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no USER/LOGNAME and no passwd entry
        return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    tls = None
    if args.tls or args.ca:
        try:
            tls = tls_context(args.ca)
        except (OSError, ssl.SSLError) as exc:
            parser.error(f"cannot use {args.ca} as the CA file: {exc}")
    # The password is never an option (it would show in `ps` and shell
    # history); the environment may pre-fill the start screen's field.
    try:
        addresses = servers(args.host, args.port)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    (host, port), *more = addresses
    app = ConexionApp(
        host,
        port,
        args.name,
        suggested_name=suggest_name(login_name()),
        ui_config=UiConfig(scrollback=args.scrollback),
        password=os.environ.get("CONEXION_PASSWORD") or None,
        tls=tls,
        data_dir=None if args.forget_rooms else Path(args.data_dir).expanduser(),
        handle_signals=True,
        more=tuple(more),
    )
    result = app.run()
    if app.return_code not in (None, 0):
        # Textual has restored the terminal and printed the traceback.
        return app.return_code or 1
    return result or 0


if __name__ == "__main__":
    sys.exit(main())
