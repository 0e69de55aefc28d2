"""What one conversation's log knows (`Conversation`): seqs seen, paging back, what a reconnect
missed. Pure logic on frames: no Textual, no client, no wording, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conexion_protocol import Stored, format_ts


class Paging(enum.StrEnum):
    """Where paging back through older history stands."""

    MORE = "more"  # older messages may exist, and none are being asked for
    ASKED = "asked"  # a `history` request is out: ask nothing more until it is answered
    DONE = "done"  # the server had nothing older: never ask again


@dataclass(slots=True, frozen=True)
class PageRequest:
    """The `history` request for the page before what is shown."""

    before: int | None  # the oldest seq shown; None asks for the newest page
    limit: int


@dataclass(slots=True, frozen=True)
class CatchUp:
    """What a reconnect's `welcome` adds to a conversation already shown."""

    missed: tuple[Stored, ...]  # said while we were away, oldest first
    restarted: bool  # seq went backwards: a restarted server, numbering afresh


class Conversation:
    """One conversation (a room, or the direct messages with one person) as
    its log sees it. The screen tells it what arrived and asks it what is
    new, what to request, and what a reconnect missed.

    `seq` only orders messages within one conversation (see the protocol):
    keep one `Conversation` per conversation, never one for several unless
    their seqs come from one counter.
    """

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size  # messages asked for per older page
        self.newest: int | None = None  # the highest seq seen; None until one is
        self.oldest: int | None = None  # the lowest seq seen: the next page ends before it
        self.paging = Paging.MORE
        self.lost_at: float | None = None  # wall clock of the latest lost connection

    # -- what arrived -------------------------------------------------------------

    def note(self, seq: int | None) -> None:
        """A message (ours acknowledged, or anyone's) with this seq is shown."""
        if seq is None:
            return
        if self.newest is None or seq > self.newest:
            self.newest = seq
        if self.oldest is None or seq < self.oldest:
            self.oldest = seq

    def begin(self, history: Iterable[Stored]) -> list[Stored]:
        """The first welcome's history: all of it is new."""
        shown = list(history)
        for message in shown:
            self.note(message.seq)
        return shown

    def lost(self, at: float) -> None:
        """The connection was lost at wall-clock time `at`. A page request
        that was out is lost with it: the next reach of the top asks again."""
        self.lost_at = at
        if self.paging is Paging.ASKED:
            self.paging = Paging.MORE

    def rejoin(self, history: Sequence[Stored]) -> CatchUp:
        """A reconnect's welcome: the part of its history not shown yet.

        Normally that is every message newer than the newest seen. When the
        history ends below it, the server was restarted and numbers from
        scratch, so nothing can be told apart by seq: what it holds is new
        from the moment the old connection was lost.
        """
        newest = self.newest
        if history and newest is not None and history[-1].seq < newest:
            since = format_ts(self.lost_at) if self.lost_at is not None else ""
            missed = [m for m in history if m.ts >= since]  # RFC 3339 UTC sorts as text
            restarted = True
            # The old server's numbers mean nothing to the new one: count
            # afresh, or every later reconnect would look like a restart.
            self.newest = self.oldest = None
            self.paging = Paging.MORE
        else:
            missed = [m for m in history if newest is None or m.seq > newest]
            restarted = False
        for message in missed:
            self.note(message.seq)
        return CatchUp(tuple(missed), restarted)

    # -- older pages ----------------------------------------------------------------

    def next_page(self) -> PageRequest | None:
        """The request to send on reaching the top of the log; None while one
        is out or once the beginning is known."""
        if self.paging is not Paging.MORE:
            return None
        return PageRequest(self.oldest, self.page_size)

    def page_asked(self) -> None:
        """The request from `next_page()` went out."""
        self.paging = Paging.ASKED

    def older(self, messages: Iterable[Stored]) -> list[Stored]:
        """A page arrived: the messages older than any shown, oldest first.
        None of them means the beginning of history was reached."""
        oldest = self.oldest
        older = [m for m in messages if oldest is None or m.seq < oldest]
        # Once the beginning is known it stays known.
        done = not older or self.paging is Paging.DONE
        self.paging = Paging.DONE if done else Paging.MORE
        for message in older:
            self.note(message.seq)
        return older
