"""How times are shown (`HH:MM` in local time, a day and time for what is not today) and what
time it is, as a protocol so tests and snapshots can inject a fixed or a movable clock. It must
not decide when anything happens: timers belong to the client and the screens.
"""

from __future__ import annotations

import time
from typing import Protocol

from conexion_protocol import local_hhmm, parse_ts
from conexion_protocol.timefmt import UNKNOWN_HHMM


class Clock(Protocol):
    def hhmm(self, when: str | float | None = None) -> str:
        """`when` is a server timestamp (RFC 3339), an epoch, or None for now."""
        ...

    def now(self) -> float:
        """The wall clock (an epoch): what a mute's `until` is compared with."""
        ...

    def moment(self, when: str | float) -> str:
        """A moment a person reads as a deadline: `10:40` today, else with
        its day (`Wed 25 Nov 10:40`)."""
        ...


def epoch_of(when: str | float) -> float | None:
    """The epoch of a wire timestamp or an epoch; None for a malformed one."""
    return parse_ts(when) if isinstance(when, str) else when


def moment_words(epoch: float, now: float) -> str:
    """`10:40` on the day of `now`, `Wed 25 Nov 10:40` another day this year,
    with the year otherwise (local time)."""
    then, today = time.localtime(epoch), time.localtime(now)
    if then[:3] == today[:3]:
        return time.strftime("%H:%M", then)
    if then.tm_year == today.tm_year:
        return time.strftime("%a %d %b %H:%M", then)
    return time.strftime("%a %d %b %Y %H:%M", then)


class LocalClock:
    """The real clock: local wall time."""

    def hhmm(self, when: str | float | None = None) -> str:
        return local_hhmm(time.time() if when is None else when)

    def now(self) -> float:
        return time.time()

    def moment(self, when: str | float) -> str:
        epoch = epoch_of(when)
        return UNKNOWN_HHMM if epoch is None else moment_words(epoch, self.now())
