"""The shortest real conversation: a JSON peer and a text peer chat."""

from __future__ import annotations


async def test_json_and_text_users_chat(peers, text_peers) -> None:
    ana = await peers("ana")
    bob = await text_peers("bob")
    joined = await ana.expect("joined")
    assert joined["name"] == "bob"

    ack = await ana.say("hola bob")
    assert ack["type"] == "ack"
    assert (await bob.until("ana:")).endswith("ana: hola bob")

    await bob.type("hi ana")
    assert (await bob.text()) == "* sent"
    message = await ana.expect("message")
    assert (message["from"], message["text"]) == ("bob", "hi ana")
    assert message["seq"] > ack["seq"]
