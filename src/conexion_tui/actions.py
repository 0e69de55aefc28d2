"""What each message of a room is now (`MessageBook`: its text, edits, reactions, tombstone and
what it replies to, by seq), kept up to date from `message`, `edited`, `reacted` and `deleted`
frames. Pure: frames in, states out; no Textual, no I/O, no wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from conexion_protocol import Edited, Message, Reacted, name_key


@dataclass(slots=True, eq=False)
class MessageState:
    """One room message as everyone sees it now. `text` is untrusted (not cleaned)."""

    seq: int
    author: str
    text: str
    action: bool = False
    edited: bool = False
    deleted: bool = False
    reply_to: int | None = None
    reply_from: str | None = None
    # Emoji -> who holds it, both in the order first given (as the server keeps them).
    reactions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def plain(self) -> bool:
        """Nothing to show beyond its text: no mark, no quote, no reactions."""
        return not (self.edited or self.deleted or self.reply_to is not None or self.reactions)

    def holds(self, emoji: str, name: str) -> bool:
        """Whether `name` (any spelling) reacted with `emoji`."""
        key = name_key(name)
        return any(name_key(n) == key for n in self.reactions.get(emoji, ()))

    def by(self, name: str) -> bool:
        return name_key(self.author) == name_key(name)


class MessageBook:
    """The messages of one room we have seen, by seq, at most about `limit`
    (the log's scrollback: what scrolled out of the log is forgotten here too).

    Frames about messages never seen (older than what is loaded) are ignored:
    a history page brings those in their current state.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_seq: dict[int, MessageState] = {}
        # seq -> seqs of the loaded replies to it: an edit or a delete of the
        # original changes their quote line.
        self._replies: dict[int, set[int]] = {}
        self._newest: int | None = None

    def __len__(self) -> int:
        return len(self._by_seq)

    def __contains__(self, seq: object) -> bool:
        return seq in self._by_seq

    def get(self, seq: int | None) -> MessageState | None:
        return None if seq is None else self._by_seq.get(seq)

    # -- what arrived -------------------------------------------------------------

    def add(self, message: Message) -> MessageState:
        """A `message` (live, from history, a recap or a search): its current state."""
        reactions = (
            {r.emoji: list(r.names) for r in message.reactions}
            if isinstance(message.reactions, list)
            else {}
        )
        reply_to = message.reply_to if isinstance(message.reply_to, int) else None
        reply_from = message.reply_from if isinstance(message.reply_from, str) else None
        return self._put(
            MessageState(
                seq=message.seq,
                author=message.from_,
                text=message.text,
                action=message.action,
                edited=message.edited,
                deleted=message.deleted,
                reply_to=reply_to,
                reply_from=reply_from,
                reactions=reactions,
            )
        )

    def add_own(
        self,
        seq: int,
        author: str,
        text: str,
        *,
        action: bool = False,
        reply_to: int | None = None,
    ) -> MessageState:
        """Our own message, acknowledged with `seq` (the server never echoes it)."""
        original = self.get(reply_to)
        reply_from = original.author if original is not None else None
        state = MessageState(seq, author, text, action, reply_to=reply_to, reply_from=reply_from)
        return self._put(state)

    def _put(self, state: MessageState) -> MessageState:
        known = self._by_seq.get(state.seq)
        if known is not None and known.reply_to is not None:
            self._replies.get(known.reply_to, set()).discard(state.seq)
        self._by_seq[state.seq] = state
        if state.reply_to is not None:
            self._replies.setdefault(state.reply_to, set()).add(state.seq)
        if self._newest is None or state.seq > self._newest:
            self._newest = state.seq
        self._prune()
        return state

    def edited(self, frame: Edited) -> MessageState | None:
        state = self._by_seq.get(frame.seq)
        if state is None or state.deleted:
            return None
        state.text, state.edited = frame.text, True
        return state

    def reacted(self, frame: Reacted) -> MessageState | None:
        """`names` is everyone holding the emoji now: it replaces what we had,
        so a repeat (or a resend answered to us alone) changes nothing."""
        state = self._by_seq.get(frame.seq)
        if state is None or state.deleted:
            return None
        if frame.names:
            state.reactions[frame.emoji] = list(frame.names)
        else:
            state.reactions.pop(frame.emoji, None)
        return state

    def deleted(self, seq: int) -> MessageState | None:
        """A tombstone now: no text, no reactions (a reply keeps its quote of nothing)."""
        state = self._by_seq.get(seq)
        if state is None:
            return None
        state.deleted, state.text, state.edited = True, "", False
        state.reactions.clear()
        return state

    def renamed(self, old: str, new: str) -> None:
        """Names in reactions follow a rename; authors stay as they wrote."""
        key = name_key(old)
        for state in self._by_seq.values():
            for names in state.reactions.values():
                names[:] = [new if name_key(n) == key else n for n in names]

    # -- questions ----------------------------------------------------------------

    def replies_to(self, seq: int) -> list[MessageState]:
        """The loaded replies to message `seq`, oldest first."""
        return [self._by_seq[s] for s in sorted(self._replies.get(seq, ())) if s in self._by_seq]

    def latest(self, *, by: str | None = None) -> MessageState | None:
        """The newest message not deleted (of `by`, when given)."""
        for seq in sorted(self._by_seq, reverse=True):
            state = self._by_seq[seq]
            if not state.deleted and (by is None or state.by(by)):
                return state
        return None

    def seqs(self) -> Iterable[int]:
        return self._by_seq.keys()

    # -- bounds ---------------------------------------------------------------------

    def _prune(self) -> None:
        # In chunks of a tenth, so a full book does not sort on every message.
        if len(self._by_seq) <= self.limit + max(1, self.limit // 10):
            return
        for seq in sorted(self._by_seq)[: len(self._by_seq) - self.limit]:
            state = self._by_seq.pop(seq)
            self._replies.pop(seq, None)
            if state.reply_to is not None:
                self._replies.get(state.reply_to, set()).discard(seq)


def reaction_counts(state: MessageState, viewer: str) -> list[tuple[str, int, bool]]:
    """Each emoji on a message, how many hold it and whether `viewer` does."""
    return [
        (emoji, len(names), state.holds(emoji, viewer))
        for emoji, names in state.reactions.items()
        if names
    ]


__all__ = ["MessageBook", "MessageState", "reaction_counts"]
