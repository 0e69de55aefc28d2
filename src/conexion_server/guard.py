"""Access rules that need no sockets: the shared-password check, the
per-address backoff after wrong passwords, and the throttle that keeps an
attacker from flooding the log. No asyncio here: the connection layer asks
these objects what to do and does the waiting itself.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


def password_ok(expected: bytes | None, given: str | None) -> bool:
    """True when the server needs no password, or `given` is it.

    The comparison is on UTF-8 bytes with `hmac.compare_digest`, so the time
    it takes does not reveal how much of a guess was right.
    """
    if expected is None:
        return True
    if given is None:
        # Still compare: a missing password should take as long as a wrong one.
        hmac.compare_digest(expected, b"")
        return False
    return hmac.compare_digest(expected, given.encode("utf-8", "surrogatepass"))


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


def backoff_delay(delays: tuple[float, ...], failures: int) -> float:
    """The wait before answering the `failures`-th failure in a row: the
    n-th of `delays`, the last one repeating."""
    delays = delays or (0.0,)
    return delays[min(max(failures, 1), len(delays)) - 1]


class FailureBackoff:
    """How long to hold back the answer to a wrong password, per address.

    The n-th failure in a row from one address is answered after
    `delays[n-1]` seconds (the last delay repeats). An address is forgotten
    `forget_after` seconds after its last failure, or at once after a right
    password. At most `max_addresses` are tracked: the one that failed
    longest ago is dropped first, so a flood of addresses costs bounded
    memory (it can only make some old address start its count again).
    """

    def __init__(
        self,
        delays: tuple[float, ...],
        forget_after: float,
        max_addresses: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delays = delays or (0.0,)
        self.forget_after = forget_after
        self.max_addresses = max_addresses
        self._clock = clock
        self._by_address: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_address)

    def failures(self, address: str) -> int:
        entry = self._live(address, self._clock())
        return entry.count if entry is not None else 0

    def failed(self, address: str) -> float:
        """Count a failure; return the seconds to wait before answering it."""
        now = self._clock()
        entry = self._live(address, now)
        if entry is None:
            entry = _Failures(0, now)
            self._by_address[address] = entry
            while len(self._by_address) > self.max_addresses:
                self._by_address.popitem(last=False)
        entry.count += 1
        entry.last = now
        self._by_address.move_to_end(address)
        return backoff_delay(self.delays, entry.count)

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)

    def _live(self, address: str, now: float) -> _Failures | None:
        entry = self._by_address.get(address)
        if entry is not None and now - entry.last >= self.forget_after:
            del self._by_address[address]
            return None
        return entry


class LogThrottle:
    """Lets a warning that an attacker can repeat at will through once per
    `every` seconds per kind (an address, say), and counts the ones held
    back, so that the log stays readable and its volume bounded. At most
    `max_keys` kinds are remembered (the oldest forgotten first)."""

    def __init__(
        self,
        every: float,
        *,
        max_keys: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every = every
        self.max_keys = max_keys
        self._clock = clock
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def allow(self, key: str) -> int | None:
        """None to stay quiet; otherwise, say it now, adding how many like
        it were held back since it was last said (0 the first time)."""
        now = self._clock()
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self.every:
            self._last[key] = (entry[0], entry[1] + 1)
            return None
        held = entry[1] if entry is not None else 0
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return held
