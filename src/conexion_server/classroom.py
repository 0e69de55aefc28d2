"""Classroom tools: raised hands, and announcements that count who has seen
them. The changes are decided here and applied by the hub, in the same way
on a single server and on every instance of a cluster (whose logs carry the
changes): a queue is rebuilt identically from the same changes in the same
order. Kept in memory only: after a restart nobody's hand is up.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec

from conexion_protocol import MAX_REASON_LEN, UNSET, Hand, RaisedHand, clean_topic

from . import refusals
from .moderation import Rank

# Announcements of a room whose acknowledgements are still counted.
ANNOUNCEMENTS_KEPT = 20


class HandOp(StrEnum):
    RAISE = "raise"
    LOWER = "lower"
    NEXT = "next"  # the first in the queue: their turn


class HandChange(msgspec.Struct, omit_defaults=True):
    """One change to a room's queue. For `next`, whose turn it is is found
    when it is applied: the queue is the same everywhere by then."""

    op: HandOp
    room: str  # key
    by: str  # who did it, as shown
    ts: str
    key: str = ""  # whose hand (raise, lower)
    name: str = ""
    question: str = ""


class SeenChange(msgspec.Struct):
    room: str  # key
    seq: int
    key: str  # who has seen it


@dataclass(slots=True)
class Raised:
    name: str
    ts: str
    question: str = ""

    def shown(self) -> RaisedHand:
        hand = RaisedHand(name=self.name, ts=self.ts)
        if self.question:
            hand.question = self.question
        return hand


@dataclass(slots=True)
class Announcement:
    by: str  # the name key of who made it (not counted)
    of: int  # how many others were in the room when it was made
    seen: set[str] = field(default_factory=set)  # name keys


@dataclass(slots=True)
class Classroom:
    """A room's hands and announcements."""

    hands: OrderedDict[str, Raised] = field(default_factory=OrderedDict)  # key -> hand
    announcements: OrderedDict[int, Announcement] = field(default_factory=OrderedDict)

    def queue(self) -> list[RaisedHand]:
        return [hand.shown() for hand in self.hands.values()]

    def position(self, key: str) -> int | None:
        for i, held in enumerate(self.hands, 1):
            if held == key:
                return i
        return None

    def announced(self, seq: int, by: str, of: int) -> None:
        self.announcements[seq] = Announcement(by, of)
        while len(self.announcements) > ANNOUNCEMENTS_KEPT:
            self.announcements.popitem(last=False)


def decide_hand(
    frame: Hand, *, room: str, room_name: str, key: str, name: str, rank: Rank, ts: str
) -> HandChange:
    """What `frame` from the person (`key`, `name`, `rank` in the room) does
    to the room's queue: anyone raises or lowers their own; staff lower
    anyone's or take the next."""
    staff = rank >= Rank.MODERATOR
    if frame.next:
        if not staff:
            raise refusals.not_staff(room_name)
        return HandChange(HandOp.NEXT, room, name, ts)
    if isinstance(frame.name, str) and frame.name:
        if not frame.down:
            raise refusals.hand_of_another()
        if not staff:
            raise refusals.not_staff(room_name)
        return HandChange(HandOp.LOWER, room, name, ts, key="", name=frame.name)
    if frame.down:
        return HandChange(HandOp.LOWER, room, name, ts, key=key, name=name)
    question = clean_topic(frame.question, MAX_REASON_LEN) if frame.question is not UNSET else ""
    return HandChange(HandOp.RAISE, room, name, ts, key=key, name=name, question=question)
