"""How times are shown (`HH:MM` in local time, a day and time for what is not today) and what
time it is, as a protocol so tests and snapshots can inject a fixed or a movable clock. It must
not decide when anything happens: timers belong to the client and the screens.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Protocol

from conexion_protocol import parse_ts
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

    def day_key(self, epoch: float) -> str:
        """The local date of `epoch` (`2026-11-24`): what tells days apart."""
        ...

    def day_words(self, key: str) -> str:
        """A day as a log's separator names it: `Today`, `Yesterday`,
        `Tuesday 24 November` (with the year when it is not this one)."""
        ...

    def full(self, epoch: float) -> str:
        """The full date and time: `Tuesday 24 November 2026, 12:34:56`."""
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


def day_key(epoch: float) -> str:
    return _local_minute(int(epoch // 60))[1]


@lru_cache(maxsize=4096)
def _local_minute(minute: int) -> tuple[str, str]:
    """`HH:MM` and the day key of a minute since the epoch, in local time.
    A flood brings thousands of messages a minute: one `localtime` for all
    of them. Every second of a UTC minute is in the same local minute, since
    time zones differ from UTC by whole minutes."""
    then = time.localtime(minute * 60)
    return time.strftime("%H:%M", then), time.strftime("%Y-%m-%d", then)


def day_words(key: str, now: float) -> str:
    """`Today`, `Yesterday`, else the weekday, day and month (and the year
    when it is not the year of `now`); a malformed key is returned as is."""
    try:
        day = date.fromisoformat(key)
    except ValueError:
        return key
    today = date.fromisoformat(day_key(now))
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    words = f"{day:%A} {day.day} {day:%B}"
    return words if day.year == today.year else f"{words} {day.year}"


def full_words(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch)
    return f"{moment:%A} {moment.day} {moment:%B} {moment.year}, {moment:%H:%M:%S}"


class LocalClock:
    """The real clock: local wall time."""

    def hhmm(self, when: str | float | None = None) -> str:
        epoch = epoch_of(time.time() if when is None else when)
        return UNKNOWN_HHMM if epoch is None else _local_minute(int(epoch // 60))[0]

    def now(self) -> float:
        return time.time()

    def moment(self, when: str | float) -> str:
        epoch = epoch_of(when)
        return UNKNOWN_HHMM if epoch is None else moment_words(epoch, self.now())

    def day_key(self, epoch: float) -> str:
        return day_key(epoch)

    def day_words(self, key: str) -> str:
        return day_words(key, self.now())

    def full(self, epoch: float) -> str:
        return full_words(epoch)
