"""The app against a cluster: two conexion-server instances on a real
redis-server, the app on one, other users on the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from conexion_server.config import ServerConfig
from conexion_server.hub import HubConfig
from conexion_server.server import ChatServer
from tests.peers import JsonPeer, TextPeer
from tests.redis_server import RedisServer
from tests.tui.conftest import has_line, joined, log_lines, make_app, running, send_line, wait_for
from tests.tui.test_chat import user_names


@pytest.mark.parametrize("deployment", ["cluster"])
async def test_the_app_chats_with_users_on_another_instance(make_server) -> None:
    cluster = await make_server(rate=1000.0, burst=1000)
    here, there = cluster.instances
    app = make_app(here.port)
    bob = await JsonPeer.connect(there.port)
    carol = await TextPeer.connect(there.port)
    try:
        async with running(app) as pilot:
            await joined(pilot)
            await bob.hello("bob")
            await carol.type("carol")
            await wait_for(pilot, lambda: user_names(app) == ["ana", "bob", "carol"])

            await send_line(pilot, "hola a todos")
            await wait_for(pilot, lambda: has_line(app, "ana: hola a todos ✓"), what="the ack")
            assert (await bob.expect("message"))["text"] == "hola a todos"
            assert (await carol.until("hola a todos")).endswith("ana: hola a todos")

            await bob.say("hola ana")
            await carol.type("hi from nc")
            await wait_for(pilot, lambda: has_line(app, "carol: hi from nc"))
            assert has_line(app, "bob: hola ana")
            await carol.type("/exit")
            await wait_for(pilot, lambda: user_names(app) == ["ana", "bob"])
    finally:
        await bob.close()
        await carol.close()


async def test_a_message_refused_while_redis_is_down_is_marked_failed(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    config = ServerConfig(
        host="127.0.0.1", port=0, hub=HubConfig(rate=1000.0, burst=1000), cluster=redis.url
    )
    server = ChatServer(config)
    await server.start()
    try:
        app = make_app(server.port)
        async with running(app) as pilot:
            await joined(pilot)
            redis.kill()
            await send_line(pilot, "into the void")
            await wait_for(pilot, lambda: has_line(app, "into the void ✗"), what="failed mark")
            line = next(line for line in log_lines(app) if "into the void ✗" in line)
            assert "not sent: server_full" in line
            assert has_line(app, "unreachable")
            # Still connected; once Redis is back, the next message goes through.
            redis.start()
            await send_line(pilot, "back again")
            await wait_for(pilot, lambda: has_line(app, "back again ✓"), what="the ack")
    finally:
        await server.stop()
        redis.stop()


@pytest.mark.parametrize("deployment", ["cluster"])
async def test_message_actions_across_instances(make_server) -> None:
    """A reply, a reaction, an edit, a delete and a search, with bob on the
    other instance: each reaches the app, and the app's reach bob."""
    from tests.tui.test_message_actions import expect_from

    cluster = await make_server(rate=1000.0, burst=1000)
    here, there = cluster.instances
    app = make_app(here.port)
    bob = await JsonPeer.connect(there.port)
    try:
        async with running(app) as pilot:
            await joined(pilot)
            await bob.hello("bob")
            said = await bob.say("the cluster plan")
            await wait_for(pilot, lambda: has_line(app, "bob: the cluster plan"))
            await pilot.press("ctrl+up", "r")
            await send_line(pilot, "agreed")
            reply = await expect_from(bob, "message")
            assert reply["reply_to"] == said["seq"]
            await send_line(pilot, "+:eyes:")
            assert (await expect_from(bob, "reacted"))["names"] == ["ana"]
            await bob.send(type="edit", room="general", seq=said["seq"], text="the plan, v2")
            await wait_for(pilot, lambda: has_line(app, "bob: the plan, v2 (edited)"))
            await wait_for(pilot, lambda: has_line(app, "↪ bob: the plan, v2"))
            await bob.send(type="react", room="general", seq=said["seq"], emoji="👍", on=True)
            await wait_for(pilot, lambda: has_line(app, "👍 1"))
            await bob.send(type="delete", room="general", seq=said["seq"])
            await wait_for(pilot, lambda: has_line(app, "bob: message deleted"))
            await send_line(pilot, "/search agreed")
            await wait_for(pilot, lambda: len(getattr(app.screen, "hits", ())) == 1)
    finally:
        await bob.close()
