"""How times are shown (`HH:MM` in local time), as a protocol so tests and snapshots can inject
a fixed clock. It must not decide when anything happens: timers belong to the client.
"""

from __future__ import annotations

import time
from typing import Protocol

from conexion_protocol import local_hhmm


class Clock(Protocol):
    def hhmm(self, when: str | float | None = None) -> str:
        """`when` is a server timestamp (RFC 3339), an epoch, or None for now."""
        ...


class LocalClock:
    """The real clock: local wall time."""

    def hhmm(self, when: str | float | None = None) -> str:
        return local_hhmm(time.time() if when is None else when)
