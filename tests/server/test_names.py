"""Impersonation: names that look the same (case, width, look-alike letters
of any script) cannot both be online; names holding invisible characters or
mixing scripts are refused. The rules without sockets, then over real sockets;
room names follow the same rules."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conexion_protocol import (
    MAX_NAME_LEN,
    ErrorCode,
    ProtocolError,
    name_key,
    normalize_name,
    parse_room,
    text_key,
)
from conexion_protocol.names import TEXT_STRIP, _skeleton, clean_text
from conexion_server.hub import Hub, HubConfig

# The five invisible letters of the adversarial run, and three more
# default-ignorable characters (grapheme joiner, zero-width space, soft hyphen).
INVISIBLE = ["\u17b4", "\u180f", "\u1160", "\u3164", "\u115f", "\u034f", "\u200b", "\u00ad"]


class Peer:
    pass


@pytest.mark.parametrize(
    ("holder", "lookalike"),
    [
        ("ana", "ANA"),  # case
        ("ana", "Ａｎａ"),  # fullwidth
        ("ace", "\u0430\u0441\u0435"),  # Cyrillic а с е (all-Cyrillic, so valid)
        ("HOPE", "\u041d\u041e\u0420\u0415"),  # Cyrillic capitals Н О Р Е
        ("oxo", "\u03bf\u03c7\u03bf"),  # Greek ο χ ο
        ("NIKO", "\u039d\u0399\u039a\u039f"),  # Greek capitals Ν Ι Κ Ο
        ("paypal", "\u0440\u0430\u0443\u0440\u0430\u04cf"),  # р а у р а ӏ
        ("ﬁona", "fiona"),  # a ligature
        # Whole-script look-alikes beyond Greek and Cyrillic (UTS #39 data):
        ("jake", "\u13ab\u13aa\u13e6\u13ac"),  # Cherokee Ꭻ Ꭺ Ꮶ Ꭼ
        ("hardy", "\u13bb\u13aa\u13a1\u13a0\u13a9"),  # Cherokee Ꮋ Ꭺ Ꭱ Ꭰ Ꭹ
        ("hugo", "\u0570\u057d\u0581\u0585"),  # Armenian հ ս ց օ
        ("HUGO", "\u0540\u054d\u0551\u0555"),  # Armenian capitals Հ Ս Ց Օ
        ("Alice", "AIice"),  # a capital I for the small l
        ("emma", "ernrna"),  # rn for m
        # B0B looks like BOB (UTS #39 maps 0 to O), and BOB is bob.
        ("bob", "b0b"),
    ],
)
def test_lookalikes_share_a_key_and_cannot_both_join(holder: str, lookalike: str) -> None:
    normalize_name(lookalike)  # a valid name: only the key keeps it out
    assert name_key(holder) == name_key(lookalike)
    hub = Hub(HubConfig())
    hub.join(holder, Peer())
    with pytest.raises(ProtocolError) as exc:
        hub.join(lookalike, Peer())
    assert exc.value.code is ErrorCode.NAME_TAKEN


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("José", "Jose"),
        ("ana", "anna"),
        ("李雷", "李雪"),
        ("Ωmega", "omega"),
        ("bob", "bab"),
        ("김민준", "김민수"),
        ("Анна", "Анва"),
        ("山田", "山口"),
        ("ana1", "ana2"),
    ],
)
def test_different_looking_names_stay_different(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


@pytest.mark.parametrize(
    "name",
    [
        "p\u0430ypal",  # one Cyrillic а among Latin letters
        "\u0391lice",  # Greek capital Alpha + Latin
        "Ωmega",
        "Ｐаvel",  # fullwidth Latin + Cyrillic
        "c\u0585pa",  # Armenian օ among Latin letters
        "\u13dfopa",  # Cherokee Ꮯ + Latin
        "ja\u13e6e",  # Latin + Cherokee Ꮶ
        "\u0570ugo",  # Armenian հ + Latin
        "\u3072\u3089\uae40",  # Hiragana + Hangul: no writing system has both
        "ana\u09e6",  # Latin + a Bengali digit
    ],
)
def test_mixed_script_names_are_refused(name: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        normalize_name(name)
    assert exc.value.code is ErrorCode.BAD_NAME
    assert "cannot mix" in exc.value.message


def test_the_refusal_names_the_scripts() -> None:
    with pytest.raises(ProtocolError) as exc:
        normalize_name("c\u0585pa")
    assert exc.value.message == "a name cannot mix Armenian and Latin letters (they look alike)"
    with pytest.raises(ProtocolError) as exc:
        normalize_name("abc\u0430\u0531")
    assert "Armenian, Cyrillic and Latin" in exc.value.message


def test_digits_of_two_number_systems_are_refused() -> None:
    with pytest.raises(ProtocolError) as exc:
        normalize_name("देव1१")  # an ASCII 1 and a Devanagari one
    assert exc.value.code is ErrorCode.BAD_NAME
    assert "digits" in exc.value.message


@pytest.mark.parametrize(
    "name",
    [
        "José",
        "李雷",
        "देवनागरी",
        "देव१२",
        "Ελένη",
        "Анна",
        "ana_2",
        "Li雷",  # Latin with Han: Highly Restrictive allows it
        "山田たろう",  # Han + Hiragana
        "東京タワー",  # Han + Katakana + the prolonged sound mark
        "김민준",
        "金김",  # Han + Hangul
        "陳大文ㄅ",  # Han + Bopomofo
        "محمد",
        "עברית",
        "ქართული",
        "ไทย",
        "\u13e3\u13b3\u13a9",  # Cherokee ᏣᎳᎩ
        "Հայկ",
        "Straße",
        "e\u0301" * 24,
    ],
)
def test_single_script_names_are_fine(name: str) -> None:
    assert normalize_name(name) == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize("invisible", INVISIBLE)
def test_invisible_characters_are_refused_and_named(invisible: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        normalize_name("copa" + invisible)
    assert exc.value.code is ErrorCode.BAD_NAME
    code_point = f"U+{ord(invisible):04X}"
    assert exc.value.message.startswith(f"a name cannot hold invisible characters ({code_point}")
    assert unicodedata.name(invisible) in exc.value.message
    with pytest.raises(ProtocolError) as exc:
        normalize_name(invisible + "copa")
    assert "invisible" in exc.value.message
    # Should one reach a key anyway (a DM's `to`), it is the same person.
    assert name_key("copa" + invisible) == name_key("copa")


def test_rename_to_a_lookalike_of_someone_else_is_refused() -> None:
    hub = Hub(HubConfig())
    hub.join("ace", Peer())
    bob, _, _ = hub.join("bob", Peer())
    with pytest.raises(ProtocolError) as exc:
        hub.rename(bob, "\u0430\u0441\u0435")
    assert exc.value.code is ErrorCode.NAME_TAKEN


def test_a_dm_to_a_lookalike_spelling_reaches_the_holder() -> None:
    hub = Hub(HubConfig())
    ace, _, _ = hub.join("ace", Peer())
    bob, _, _ = hub.join("bob", Peer())
    _, deliveries = hub.dm(bob, "\u0410\u0421\u0415", "psst")  # Cyrillic АСЕ
    assert deliveries[0].to == [ace]
    assert deliveries[0].out.frame.to == "ace"


# -- the key as a function ------------------------------------------------------------------

valid_names = st.text(
    st.characters(
        categories=["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"], include_characters="_-."
    ),
    min_size=1,
    max_size=MAX_NAME_LEN,
)


def valid_or_none(raw: str) -> str | None:
    try:
        return normalize_name(raw)
    except ProtocolError:
        return None


@given(valid_names)
def test_the_key_of_a_valid_name_never_raises_and_is_its_own_key(raw: str) -> None:
    name = valid_or_none(raw)
    if name is not None:
        key = name_key(name)
        assert name_key(key) == key
        assert name_key(name.upper()) == name_key(name.lower()) == key


@given(st.text())
def test_any_text_has_a_key_and_it_is_its_own_key(text: str) -> None:
    # Clients key whole message texts (to find mentions), so any text has one.
    key = name_key(text)
    assert name_key(key) == key


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_text_takes_a_shortcut_to_the_same_key(text: str) -> None:
    # `text_key` skips folding and normalising for ASCII (a message's text is
    # keyed on every arrival, to find mentions); the full rule must agree.
    assert text_key(text) == _skeleton(text) == name_key(text)


# Blanks of every kind, combining marks (alone, after a blank, reordered),
# Hangul jamo that compose, ligatures, ignorables, emoji with modifiers.
TRICKY = st.sampled_from(
    [
        *"ab :ĳﬁ가",
        *("\u3000", "\u00a0", "\u2003", "\u1680", "\u0301", "\u0308", "\u0323"),
        *("\u200d", "\u034f", "\u00ad", "\u1100", "\u1161", "\u11a8", "\u212b", "ᾳ", "\u0345"),
        *("e\u0301", " \u0301", "\u1e9b\u0323", "🎉", "👍🏽", "Ä"),
    ]
)


@given(st.one_of(st.lists(TRICKY, max_size=30).map("".join), st.text(max_size=60)))
def test_a_text_keyed_word_by_word_has_the_whole_text_s_key(text: str) -> None:
    # `text_key` keys a text outside ASCII a word at a time (cached); the
    # normalisations must not reach across the blanks it cuts at.
    assert text_key(text) == _skeleton(text)


def test_what_clean_text_strips_is_unprintable() -> None:
    # clean_text() skips the table for a printable text: right only while
    # every character it strips is unprintable.
    assert not any(chr(cp).isprintable() for cp in TEXT_STRIP)
    assert clean_text("a\u202eb\x1bc") == "abc"
    assert clean_text("plain 🎉 e\u0301") == "plain 🎉 e\u0301"


def test_each_ascii_character_keys_the_same_either_way() -> None:
    for cp in range(0x80):
        assert text_key(chr(cp)) == _skeleton(chr(cp)), f"U+{cp:04X}"
    assert text_key("Ana: li1M") == _skeleton("Ana: li1M")


def test_every_character_s_key_is_its_own_key_and_no_name_key_holds_a_colon() -> None:
    # With this interpreter's unicodedata, which may be newer than the
    # tables' (docs/security.md). Conversations are `dm:<key>:<key>` and a
    # room's key is its conversation, so no letter or digit may key as ':'
    # (U+02D0 and the Devanagari visarga look like one) or as a brace (Redis
    # hash tags).
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category in ("Cn", "Cs"):
            continue
        key = name_key(ch)
        assert name_key(key) == key, f"U+{cp:04X}"
        if category[0] in "LMN":
            assert not set(key) & set(":{}"), f"U+{cp:04X}"


# -- room names follow the same rules ------------------------------------------------


@pytest.mark.parametrize("invisible", INVISIBLE)
def test_a_room_name_with_an_invisible_character_is_a_bad_frame(invisible: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        parse_room("lab" + invisible)
    assert exc.value.code is ErrorCode.BAD_FRAME
    assert f"a room name cannot hold invisible characters (U+{ord(invisible):04X}" in (
        exc.value.message
    )


@pytest.mark.parametrize("room", ["c\u0585pa", "\u13dfopa", "p\u0430ypal", "ひら김"])
def test_a_mixed_script_room_name_is_a_bad_frame(room: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        parse_room(room)
    assert exc.value.code is ErrorCode.BAD_FRAME
    assert exc.value.message.startswith("a room name cannot mix")


@pytest.mark.parametrize(
    ("room", "lookalike"),
    [("jake", "\u13ab\u13aa\u13e6\u13ac"), ("hugo", "\u0570\u057d\u0581\u0585")],
)
def test_whole_script_lookalike_rooms_are_one_room(room: str, lookalike: str) -> None:
    assert parse_room(room)[1] == parse_room(lookalike)[1]


@pytest.mark.parametrize("room", ["general", "Lab-3", "山田たろう", "김민준", "Ελένη", "Кухня"])
def test_single_script_room_names_are_fine(room: str) -> None:
    assert parse_room(room)[0] == room


# -- over real sockets ----------------------------------------------------------------


async def refusal_of(peer: Any, name: str) -> dict[str, Any]:
    await peer.send(type="hello", name=name, proto=1)
    answer = await peer.recv()
    assert answer["type"] == "error", answer
    return answer


async def test_invisible_lookalikes_of_someone_online_are_refused(peers, text_peers) -> None:
    await peers("copa")
    impostor = await peers()
    for invisible in INVISIBLE:
        refusal = await refusal_of(impostor, "copa" + invisible)
        assert refusal["code"] == "bad_name"
        assert f"invisible characters (U+{ord(invisible):04X}" in refusal["message"]
    nc = await text_peers()
    await nc.type("copa\u3164")
    assert "invisible" in await nc.until("invisible")
    # The impostor can still choose a name of its own.
    assert (await impostor.hello("copa2"))["name"] == "copa2"


async def test_whole_script_and_mixed_lookalikes_refused_over_sockets(peers) -> None:
    await peers("jake")
    await peers("hugo")
    impostor = await peers()
    for mixed in ("ja\u13e6e", "\u0570ugo", "c\u0585pa"):
        refusal = await refusal_of(impostor, mixed)
        assert (refusal["code"], "cannot mix" in refusal["message"]) == ("bad_name", True)
    for whole in (
        "\u13ab\u13aa\u13e6\u13ac",
        "\u0570\u057d\u0581\u0585",
        "\u0540\u054d\u0551\u0555",
    ):
        assert (await refusal_of(impostor, whole))["code"] == "name_taken"
    # A rename to one is refused too.
    other = await peers("ana")
    await other.send(type="nick", name="\u13ab\u13aa\u13e6\u13ac")
    assert (await other.expect("error"))["code"] == "name_taken"


async def test_room_rules_over_sockets(peers) -> None:
    ana, bob = await peers("ana"), await peers("bob")
    for bad in ("lab\u3164", "l\u0585b"):
        await ana.send(type="join", room=bad)
        refusal = await ana.expect("error")
        assert refusal["code"] == "bad_frame"
    await ana.send(type="join", room="jake")
    assert (await ana.expect("room"))["room"] == "jake"
    await bob.send(type="join", room="\u13ab\u13aa\u13e6\u13ac")  # Cherokee ᎫᎪᏦᎬ
    info = await bob.expect("room")
    assert (info["room"], info["users"]) == ("jake", ["ana", "bob"])


async def test_names_that_key_with_a_colon_cannot_read_others_dms(peers) -> None:
    # The Devanagari visarga ः looks like ':' (UTS #39). Were it keyed as ':',
    # the DMs of क and खःग (dm:क:ख:ग) would be those of कःख and ग too.
    ka, kha = await peers("\u0915"), await peers("\u0916\u0903\u0917")
    await ka.send(type="dm", id="d1", to=kha.name, text="our secret")
    await ka.expect("ack")
    await kha.expect("dm")
    ga = await peers("\u0917")
    await ga.send(type="history", **{"with": "\u0915\u0903\u0916"}, limit=50)
    assert (await ga.expect("history"))["messages"] == []


async def test_lookalike_refused_over_sockets(server, peers, text_peers) -> None:
    await peers("ace")
    impostor = await peers()
    await impostor.send(type="hello", name="\u0430ce", proto=1)  # Cyrillic а + Latin ce
    refusal = await impostor.recv()
    assert refusal["code"] == "bad_name"
    assert "cannot mix" in refusal["message"]
    await impostor.send(type="hello", name="\u0430\u0441\u0435", proto=1)  # all Cyrillic
    assert (await impostor.recv())["code"] == "name_taken"
    await impostor.send(type="hello", name="ＡＣＥ", proto=1)
    assert (await impostor.recv())["code"] == "name_taken"
    nc = await text_peers()
    await nc.type("\u0430\u0441\u0435")
    assert "taken" in await nc.text()
