"""The room broadcasts of one event-loop turn, joined once and handed to every
member as slices of the same buffer. No sockets here.

Relaying a message to N members one by one costs N Python calls per message.
Instead, each broadcast is appended here once; at the end of the turn every
member takes the slices it needs (all of them, minus its own messages, cut
where its own frames such as acks go in between), so a turn costs
O(members + messages) however busy the room is.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from .hub import Outbound


class _Joined:
    """Every item's bytes in one wire format, joined, with where each starts."""

    __slots__ = ("count", "offsets", "view")

    def __init__(self, parts: list[bytes]) -> None:
        self.count = len(parts)
        self.offsets = [0, *accumulate(map(len, parts))]
        self.view = memoryview(b"".join(parts))


class TurnStream:
    __slots__ = ("_json", "_text", "items", "marks")

    def __init__(self) -> None:
        self.items: list[Outbound] = []
        self.marks: list[int] = []  # each item's Delivery.mark, ascending
        self._json: _Joined | None = None
        self._text: _Joined | None = None

    def __len__(self) -> int:
        return len(self.items)

    def append(self, out: Outbound, mark: int) -> int:
        """Add a broadcast; its index in this turn."""
        self.items.append(out)
        self.marks.append(mark)
        return len(self.items) - 1

    def first_after(self, mark: int) -> int:
        """The index of the first item made after the room event `mark`."""
        marks = self.marks
        return 0 if not marks or marks[0] > mark else bisect_right(marks, mark)

    def clear(self) -> None:
        self.items = []
        self.marks = []
        self._json = self._text = None

    def slices(self, start: int, end: int, skip: list[int], json: bool) -> list[memoryview]:
        """The bytes of items `start` to `end` (not included) in one format,
        leaving out the indices in `skip` (ascending), as few slices as that
        allows."""
        joined = self._joined(json)
        offsets, view = joined.offsets, joined.view
        pieces = []
        for index in skip:
            if index < start:
                continue
            if index >= end:
                break
            if index > start:
                pieces.append(view[offsets[start] : offsets[index]])
            start = index + 1
        if start < end:
            pieces.append(view[offsets[start] : offsets[end]])
        return pieces

    def _joined(self, json: bool) -> _Joined:
        joined = self._json if json else self._text
        if joined is None or joined.count != len(self.items):
            # Built once a turn; again only if a flush came mid-turn (a close).
            if json:
                joined = self._json = _Joined([out.json for out in self.items])
            else:
                joined = self._text = _Joined([out.text for out in self.items])
        return joined
