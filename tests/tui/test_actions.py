"""The message book: messages in their current state from frames and history (sans-I/O)."""

from __future__ import annotations

from conexion_protocol import Edited, Message, Reacted, Reaction
from conexion_tui.actions import MessageBook, reaction_counts


def msg(seq: int, text: str = "hi", author: str = "ana", **fields: object) -> Message:
    return Message(seq=seq, ts="2026-11-24T12:00:00.000Z", room="lab", from_=author, text=text,
                   **fields)  # fmt: skip


def edited(seq: int, text: str) -> Edited:
    return Edited(room="lab", seq=seq, text=text, by="ana", author="ana", ts="t")


def reacted(seq: int, emoji: str, names: list[str], *, on: bool = True) -> Reacted:
    return Reacted(room="lab", seq=seq, emoji=emoji, by="bob", on=on, names=names, author="ana")


def test_history_carries_the_current_state() -> None:
    book = MessageBook(100)
    state = book.add(
        msg(
            7,
            "fixed",
            edited=True,
            reactions=[Reaction("👍", ["bob", "cleo"]), Reaction("🎉", ["ana"])],
            reply_to=3,
            reply_from="bob",
        )
    )
    assert state.edited
    assert state.text == "fixed"
    assert list(state.reactions) == ["👍", "🎉"]  # the order first given
    assert reaction_counts(state, "ANA") == [("👍", 2, False), ("🎉", 1, True)]
    assert (state.reply_to, state.reply_from) == (3, "bob")
    assert not state.plain
    assert book.add(msg(8)).plain


def test_edits_reactions_and_deletes_apply_to_what_is_loaded() -> None:
    book = MessageBook(100)
    book.add(msg(1))
    assert book.edited(edited(1, "hello")).text == "hello"
    assert book.get(1).edited
    assert book.edited(edited(99, "x")) is None  # never loaded: ignored
    book.reacted(reacted(1, "👍", ["bob"]))
    book.reacted(reacted(1, "👍", ["bob"]))  # a resend answered to us: the same state
    assert book.get(1).reactions == {"👍": ["bob"]}
    book.reacted(reacted(1, "👍", [], on=False))
    assert book.get(1).reactions == {}
    book.reacted(reacted(1, "🎉", ["bob"]))
    state = book.deleted(1)
    assert state.deleted
    assert state.text == ""
    assert not state.reactions
    assert book.edited(edited(1, "back")) is None  # a tombstone stays one
    assert book.reacted(reacted(1, "👍", ["bob"])) is None


def test_replies_and_own_messages() -> None:
    book = MessageBook(100)
    book.add(msg(1, author="bob"))
    own = book.add_own(2, "ana", "me too", reply_to=1)
    assert own.reply_from == "bob"
    assert book.replies_to(1) == [own]
    assert book.latest(by="ANA") is own
    book.deleted(2)
    assert book.latest(by="ana") is None
    assert book.latest().seq == 1


def test_the_book_is_bounded_and_forgets_the_oldest() -> None:
    book = MessageBook(10)
    for seq in range(1, 40):
        book.add(msg(seq, reply_to=seq - 1) if seq > 1 else msg(seq))
    assert len(book) <= 11
    assert 39 in book
    assert 1 not in book
    assert book.replies_to(1) == []


def test_the_book_says_what_it_pruned_once() -> None:
    # The screen forgets its entries for exactly these seqs, without a sweep.
    book = MessageBook(10)
    for seq in range(1, 12):
        book.keep(msg(seq))
    assert book.take_dropped() == []  # within a tenth over the limit
    book.keep(msg(12))
    assert book.take_dropped() == [1, 2]
    assert book.take_dropped() == []
    assert sorted(book.seqs()) == list(range(3, 13))


def test_renames_follow_into_reactions() -> None:
    book = MessageBook(10)
    book.add(msg(1, reactions=[Reaction("👍", ["bob"])]))
    book.renamed("BOB", "robert")
    assert book.get(1).reactions == {"👍": ["robert"]}
