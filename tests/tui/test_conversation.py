"""A conversation's log state with no Textual and no client: seqs seen,
paging back through older history, what a reconnect missed, and the rule
that tells a restarted server by its seq going backwards."""

from __future__ import annotations

from conexion_protocol import DirectMessage, Message, Stored, format_ts, parse_ts
from conexion_tui.conversation import (
    CatchUp,
    Conversation,
    PageRequest,
    Paging,
    Roster,
    by_conversation,
    dm_key,
    is_dm_key,
    key_of,
    partner,
    room_key,
)

T0 = "2026-11-24T12:00:00.000Z"
EPOCH0 = parse_ts(T0)
assert EPOCH0 is not None


def at(seconds: float) -> str:
    """The wire timestamp `seconds` after T0."""
    assert EPOCH0 is not None
    return format_ts(EPOCH0 + seconds)


def msg(seq: int, after: float = 0.0, text: str = "", sender: str = "bob") -> Message:
    return Message(seq=seq, ts=at(after), room="general", from_=sender, text=text or f"m{seq}")


def dm(seq: int, after: float = 0.0) -> DirectMessage:
    return DirectMessage(seq=seq, ts=at(after), from_="bob", to="ana", text=f"d{seq}")


def seqs(messages: object) -> list[int]:
    return [m.seq for m in messages]  # type: ignore[attr-defined]


# -- seqs seen ----------------------------------------------------------------


def test_a_new_conversation_has_seen_nothing() -> None:
    conv = Conversation(page_size=100)
    assert (conv.newest, conv.oldest, conv.lost_at) == (None, None, None)
    assert conv.paging is Paging.MORE


def test_note_keeps_the_newest_and_oldest_whatever_the_order() -> None:
    conv = Conversation(page_size=100)
    for seq in (50, 40, 70, 60):
        conv.note(seq)
    assert (conv.newest, conv.oldest) == (70, 40)
    conv.note(None)  # an ack without a seq cannot happen, but changes nothing
    assert (conv.newest, conv.oldest) == (70, 40)


def test_the_first_welcome_shows_all_its_history_and_notes_it() -> None:
    conv = Conversation(page_size=100)
    history: list[Stored] = [msg(10), dm(11), msg(12)]
    assert conv.begin(history) == history
    assert (conv.newest, conv.oldest) == (12, 10)


def test_an_empty_first_welcome() -> None:
    conv = Conversation(page_size=100)
    assert conv.begin([]) == []
    assert (conv.newest, conv.oldest) == (None, None)


# -- older pages -----------------------------------------------------------------


def test_the_first_page_asks_before_the_oldest_shown() -> None:
    conv = Conversation(page_size=80)
    conv.begin([msg(181), msg(230)])
    assert conv.next_page() == PageRequest(before=181, limit=80)


def test_with_nothing_shown_the_page_asked_for_is_the_newest() -> None:
    conv = Conversation(page_size=100)
    assert conv.next_page() == PageRequest(before=None, limit=100)
    conv.page_asked()
    older = conv.older([msg(1), msg(2)])
    assert seqs(older) == [1, 2]  # nothing shown: everything is older
    assert (conv.newest, conv.oldest) == (2, 1)


def test_one_request_at_a_time() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(100)])
    assert conv.next_page() is not None
    conv.page_asked()
    assert conv.paging is Paging.ASKED
    assert conv.next_page() is None  # however often the log hits the top meanwhile
    conv.older([msg(90), msg(95)])
    assert conv.paging is Paging.MORE
    assert conv.next_page() == PageRequest(before=90, limit=100)


def test_a_request_that_could_not_be_sent_is_asked_again() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(100)])
    assert conv.next_page() is not None
    # Offline: the screen does not call page_asked(), so nothing is stuck.
    assert conv.next_page() == PageRequest(before=100, limit=100)


def test_older_keeps_only_what_is_older_than_anything_shown() -> None:
    """A page may overlap what is shown (a message that arrived live while
    the request was out, or a server that ignores `before`)."""
    conv = Conversation(page_size=100)
    conv.begin([msg(50), msg(51)])
    conv.page_asked()
    older = conv.older([msg(47), dm(48), msg(49), msg(50), msg(51), msg(60)])
    assert seqs(older) == [47, 48, 49]
    assert isinstance(older[1], DirectMessage)
    assert (conv.oldest, conv.newest) == (47, 51)


def test_paging_back_to_the_beginning() -> None:
    conv = Conversation(page_size=2)
    conv.begin([msg(5), msg(6)])
    pages = []
    while (request := conv.next_page()) is not None:
        conv.page_asked()
        before = request.before
        assert before is not None
        store = [msg(n) for n in range(1, 7)]
        answer = [m for m in store if m.seq < before][-request.limit :]
        pages.append(seqs(conv.older(answer)))
    assert pages == [[3, 4], [1, 2], []]
    assert conv.paging is Paging.DONE
    assert conv.oldest == 1


def test_an_empty_page_is_the_beginning_and_nothing_is_asked_again() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(1)])
    conv.page_asked()
    assert conv.older([]) == []
    assert conv.paging is Paging.DONE
    assert conv.next_page() is None


def test_a_page_of_nothing_older_is_the_beginning_too() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(3), msg(4)])
    conv.page_asked()
    assert conv.older([msg(3), msg(4)]) == []
    assert conv.paging is Paging.DONE


def test_the_beginning_stays_known() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(3)])
    conv.page_asked()
    conv.older([])
    # A stray answer with older messages is still shown, but paging stays done.
    assert seqs(conv.older([msg(1)])) == [1]
    assert conv.paging is Paging.DONE
    assert conv.next_page() is None


def test_the_page_size_is_the_conversations() -> None:
    assert Conversation(page_size=1).next_page() == PageRequest(None, 1)
    assert Conversation(page_size=200).next_page() == PageRequest(None, 200)


# -- reconnects: missed while offline ------------------------------------------------


def test_a_reconnect_shows_only_what_is_newer_than_the_newest_seen() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(10), msg(11)])
    conv.note(12)  # seen live
    conv.lost(at=EPOCH0 + 60)
    catch_up = conv.rejoin([msg(9), msg(11), msg(12), msg(13, 70), dm(14, 80)])
    assert catch_up == CatchUp(missed=(msg(13, 70), dm(14, 80)), restarted=False)
    assert conv.newest == 14
    assert conv.oldest == 10


def test_a_reconnect_that_missed_nothing() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(10), msg(11)])
    assert conv.rejoin([msg(10), msg(11)]) == CatchUp(missed=(), restarted=False)
    assert conv.rejoin([]) == CatchUp(missed=(), restarted=False)
    assert conv.newest == 11


def test_our_own_acked_message_counts_as_seen() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(10)])
    conv.note(11)  # the seq in the ack of what we said
    missed = conv.rejoin([msg(10), msg(11, sender="ana"), msg(12)]).missed
    assert seqs(missed) == [12]


def test_a_reconnect_after_seeing_nothing_shows_all_of_it() -> None:
    conv = Conversation(page_size=100)
    conv.begin([])
    catch_up = conv.rejoin([msg(1), msg(2)])
    assert seqs(catch_up.missed) == [1, 2]
    assert not catch_up.restarted


def test_two_reconnects_in_a_row_show_each_message_once() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(1)])
    first = conv.rejoin([msg(1), msg(2)])
    second = conv.rejoin([msg(1), msg(2), msg(3)])
    assert (seqs(first.missed), seqs(second.missed)) == ([2], [3])


# -- reconnects: a restarted server -------------------------------------------------------


def test_seq_going_backwards_is_a_restart_and_the_loss_time_decides() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500, 0), msg(501, 10)])
    conv.lost(at=EPOCH0 + 60)
    history = [msg(1, 30), msg(2, 59.999), msg(3, 60), msg(4, 90)]
    catch_up = conv.rejoin(history)
    assert catch_up.restarted
    assert seqs(catch_up.missed) == [3, 4]  # said at or after the loss


def test_a_restart_with_no_loss_time_shows_all_of_its_history() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500)])
    catch_up = conv.rejoin([msg(1), msg(2)])
    assert catch_up.restarted
    assert seqs(catch_up.missed) == [1, 2]


def test_a_restart_whose_history_is_all_before_the_loss() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500)])
    conv.lost(at=EPOCH0 + 60)
    catch_up = conv.rejoin([msg(1, 10), msg(2, 20)])
    assert catch_up == CatchUp(missed=(), restarted=True)


def test_the_newest_of_the_history_decides_not_the_first() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500)])
    # Starts below what we saw but ends above it: the same server, moving on.
    catch_up = conv.rejoin([msg(499), msg(500), msg(501)])
    assert catch_up == CatchUp(missed=(msg(501),), restarted=False)


def test_an_empty_history_is_never_a_restart() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500)])
    assert conv.rejoin([]) == CatchUp(missed=(), restarted=False)


def test_the_latest_loss_counts() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500)])
    conv.lost(at=EPOCH0 + 10)
    conv.lost(at=EPOCH0 + 50)
    assert conv.lost_at == EPOCH0 + 50
    assert seqs(conv.rejoin([msg(1, 20), msg(2, 60)]).missed) == [2]


# -- one per conversation ---------------------------------------------------------------


def test_conversations_are_independent() -> None:
    """Rooms will each have their own: one's seqs, paging and losses say
    nothing about another's."""
    general = Conversation(page_size=100)
    lab = Conversation(page_size=50)
    general.begin([msg(1000), msg(1001)])
    lab.begin([msg(3)])
    general.page_asked()
    lab.lost(at=EPOCH0)
    assert lab.next_page() == PageRequest(before=3, limit=50)
    assert general.next_page() is None
    assert general.lost_at is None
    # A small seq is news in one room and old news in the other.
    assert seqs(lab.rejoin([msg(3), msg(4)]).missed) == [4]
    assert general.rejoin([msg(1001)]).missed == ()


# -- found in the move to Conversation, fixed since -------------------------------------


def test_paging_resumes_after_a_request_lost_with_the_connection() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(100)])
    conv.page_asked()
    conv.lost(at=EPOCH0)  # the answer will never come
    conv.rejoin([msg(100)])
    assert conv.next_page() == PageRequest(before=100, limit=100)


def test_a_second_reconnect_to_a_restarted_server_is_no_restart() -> None:
    conv = Conversation(page_size=100)
    conv.begin([msg(500)])
    conv.lost(at=EPOCH0)
    assert conv.rejoin([msg(1, 10)]).restarted
    conv.lost(at=EPOCH0 + 20)
    assert not conv.rejoin([msg(1, 10), msg(2, 30)]).restarted


# -- telling conversations apart -------------------------------------------------------


def test_rooms_and_people_have_keys_of_their_own() -> None:
    # Every spelling the server treats as one room (case, width) is one key.
    assert room_key("Lab") == room_key("LAB") == room_key("Ｌａｂ")
    assert room_key("lab") != room_key("lab-2")
    assert dm_key("Bob") == dm_key("BOB")
    # A room and a person of the same name are different conversations.
    assert room_key("bob") != dm_key("bob")
    assert is_dm_key(dm_key("bob"))
    assert not is_dm_key(room_key("bob"))
    # A name no server would accept still gets a key (it is never sent).
    assert room_key("not a room") == room_key("NOT A ROOM")


def test_a_direct_message_belongs_to_the_other_person() -> None:
    mine = DirectMessage(seq=1, ts=T0, from_="ANA", to="bob", text="x")
    theirs = DirectMessage(seq=2, ts=T0, from_="bob", to="ana", text="y")
    note = DirectMessage(seq=3, ts=T0, from_="ana", to="ana", text="z")
    assert partner(mine, "ana") == "bob"
    assert partner(theirs, "ana") == "bob"
    assert partner(note, "ana") == "ana"
    assert key_of(mine, "ana") == key_of(theirs, "ana") == dm_key("bob")
    assert key_of(msg(1), "ana") == room_key("general")


def test_a_welcome_history_is_split_by_conversation_in_order() -> None:
    carol = DirectMessage(seq=9, ts=at(2), from_="carol", to="ana", text="c")
    history: list[Stored] = [msg(100), dm(5, 1), carol, msg(101), dm(6, 3)]
    parts = by_conversation(history, "ana")
    assert list(parts) == [room_key("general"), dm_key("bob"), dm_key("carol")]
    assert seqs(parts[room_key("general")]) == [100, 101]
    assert seqs(parts[dm_key("bob")]) == [5, 6]
    assert seqs(parts[dm_key("carol")]) == [9]


# -- unread and mentions -------------------------------------------------------------


def test_unread_counts_and_only_the_first_mention_is_worth_a_notice() -> None:
    conv = Conversation(page_size=100)
    assert (conv.unread, conv.mentions) == (0, 0)
    assert conv.arrived(mention=False) is False
    assert conv.arrived(mention=True) is True  # the first: notify
    assert conv.arrived(mention=True) is False  # the next ones: counted, not notified
    assert (conv.unread, conv.mentions) == (3, 2)
    conv.read()
    assert (conv.unread, conv.mentions) == (0, 0)
    assert conv.arrived(mention=True) is True  # read since: notify again


# -- who is in a room ----------------------------------------------------------------


def test_a_roster_sorts_like_the_server_and_matches_any_spelling() -> None:
    roster = Roster(["bob", "Ana", "carol"])
    assert roster.names == ["Ana", "bob", "carol"]
    assert "ANA" in roster
    assert "dave" not in roster
    assert roster.add("dave") is True
    assert roster.add("DAVE") is False  # the same person: spelling updated
    assert roster.names == ["Ana", "bob", "carol", "DAVE"]
    assert roster.rename("bob", "Roberto") is True
    assert roster.rename("nobody", "x") is False
    assert roster.remove("carol") is True
    assert roster.names == ["Ana", "DAVE", "Roberto"]
    assert (len(roster), roster.count, roster.complete) == (3, 3, True)
    assert list(roster) == roster.names


def test_a_partial_roster_counts_those_it_does_not_list() -> None:
    roster = Roster(["ana", "bob"], count=1200)  # a welcome lists only the first names
    assert (len(roster), roster.count, roster.complete) == (2, 1200, False)
    assert roster.remove("zed") is False  # not listed, but one fewer all the same
    assert roster.count == 1199
    roster.add("carol")
    assert roster.count == 1200
    roster.replace([f"u{n}" for n in range(1200)])  # `who` lists everyone
    assert (roster.count, roster.complete) == (1200, True)
