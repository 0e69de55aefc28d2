"""The broadcasts of one event-loop turn, joined once per audience and handed
to each listener as slices of the same buffers. No sockets here.

Relaying a message to N members one by one costs N Python calls per message.
Instead, each broadcast is appended here once, to the stream of its audience
(a room's members, or those watching its joins and leaves); at the end of
the turn every listener takes the slices it needs from the streams of the
audiences it hears (minus its own messages, cut where its own frames such as
acks go in between). A turn therefore costs O(listeners + messages), and
nothing depends on how many rooms the server has.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate

from .hub import Audience, Outbound

# The wire formats a stream is joined in: JSON; plain text for someone whose
# current room is the stream's room; plain text for someone elsewhere (a
# message then names its room).
JSON, TEXT, AWAY = "json", "text", "away"
IRC, IRC_TIME = "irc", "irc-time"  # IRC lines, without and with server-time tags


class _Joined:
    """Every item's bytes in one wire format, joined, with where each starts."""

    __slots__ = ("count", "offsets", "view")

    def __init__(self, parts: list[bytes]) -> None:
        self.count = len(parts)
        self.offsets = [0, *accumulate(map(len, parts))]
        self.view = memoryview(b"".join(parts))


class AudienceStream:
    """One audience's broadcasts in this turn, in the order they were made."""

    __slots__ = ("_joined", "items", "marks", "positions")

    def __init__(self) -> None:
        self.items: list[Outbound] = []
        self.marks: list[int] = []  # each item's Delivery.mark, ascending
        self.positions: list[int] = []  # each item's place among the turn's broadcasts
        self._joined: dict[str, _Joined] = {}

    def __len__(self) -> int:
        return len(self.items)

    def first_after(self, mark: int) -> int:
        """The index of the first item made after the room event `mark`."""
        marks = self.marks
        return 0 if not marks or marks[0] > mark else bisect_right(marks, mark)

    def slices(self, start: int, end: int, skip: list[int], form: str) -> list[memoryview]:
        """The bytes of items `start` to `end` (not included) in one format,
        leaving out the indices in `skip` (ascending), as few slices as that
        allows."""
        joined = self._joined_in(form)
        offsets, view = joined.offsets, joined.view
        pieces = []
        # Only the skipped indices inside the range: a sender's own frames
        # cut the stream many times a turn, and each cut must not walk the
        # whole list again (that was quadratic in a turn's messages).
        for k in range(bisect_left(skip, start), len(skip)):
            index = skip[k]
            if index >= end:
                break
            if index > start:
                pieces.append(view[offsets[start] : offsets[index]])
            start = index + 1
        if start < end:
            pieces.append(view[offsets[start] : offsets[end]])
        return pieces

    def _joined_in(self, form: str) -> _Joined:
        joined = self._joined.get(form)
        if joined is None or joined.count != len(self.items):
            # Built once a turn; again only if a flush came mid-turn (a close).
            items = self.items
            if form == JSON:
                parts = [out.json for out in items]
            elif form == TEXT:
                parts = [out.text for out in items]
            elif form == AWAY:
                parts = [out.text_away for out in items]
            elif form == IRC:
                parts = [out.irc for out in items]
            else:
                parts = [out.irc_time for out in items]
            joined = self._joined[form] = _Joined(parts)
        return joined


class TurnFanout:
    """This turn's broadcasts, a stream per audience that has any, and a
    count of them all that orders broadcasts across audiences and against
    each listener's own frames."""

    __slots__ = ("count", "streams")

    def __init__(self) -> None:
        self.streams: dict[Audience, AudienceStream] = {}
        self.count = 0

    def __bool__(self) -> bool:
        return bool(self.streams)

    def append(self, audience: Audience, out: Outbound, mark: int) -> int:
        """Add a broadcast; its index in its audience's stream."""
        stream = self.streams.get(audience)
        if stream is None:
            stream = self.streams[audience] = AudienceStream()
        stream.items.append(out)
        stream.marks.append(mark)
        stream.positions.append(self.count)
        self.count += 1
        return len(stream.items) - 1

    def clear(self) -> None:
        self.streams = {}
        self.count = 0


class Reading:
    """One listener's place in one audience's stream during a flush."""

    __slots__ = ("end", "form", "index", "skip", "stream")

    def __init__(
        self, stream: AudienceStream, index: int, end: int, skip: list[int], form: str
    ) -> None:
        self.stream = stream
        self.index = index
        self.end = end
        self.skip = skip
        self.form = form


def interleave(
    readings: list[Reading], own: list[bytes], own_positions: list[int]
) -> list[bytes | memoryview]:
    """The listener's bytes for this turn, in the order they were made: the
    slices of every stream it reads, with its own frames (queued when
    `own_positions` broadcasts had been made) put back where they belong."""
    pieces: list[bytes | memoryview] = []
    if len(readings) == 1:
        # The common case: one busy audience. Each own frame cuts the
        # stream once; no merging.
        reading = readings[0]
        stream, index, end = reading.stream, reading.index, reading.end
        for data, position in zip(own, own_positions, strict=True):
            cut = bisect_left(stream.positions, position, index, end)
            if cut > index:
                pieces += stream.slices(index, cut, reading.skip, reading.form)
                index = cut
            pieces.append(data)
        pieces += stream.slices(index, end, reading.skip, reading.form)
        return pieces
    mine = 0
    while True:
        # The reading whose next item came first, and when the next item of
        # any other reading came.
        first: Reading | None = None
        first_at = second_at = _NEVER
        for reading in readings:
            if reading.index < reading.end:
                at = reading.stream.positions[reading.index]
                if at < first_at:
                    first, first_at, second_at = reading, at, first_at
                elif at < second_at:
                    second_at = at
        own_at = own_positions[mine] if mine < len(own) else _NEVER
        if first is None:
            pieces += own[mine:]
            return pieces
        if own_at <= first_at:
            pieces.append(own[mine])
            mine += 1
            continue
        stream = first.stream
        cut = bisect_left(stream.positions, min(own_at, second_at), first.index, first.end)
        pieces += stream.slices(first.index, cut, first.skip, first.form)
        first.index = cut


_NEVER = float("inf")
