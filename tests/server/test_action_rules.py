"""The pure rules of message actions and search: what a reaction may be,
how reactions change, what words a text has and what a query matches."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conexion_protocol import DirectMessage, Message, ProtocolError, Reaction
from conexion_server.actions import clean_emoji, toggled, with_reactors
from conexion_server.search import Query, page_newest_first, search_terms, words


def message(seq: int, text: str, ts: str = "2026-12-01T10:00:00.000Z", room: str = "general"):
    return Message(seq=seq, ts=ts, room=room, from_="ana", text=text)


@given(st.text(max_size=20))
def test_a_reaction_is_refused_cleanly_or_holds_no_letters(raw: str) -> None:
    try:
        emoji = clean_emoji(raw)
    except ProtocolError as exc:
        code = exc.code
    else:
        code = None
    if code is not None:
        assert code == "bad_frame"
        return
    for char in emoji:
        category = unicodedata.category(char)
        assert category[0] not in "LZC" or char == "\u200d", (raw, char)
        assert category[0] != "N" or char in "0123456789", raw


def test_reactions_keep_the_order_they_were_first_given() -> None:
    m = with_reactors(message(1, "x"), "👍", ["bob"])
    m = with_reactors(m, "🎉", ["cleo"])
    m = with_reactors(m, "👍", toggled(["bob"], "dora", "Dora", True))
    assert m.reactions == [Reaction("👍", ["bob", "Dora"]), Reaction("🎉", ["cleo"])]
    m = with_reactors(m, "👍", [])
    assert m.reactions == [Reaction("🎉", ["cleo"])]
    assert with_reactors(m, "🎉", []).reactions is not m.reactions  # a new message
    assert toggled(["bob"], "bob", "bob", True) == ["bob"]  # given twice: once
    assert toggled(["bob"], "ana", "ana", False) == ["bob"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("déjà-vu café", ["deja", "vu", "cafe"]),
        ("x=1; y_2", ["x", "1", "y", "2"]),
        ("ＦＵＬＬ width", ["full", "width"]),
        ("🎉 party", ["party"]),
        ("", []),
    ],
)
def test_the_words_of_a_text(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_a_query_matches_every_word_whole_or_as_a_prefix() -> None:
    q = Query(search_terms("Depl* noon"), ("general",), "ana", dms=False)
    assert q.matches(message(1, "Deployment at NOON"))
    assert not q.matches(message(2, "deployment at night"))
    assert not q.matches(message(3, "redeploy at noon"))  # a word's start, not its middle
    whole = Query(search_terms("noon"), ("general",), "ana", dms=False)
    assert whole.matches(message(5, "at noon."))
    assert not whole.matches(message(6, "at noontime"))
    gone = Message(seq=4, ts="t", room="general", from_="a", text="", deleted=True)
    assert not q.matches(gone)
    with pytest.raises(ProtocolError) as refused:
        search_terms("?! --")
    assert refused.value.code == "bad_text"
    assert q.fts() == '"depl"* AND "noon"'
    assert Query((('a"b', True),), (), "x", dms=False).fts() == '"a""b"*'


def test_pages_of_matches_run_newest_first_without_gaps() -> None:
    found = [message(i, "x", ts=f"2026-12-01T10:00:{i:02d}.000Z") for i in range(1, 8)]
    found.append(DirectMessage(seq=3, ts="2026-12-01T10:00:04.000Z", from_="b", to="a", text="x"))
    seen, before = [], None
    while True:
        page, before = page_newest_first(list(found), before, 3)
        seen.extend(page)
        if before is None:
            break
    assert len(seen) == len(found)
    assert len({id(m) for m in seen}) == len(found)
    assert [m.ts for m in seen] == sorted((m.ts for m in found), reverse=True)
