"""Durations as people type them for a timed mute or ban: `10` (minutes),
`90s`, `10m`, `2h`, `3d`, `1w`; shared by the server's plain-text commands
and the TUI, so both read them the same way."""

from __future__ import annotations

from .frames import MAX_SANCTION_MINUTES

_UNITS = {"m": 1, "min": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
EXAMPLES = ("10m", "30m", "1h", "1d", "1w")  # what a client offers to complete


def parse_minutes(word: str) -> int | None:
    """Whole minutes (rounded up, at least 1) for a duration word, or None
    if `word` is not one. Over a year is refused with ValueError."""
    word = word.strip().lower()
    number = word.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = word[len(number) :]
    if not number.isdigit() or not number.isascii():
        return None
    if unit == "s":
        minutes = -(-int(number) // 60)
    elif unit == "" or unit in _UNITS:
        minutes = int(number) * _UNITS.get(unit, 1)
    else:
        return None
    if minutes < 1:
        raise ValueError("a duration is at least a minute")
    if minutes > MAX_SANCTION_MINUTES:
        raise ValueError("a duration is at most a year; leave it out for one until lifted")
    return minutes


def describe_minutes(minutes: int) -> str:
    """`10 minutes`, `2 hours`, `3 days`: for people, as exact as it came."""
    for size, unit in ((7 * 24 * 60, "week"), (24 * 60, "day"), (60, "hour")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
