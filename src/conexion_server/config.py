"""Every limit and default of the server in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from .hub import HubConfig
from .protocol import MAX_CLIENT_FRAME

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(slots=True, frozen=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    hub: HubConfig = field(default_factory=HubConfig)
    ping_after: float = 30.0  # seconds of silence before the server pings
    idle_timeout: float = 90.0  # seconds of silence before the server drops
    max_output: int = 1024 * 1024  # bytes queued for one peer before it is "slow"
    max_frame: int = MAX_CLIENT_FRAME
    max_bad_frames: int = 20  # bad frames in a row before the server closes
    shutdown_grace: float = 5.0  # seconds to flush goodbyes on SIGINT/SIGTERM
    # History on disk: a SQLite file, or None / ":memory:" for a throwaway
    # in-memory store (the default here, so tests stay fast; the CLI's
    # default is a file in the user data folder).
    db: str | None = None
    keep_days: float | None = None  # retention: delete messages older than this
    keep_messages: int | None = None  # retention: keep only the newest N
