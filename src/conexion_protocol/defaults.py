"""Where a server listens unless told otherwise, and how an address is
written for people. Shared by the server, the client and the tools."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"  # private until the operator opens it
DEFAULT_PORT = 8000


def format_address(host: str, port: int) -> str:
    """`host:port`, with an IPv6 host in brackets: `[::1]:8000`."""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}"
