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

    A message is kept as its frame until something asks for its state or
    changes it: most are never acted on, and a flood should not pay for a
    second object per message. Frames about messages never seen (older than
    what is loaded) are ignored: a history page brings those as they are now.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_seq: dict[int, MessageState | Message] = {}
        # seq -> seqs of the loaded replies to it: an edit or a delete of the
        # original changes their quote line.
        self._replies: dict[int, set[int]] = {}
        self._dropped: list[int] = []  # pruned, for `take_dropped`

    def __len__(self) -> int:
        return len(self._by_seq)

    def __contains__(self, seq: object) -> bool:
        return seq in self._by_seq

    def get(self, seq: int | None) -> MessageState | None:
        if seq is None:
            return None
        found = self._by_seq.get(seq)
        if isinstance(found, Message):
            found = self._by_seq[seq] = _state_of(found)
        return found

    # -- what arrived -------------------------------------------------------------

    def keep(self, message: Message) -> bool:
        """A `message` (live, from history, a recap): kept as it is now. True
        when it has nothing to show beside its text (no edit, tombstone,
        reply or reaction), the common case, answered without a state."""
        seq = message.seq
        known = self._by_seq.get(seq)
        if known is not None:
            self._unlink(seq, known)
        self._by_seq[seq] = message
        reply_to = message.reply_to
        if isinstance(reply_to, int):
            self._replies.setdefault(reply_to, set()).add(seq)
        if len(self._by_seq) > self.limit + max(1, self.limit // 10):
            self._prune()
        return not (message.edited or message.deleted or message.reactions or reply_to)

    def add(self, message: Message) -> MessageState:
        """`keep()`, and the message's state."""
        self.keep(message)
        state = self.get(message.seq)
        assert state is not None
        return state

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
        known = self._by_seq.get(seq)
        if known is not None:
            self._unlink(seq, known)
        self._by_seq[seq] = state
        if reply_to is not None:
            self._replies.setdefault(reply_to, set()).add(seq)
        return state

    def _unlink(self, seq: int, known: MessageState | Message) -> None:
        reply_to = _reply_of(known)
        if reply_to is not None:
            self._replies.get(reply_to, set()).discard(seq)

    def edited(self, frame: Edited) -> MessageState | None:
        state = self.get(frame.seq)
        if state is None or state.deleted:
            return None
        state.text, state.edited = frame.text, True
        return state

    def reacted(self, frame: Reacted) -> MessageState | None:
        """`names` is everyone holding the emoji now: it replaces what we had,
        so a repeat (or a resend answered to us alone) changes nothing."""
        state = self.get(frame.seq)
        if state is None or state.deleted:
            return None
        if frame.names:
            state.reactions[frame.emoji] = list(frame.names)
        else:
            state.reactions.pop(frame.emoji, None)
        return state

    def deleted(self, seq: int) -> MessageState | None:
        """A tombstone now: no text, no reactions (a reply keeps its quote of nothing)."""
        state = self.get(seq)
        if state is None:
            return None
        state.deleted, state.text, state.edited = True, "", False
        state.reactions.clear()
        return state

    def renamed(self, old: str, new: str) -> None:
        """Names in reactions follow a rename; authors stay as they wrote."""
        key = name_key(old)
        for seq, item in list(self._by_seq.items()):
            if isinstance(item, Message) and not item.reactions:
                continue
            state = self.get(seq)
            assert state is not None
            for names in state.reactions.values():
                names[:] = [new if name_key(n) == key else n for n in names]

    # -- questions ----------------------------------------------------------------

    def has_replies(self, seq: int) -> bool:
        """Whether a loaded message answers message `seq` (cheap: asked of every message)."""
        return bool(self._replies.get(seq))

    def replies_to(self, seq: int) -> list[MessageState]:
        """The loaded replies to message `seq`, oldest first."""
        found = (self.get(s) for s in sorted(self._replies.get(seq, ())))
        return [state for state in found if state is not None]

    def latest(self, *, by: str | None = None) -> MessageState | None:
        """The newest message not deleted (of `by`, when given)."""
        key = None if by is None else name_key(by)
        for seq in sorted(self._by_seq, reverse=True):
            item = self._by_seq[seq]
            author = item.from_ if isinstance(item, Message) else item.author
            if item.deleted or (key is not None and name_key(author) != key):
                continue
            return self.get(seq)
        return None

    def seqs(self) -> Iterable[int]:
        return self._by_seq.keys()

    # -- bounds ---------------------------------------------------------------------

    def take_dropped(self) -> list[int]:
        """The seqs pruned since the last call (what refers to them can go too)."""
        dropped, self._dropped = self._dropped, []
        return dropped

    def _prune(self) -> None:
        # Down to the limit once a tenth over it, so a full book does not sort
        # on every message.
        for seq in sorted(self._by_seq)[: len(self._by_seq) - self.limit]:
            self._unlink(seq, self._by_seq.pop(seq))
            self._replies.pop(seq, None)
            self._dropped.append(seq)


def _reply_of(item: MessageState | Message) -> int | None:
    reply_to = item.reply_to
    return reply_to if isinstance(reply_to, int) else None


def _state_of(message: Message) -> MessageState:
    reactions = (
        {r.emoji: list(r.names) for r in message.reactions}
        if isinstance(message.reactions, list)
        else {}
    )
    return MessageState(
        seq=message.seq,
        author=message.from_,
        text=message.text,
        action=message.action,
        edited=message.edited,
        deleted=message.deleted,
        reply_to=_reply_of(message),
        reply_from=message.reply_from if isinstance(message.reply_from, str) else None,
        reactions=reactions,
    )


def reaction_counts(state: MessageState, viewer: str) -> list[tuple[str, int, bool]]:
    """Each emoji on a message, how many hold it and whether `viewer` does."""
    return [
        (emoji, len(names), state.holds(emoji, viewer))
        for emoji, names in state.reactions.items()
        if names
    ]


__all__ = ["MessageBook", "MessageState", "reaction_counts"]
