"""Every limit and default of the server in one place: the chat's rules
(`HubConfig`) and the process around them (`ServerConfig`). Data only; the
command line (`cli.py`) fills these in, and nothing else holds a limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from conexion_protocol import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_CLIENT_FRAME,
    MAX_TEXT_LEN,
    MAX_TOPIC_LEN,
)


class RoomCreation(StrEnum):
    """Who may create a room by joining it."""

    ANYONE = "anyone"
    REGISTERED = "registered"  # holders of an account
    ADMINS = "admins"  # server admins (accounts the operator marked)


class AccountsPolicy(StrEnum):
    """Who may join: anyone (guests under unregistered names), or only the
    holders of an account."""

    OPTIONAL = "optional"
    REQUIRED = "required"


class Registration(StrEnum):
    """Who makes accounts: users themselves (`register`), or only the
    operator (`conexion-server accounts ...`), as a teacher for a class."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(slots=True, frozen=True)
class HubConfig:
    max_clients: int = 10_000
    history_size: int = 100  # messages of each conversation kept in memory
    welcome_history: int = 50  # messages in `welcome` (and DMs) and in a `room` answer
    welcome_users: int = 200  # names in `welcome` and `room`; the count is always whole
    # -- rooms (see docs/protocol.md#rooms) --
    rooms: tuple[str, ...] = ()  # created at start, beside `general`
    room_creation: RoomCreation = RoomCreation.ANYONE
    # A school server: every class a handful of rooms, a few hundred classes.
    max_rooms: int = 1_000
    # IRC servers allow 20 to 120 channels a user; a person in 50 rooms has
    # stopped reading most of them.
    max_rooms_per_user: int = 50
    # Above this many members, a room's joins and leaves go only to those
    # who watch it (a storm of N joins would otherwise send N² notices).
    presence_limit: int = 1_000
    max_topic: int = MAX_TOPIC_LEN
    # -- accounts (see docs/security.md) --
    accounts: AccountsPolicy = AccountsPolicy.OPTIONAL
    registration: Registration = Registration.OPEN
    # Seconds to hold back the answer to the n-th wrong password in a row
    # for one account, from anywhere (the last value repeats); the address's
    # own count applies too, and the longer wait wins.
    login_delays: tuple[float, ...] = (0.0, 0.0, 1.0, 2.0, 4.0, 8.0)
    login_forget: float = 600.0  # seconds after which an account's failures are forgotten
    # -- noise and abuse --
    # Seconds a newcomer stays before its arrival in `general` is announced
    # (at once if it speaks first); one that leaves sooner is never
    # announced, so a storm of short connections tells nobody anything.
    quiet_arrival: float = 3.0
    renames_per_minute: float = 3.0  # sustained; a burst of `rename_burst`
    rename_burst: int = 3
    rate: float = 10.0  # say + dm per second, sustained
    burst: int = 20
    id_ttl: float = 600.0  # how long sent ids de-duplicate resends
    max_ids: int = 1_000_000
    max_text: int = MAX_TEXT_LEN  # code points; the protocol's limit
    motd: str | None = None


@dataclass(slots=True, frozen=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    hub: HubConfig = field(default_factory=HubConfig)
    ping_after: float = 30.0  # seconds of silence before the server pings
    idle_timeout: float = 90.0  # seconds of silence before the server drops
    max_output: int = 1024 * 1024  # bytes queued for one peer before it is "slow"
    max_frame: int = MAX_CLIENT_FRAME
    read_size: int = 256 * 1024  # bytes one socket read takes at most (as asyncio's)
    max_bad_frames: int = 20  # bad frames in a row before the server closes
    # Lines of one peer served per event-loop turn; the rest wait for the
    # next turn, so that one write of 100,000 short lines is served a share
    # at a time between everyone else's.
    max_lines_per_turn: int = 100
    # With a database: writes (messages, ids, ...) accepted while a commit is
    # in flight, past which the server stops reading from peers until that
    # commit is done. It bounds what one commit then releases at once, and
    # so every peer's output and the server's memory.
    max_uncommitted: int = 4_000
    # Refusals for sending too fast in a row (nothing accepted in between)
    # before the server closes the connection (`left` reason `error`).
    max_rate_limited: int = 100
    # Messages a plain-text user is shown on joining the chat or a room
    # (people read a screenful, not a hundred lines).
    text_recap: int = 20
    shutdown_grace: float = 5.0  # seconds to flush goodbyes on SIGINT/SIGTERM
    # How long a closing connection may take to flush its last bytes before
    # it is cut: a peer that stopped reading must not keep a socket alive.
    linger: float = 5.0
    backlog: int = 1024  # connections the kernel queues before we accept them
    # TCP keepalive finds dead plain-text peers (they cannot answer pings):
    # first probe after `idle` seconds of silence, then every `interval`,
    # and the peer is dead after `count` unanswered probes (2 minutes).
    keepalive_idle: int = 60
    keepalive_interval: int = 15
    keepalive_count: int = 4
    # History on disk: a SQLite file, or None / ":memory:" for a throwaway
    # in-memory store (the default here, so tests stay fast; the CLI's
    # default is a file in the user data folder).
    db: str | None = None
    keep_days: float | None = None  # retention: delete messages older than this
    keep_messages: int | None = None  # retention: keep only the newest N
    # Seconds a SQLite call waits for a lock held by someone else (an
    # operator's `sqlite3` shell, a backup) before it fails.
    db_busy_timeout: float = 5.0
    # -- access and abuse limits (see docs/security.md) --
    # The shared password as UTF-8 bytes; None means no password is asked.
    password: bytes | None = field(default=None, repr=False)
    # Seconds to hold back the answer to the n-th wrong password in a row
    # from one address (the last value repeats).
    password_delays: tuple[float, ...] = (0.0, 0.0, 1.0, 2.0, 4.0, 8.0)
    password_forget: float = 600.0  # seconds after which an address's failures are forgotten
    password_max_addresses: int = 10_000  # addresses whose failures are remembered
    # Seconds from connect to a joined name; long enough for a person typing
    # a name and a password into `nc`, short enough to starve slowloris.
    hello_timeout: float = 30.0
    # Seconds of silence after connecting before a plain-text greeting is
    # sent (`nc` shows nothing until then); JSON clients speak first. 0: never.
    greet_after: float = 1.0
    max_per_address: int = 64  # concurrent connections from one IP address
    # Seconds between two log lines of a kind an attacker can repeat at will
    # (refused connections from one address, running out of descriptors).
    log_every: float = 10.0
    # -- a cluster of instances on one Redis (see docs/scaling.md) --
    cluster: str | None = None  # redis://HOST:PORT/DB; None: a single server
    cluster_prefix: str = "conexion:"  # Redis key prefix, so chats can share a Redis
    # An instance that has not refreshed its presence for this long is dead:
    # the others announce its users as `left` (reason `lost`).
    presence_ttl: float = 5.0
    presence_refresh: float = 1.0  # seconds between presence refreshes
    cluster_max_log: int = 10_000_000  # log entries Redis keeps (approximately)
    cluster_read_batch: int = 1000  # log entries taken per read
    cluster_read_block: float = 1.0  # seconds one read waits for new entries
    cluster_history_chunk: int = 500  # log entries scanned per step of a `history`
    # Log entries of each room (and DM conversation) a cluster's `search` looks at.
    cluster_search_scan: int = 10_000
    cluster_connect_timeout: float = 1.0  # seconds to open a connection to Redis
    # Seconds a Redis reply may take; a blocking read waits `cluster_read_block`
    # on top of this.
    cluster_reply_timeout: float = 2.0
    cluster_stop_wait: float = 2.0  # seconds to finish announcing leaves when stopping
    tls_cert: str | None = None  # PEM certificate chain; with tls_key, the server speaks TLS
    tls_key: str | None = None
    # IRC listeners (see docs/irc.md): plain, and TLS with the certificate
    # above; None: none; 0: any free port (tests).
    irc_port: int | None = None
    irc_tls_port: int | None = None
    irc_name: str = "conexion"  # the server's name in IRC lines
