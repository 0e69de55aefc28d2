"""Every limit and default of the client in one place: the network side
(`ClientConfig`, used by `client.py`) and the screen side (`UiConfig`).

No Textual here: `client.py` imports this module and must stay UI-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from conexion_protocol import DEFAULT_HOST, DEFAULT_PORT, MAX_SERVER_FRAME

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "FALLBACK_NAME", "ClientConfig", "UiConfig"]

FALLBACK_NAME = "guest"


@dataclass(slots=True, frozen=True)
class ClientConfig:
    """How the connection behaves; tests shrink the timings."""

    connect_timeout: float = 5.0  # seconds for the TCP connect
    hello_timeout: float = 5.0  # seconds from `hello` to `welcome` (or `error`)
    first_ping: float = 1.0  # seconds after joining before the first ping (shows RTT soon)
    ping_interval: float = 10.0  # seconds between our pings (RTT and liveness)
    dead_after: float = 35.0  # seconds without a byte from the server: reconnect
    backoff_base: float = 0.5  # first reconnect delay, doubled per failed attempt
    backoff_max: float = 15.0  # the delay never grows past this
    max_frame: int = MAX_SERVER_FRAME  # bytes; a `welcome` can be large
    close_timeout: float = 1.0  # seconds to flush `bye` on the way out
    read_chunk: int = 65_536  # bytes per socket read


@dataclass(slots=True, frozen=True)
class UiConfig:
    """What the screens keep and how often they repaint."""

    scrollback: int = 100_000  # log entries kept; older ones are dropped
    input_history: int = 500  # lines Up/Down can walk back through
    batch_window: float = 0.01  # seconds: events within it reach the screen as one update
    min_flush_interval: float = 0.05  # seconds: under a flood, at most 20 updates a second
    strip_cache: int = 2_048  # rendered log entries kept (LRU)
    history_page: int = 100  # older messages asked for each time the log hits the top
