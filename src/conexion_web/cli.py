"""`conexion-web`: serve the Conexion TUI to browsers."""

from __future__ import annotations

import argparse

from .server import ChatAddress, ChatWeb


def _port(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conexion-web",
        description="Serve the Conexion terminal client to web browsers: one client "
        "process per visitor, each starting at the name prompt.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address the web server listens on")
    p.add_argument("--port", type=_port, default=8080, help="web server port")
    p.add_argument(
        "--public-url",
        default=None,
        help="the URL browsers use, when a proxy is in front (e.g. https://chat.school.example)",
    )
    p.add_argument(
        "--max-visitors",
        type=int,
        default=50,
        help="browsers served at once (each runs a client process); others get a 'full' page",
    )
    p.add_argument("--chat-host", default="127.0.0.1", help="the chat server's address")
    p.add_argument("--chat-port", type=_port, default=8000, help="the chat server's port")
    p.add_argument("--chat-tls", action="store_true", help="connect to the chat server with TLS")
    p.add_argument("--chat-ca", default=None, help="CA certificate (PEM) for --chat-tls")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_visitors < 1:
        build_parser().error("--max-visitors is at least 1")
    chat = ChatAddress(
        args.chat_host, args.chat_port, args.chat_tls or bool(args.chat_ca), args.chat_ca
    )
    web = ChatWeb(
        chat,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        max_visitors=args.max_visitors,
    )
    web.serve()
    return 0
