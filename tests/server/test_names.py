"""Impersonation: names that look the same (case, width, look-alike letters
of another script, invisible marks) cannot both be online; mixed-script names
are refused. The rules without sockets, then once over real sockets."""

from __future__ import annotations

import pytest

from conexion_protocol import ErrorCode, ProtocolError, name_key, normalize_name
from conexion_server.hub import Hub, HubConfig


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
        ("ana", "ana\u034f"),  # an invisible combining grapheme joiner
        ("ﬁona", "fiona"),  # a ligature
    ],
)
def test_lookalikes_share_a_key_and_cannot_both_join(holder: str, lookalike: str) -> None:
    assert name_key(holder) == name_key(lookalike)
    hub = Hub(HubConfig())
    hub.join(holder, Peer())
    with pytest.raises(ProtocolError) as exc:
        hub.join(lookalike, Peer())
    assert exc.value.code is ErrorCode.NAME_TAKEN


@pytest.mark.parametrize(
    ("one", "other"),
    [("José", "Jose"), ("ana", "anna"), ("李雷", "李雪"), ("Ωmega", "omega"), ("bob", "b0b")],
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
    ],
)
def test_mixed_script_names_are_refused(name: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        normalize_name(name)
    assert exc.value.code is ErrorCode.BAD_NAME
    assert "cannot mix" in exc.value.message


@pytest.mark.parametrize("name", ["José", "李雷", "देवनागरी", "Ελένη", "Анна", "ana_2", "Li雷"])
def test_single_script_names_are_fine(name: str) -> None:
    assert normalize_name(name) == name


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
