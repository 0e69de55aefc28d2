"""Timestamps on the wire (RFC 3339 UTC with milliseconds) and how people
see them (`HH:MM` in local time). Pure functions: the clock is an argument.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache


def format_ts(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds: `2026-11-24T12:00:00.123Z`."""
    # Round to whole milliseconds first: truncating the float's fraction turns
    # 12:00:00.123 into .122, because .123 is not exact in binary.
    whole, millis = divmod(round(epoch * 1000), 1000)
    return f"{_whole_second(whole)}.{millis:03d}Z"


@lru_cache(maxsize=4)
def _whole_second(whole: int) -> str:
    # A busy server stamps thousands of messages in the same second: the
    # date and time part is formatted once per second, not once per message.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


def parse_ts(ts: str) -> float | None:
    """The epoch of an RFC 3339 timestamp; None when it is not one."""
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


UNKNOWN_HHMM = "--:--"


def local_hhmm(when: str | float) -> str:
    """`HH:MM` in the local time zone for a wire timestamp or an epoch."""
    epoch = parse_ts(when) if isinstance(when, str) else when
    if epoch is None:
        return UNKNOWN_HHMM
    return time.strftime("%H:%M", time.localtime(epoch))
