"""Every limit, timing and default of the client: the network side (`ClientConfig`) and the
screen side (`UiConfig`). Data only: no Textual and no I/O, since `session.py` imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from conexion_protocol import DEFAULT_HOST, DEFAULT_PORT, MAX_SERVER_FRAME

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "FALLBACK_NAME",
    "SHOWN_COMMAND",
    "ClientConfig",
    "UiConfig",
]

FALLBACK_NAME = "guest"
# Characters of an unknown command word quoted back in the error line: enough
# to recognise a typo, never a pasted page.
SHOWN_COMMAND = 40


@dataclass(slots=True, frozen=True)
class ClientConfig:
    """How the connection behaves; tests shrink the timings."""

    connect_timeout: float = 5.0  # seconds for the TCP connect
    hello_timeout: float = 5.0  # seconds from `hello` to `welcome` (or `error`)
    first_ping: float = 1.0  # seconds after joining before the first ping (shows RTT soon)
    ping_interval: float = 10.0  # seconds between our pings (RTT and liveness)
    # Pings remembered for RTT: a pong older than the last `ping_window` pings
    # measures a link that has changed since, so it is ignored.
    ping_window: int = 10
    dead_after: float = 35.0  # seconds without a byte from the server: reconnect
    backoff_base: float = 0.5  # first reconnect delay, doubled per failed attempt
    backoff_max: float = 15.0  # the delay never grows past this
    # Each delay is a random share of its ceiling, from 1 - jitter to all of
    # it, so that many clients cut off at once do not come back in step.
    backoff_jitter: float = 0.5
    max_frame: int = MAX_SERVER_FRAME  # bytes; a `welcome` can be large
    close_timeout: float = 1.0  # seconds to flush `bye` on the way out
    read_chunk: int = 65_536  # bytes per socket read
    # Random bytes (shown as hex) before each send id's counter: 4 make a
    # repeat across restarts of the client a one-in-four-billion chance.
    id_token_bytes: int = 4
    # Seconds from a `hello` with an account password to its answer: the
    # server holds back the answer to a wrong one (up to 8 s in a row of
    # failures) and hashes slowly on purpose.
    login_timeout: float = 20.0
    # Requests with an id remembered until answered, per connection: enough
    # for a rejoin of every room (the server allows 50) and what the screen
    # asks meanwhile; a server that never answers cannot grow it.
    max_requests: int = 1_000
    # Seconds added to a room's slow mode before our next message there goes:
    # the server counts from when it read the last one, a little after we
    # wrote it, so a message sent on the dot could be early.
    slow_margin: float = 0.5
    # Sends are paced within the rate and burst the welcome tells: at this
    # share of the rate, keeping this many of the burst's tokens spare, so
    # sends bunched up by the network still arrive within the limit.
    rate_share: float = 0.9
    burst_spare: int = 1


@dataclass(slots=True, frozen=True)
class UiConfig:
    """What the screens keep and how often they repaint."""

    scrollback: int = 100_000  # log entries kept; older ones are dropped
    # The log drops its oldest entries in chunks of 1/prune_share of the
    # scrollback (1,000 of 100,000), so a full log does not shift its lists
    # on every new message.
    prune_share: int = 100
    input_history: int = 500  # lines Up/Down can walk back through
    batch_window: float = 0.01  # seconds: events within it reach the screen as one update
    min_flush_interval: float = 0.05  # seconds: under a flood, at most 20 updates a second
    strip_cache: int = 2_048  # rendered log entries kept (LRU)
    history_page: int = 100  # older messages asked for each time the log hits the top
    # Columns: narrower terminals hide the user list, and below `collapse_below`
    # the room sidebar too (the header then counts what is unread elsewhere).
    narrow_below: int = 120
    collapse_below: int = 70
    # The user list is as wide as its widest name (with badge), within these.
    users_min: int = 12
    users_max: int = 26
    switcher_limit: int = 50  # lines the quick switcher shows at most
    who_shown: int = 50  # names a /who answer writes into the log (the user list has all)
    notify_timeout: float = 6.0  # seconds a mention or DM toast stays up
    # Seconds between two looks at the clock while a mute or slow mode is
    # shown: the countdown's step, and how late "your mute has run out" is.
    tick: float = 1.0
