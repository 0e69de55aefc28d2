"""Accounts through real sockets, on one server and on a cluster: registering
a name, logging in to it (JSON and plain text), look-alikes, the server's
policies, changing a password, the backoff on wrong ones, and that no
password ever reaches a log or an error."""

from __future__ import annotations

import io
import logging
import time

import pytest

from conexion_server import account_admin
from conexion_server.accounts import verify
from tests.peers import JsonPeer, TextPeer

PASSWORD = "correct horse battery"
OTHER = "another fine secret"


async def registered(make_server, connect, name: str = "ana", **options: object):
    """A server where `name` is registered with PASSWORD (and has left)."""
    server = await make_server(**options)
    peer = await connect(server, name)
    await peer.send(type="register", password=PASSWORD)
    assert await peer.expect("registered") == {"type": "registered", "name": name}
    await peer.close()
    return server


def operator(server, tmp_path, *args: str, password: str | None = None) -> int:
    """`conexion-server accounts ARGS` on `server`'s database or Redis."""
    where = ["--db", server.config.db]
    if server.config.cluster:
        where = [
            "--cluster",
            server.config.cluster,
            "--cluster-prefix",
            server.config.cluster_prefix,
        ]
    if password is not None:
        secret = tmp_path / "password.txt"
        secret.write_text(password + "\n")
        args = (*args, "--password-file", str(secret))
    return account_admin.main([*where, *args], default_db=":unused:", out=io.StringIO())


async def log_in(server, connect, name: str, password: str | None) -> dict:
    peer: JsonPeer = await connect(server)
    frame: dict = {"type": "hello", "name": name, "proto": 1}
    if password is not None:
        frame["account_password"] = password
    await peer.send(**frame)
    return await peer.recv()


# -- registering and logging in ------------------------------------------------


async def test_a_registered_name_needs_its_password(make_server, connect) -> None:
    server = await registered(make_server, connect)
    refused = await log_in(server, connect, "ana", None)
    assert refused["type"] == "error"
    assert refused["code"] == "login_required"
    assert "ana" in refused["message"]
    wrong = await log_in(server, connect, "ana", "not the password")
    assert wrong["type"] == "error"
    assert wrong["code"] == "bad_login"
    welcome = await log_in(server, connect, "ana", PASSWORD)
    assert welcome["type"] == "welcome"
    assert welcome["name"] == "ana"
    assert welcome["registered"] is True
    assert "accounts" in welcome["features"]


async def test_a_guest_is_told_it_is_a_guest_and_keeps_working(make_server, connect) -> None:
    server = await make_server()
    ana = await connect(server)
    welcome = await ana.hello("ana")
    assert welcome.get("registered", False) is False
    bob = await connect(server, "bob")
    assert (await ana.say("still works"))["type"] == "ack"
    assert (await bob.expect("message"))["text"] == "still works"


async def test_look_alike_names_need_the_password_too(make_server, connect) -> None:
    server = await registered(make_server, connect, "anna")
    for look_alike in ("ANNA", "Anna", "ａｎｎａ"):  # capitals, fullwidth
        refused = await log_in(server, connect, look_alike, None)
        assert refused["code"] == "login_required", look_alike
    # A Cyrillic a among Latin letters is no name at all.
    assert (await log_in(server, connect, "\u0430nna", None))["code"] == "bad_name"
    # Logged in under a look-alike spelling, one is the account's name.
    welcome = await log_in(server, connect, "ANNA", PASSWORD)
    assert welcome["name"] == "anna"


async def test_renaming_to_a_registered_name_is_refused(make_server, connect) -> None:
    server = await registered(make_server, connect, "teacher")
    student = await connect(server, "student")
    await student.send(type="nick", name="Teacher")
    refused = await student.expect("error")
    assert refused["code"] == "login_required"
    assert server.hub.find("student") is not None


async def test_registering_twice_or_a_weak_password_is_refused(make_server, connect) -> None:
    server = await registered(make_server, connect)
    ana = await connect(server)
    await ana.send(type="hello", name="ana", proto=1, account_password=PASSWORD)
    await ana.expect("welcome")
    await ana.send(type="register", password=OTHER)
    assert (await ana.expect("error"))["code"] == "forbidden"
    bob = await connect(server, "bob")
    await bob.send(type="register", password="short")
    weak = await bob.expect("error")
    assert weak["code"] == "weak_password"
    assert "8" in weak["message"]
    assert "short" not in weak["message"]


async def test_accounts_required_refuses_guests(make_server, connect, tmp_path) -> None:
    server = await make_server(accounts="required", db=str(tmp_path / "chat.db"))
    # While it runs, the operator registers a name on its database (or Redis).
    assert operator(server, tmp_path, "add", "ana", password=PASSWORD) == 0
    guest = await log_in(server, connect, "bob", None)
    assert guest["type"] == "error"
    assert guest["code"] == "account_required"
    assert (await log_in(server, connect, "ana", PASSWORD))["type"] == "welcome"


async def test_closed_registration_leaves_it_to_the_operator(make_server, connect) -> None:
    server = await make_server(registration="closed")
    ana = await connect(server, "ana")
    await ana.send(type="register", password=PASSWORD)
    refused = await ana.expect("error")
    assert refused["code"] == "forbidden"
    assert "operator" in refused["message"]


async def test_changing_the_password(make_server, connect) -> None:
    server = await registered(make_server, connect)
    ana = await connect(server)
    await ana.send(type="hello", name="ana", proto=1, account_password=PASSWORD)
    await ana.expect("welcome")
    await ana.send(type="password", old="a wrong guess", new=OTHER)
    assert (await ana.expect("error"))["code"] == "bad_login"
    await ana.send(type="password", old=PASSWORD, new=OTHER)
    assert await ana.expect("registered") == {"type": "registered", "name": "ana", "changed": True}
    await ana.close()
    assert (await log_in(server, connect, "ana", PASSWORD))["code"] == "bad_login"
    assert (await log_in(server, connect, "ana", OTHER))["type"] == "welcome"


async def test_a_guest_has_no_password_to_change(make_server, connect) -> None:
    server = await make_server()
    bob = await connect(server, "bob")
    await bob.send(type="password", old=PASSWORD, new=OTHER)
    assert (await bob.expect("error"))["code"] == "not_registered"


# -- plain text ------------------------------------------------------------------


async def test_plain_text_registers_and_logs_in(make_server, connect) -> None:
    server = await make_server()
    bob: TextPeer = await connect(server, "bob", text=True)
    await bob.type(f"/register {PASSWORD}")
    assert "registered to you" in await bob.until("registered")
    await bob.close()

    again: TextPeer = await connect(server, text=True)
    await again.type("bob")
    assert "bob is registered" in await again.until("is registered")
    assert await again.text() == "* password:"
    await again.type("a wrong guess")
    assert "wrong password" in await again.until("wrong password")
    await again.type(PASSWORD)
    await again.until(" online: ")
    assert server.hub.find("bob") is not None


async def test_plain_text_can_cancel_and_pick_another_name(make_server, connect) -> None:
    server = await registered(make_server, connect)
    peer: TextPeer = await connect(server, text=True)
    await peer.type("ana")
    await peer.until("* password:")
    await peer.type("/cancel")
    assert "another name" in await peer.until("another name")
    await peer.type("anita")
    await peer.until(" online: ")
    assert server.hub.find("anita") is not None


async def test_plain_text_password_change(make_server, connect) -> None:
    server = await registered(make_server, connect)
    peer: TextPeer = await connect(server, text=True)
    await peer.type("ana")
    await peer.until("* password:")
    await peer.type(PASSWORD)
    await peer.until(" online: ")
    # The passwords hold spaces: `/password` alone asks for each on a line.
    await peer.type("/password")
    await peer.until("your password now")
    await peer.type(PASSWORD)
    await peer.until("the new password")
    await peer.type(OTHER)
    assert "password is changed" in await peer.until("password")
    await peer.close()
    assert (await log_in(server, connect, "ana", OTHER))["type"] == "welcome"


# -- what never leaks, and what slows a guesser ----------------------------------


async def test_no_password_reaches_a_log_or_an_error(make_server, connect, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server = await registered(make_server, connect)
    seen: list[str] = []
    seen.append(str(await log_in(server, connect, "ana", "guess-one-two")))
    peer: TextPeer = await connect(server, text=True)
    await peer.type("ana")
    await peer.until("* password:")
    await peer.type("guess-three-four")
    seen.append(await peer.until("wrong password"))
    welcome = await log_in(server, connect, "ana", PASSWORD)
    seen.append(str(welcome))
    everything = caplog.text + "".join(seen)
    for secret in (PASSWORD, "guess-one-two", "guess-three-four"):
        assert secret not in everything
    assert "wrong password" in caplog.text  # the attempt is logged, not its words


@pytest.mark.single_server("the hashes are read from this server's store")
async def test_only_a_salted_hash_is_stored(make_server, connect) -> None:
    server = await make_server()
    for name in ("ana", "bob"):
        peer = await connect(server, name)
        await peer.send(type="register", password=PASSWORD)
        await peer.expect("registered")
    ana, bob = server.hub.store.account("ana"), server.hub.store.account("bob")
    assert ana is not None
    assert bob is not None
    assert PASSWORD not in ana.hash
    assert ana.hash.startswith("scrypt$")
    assert ana.hash != bob.hash  # a salt of each account's own
    assert verify(ana.hash, PASSWORD)
    assert not verify(ana.hash, OTHER)


async def test_wrong_passwords_are_answered_ever_later(make_server, connect) -> None:
    # The third wrong guess at one account waits login_delays[2] seconds
    # before its answer (a lower bound: never flaky).
    server = await registered(make_server, connect, login_delays=(0.0, 0.0, 0.6))
    for _ in range(2):
        assert (await log_in(server, connect, "ana", "a wrong guess"))["code"] == "bad_login"
    started = time.monotonic()
    assert (await log_in(server, connect, "ana", "a wrong guess"))["code"] == "bad_login"
    assert time.monotonic() - started >= 0.55


# -- the store keeps them ----------------------------------------------------------


@pytest.mark.single_server("a restart of one server on its database file")
async def test_accounts_survive_a_restart(make_server, connect, tmp_path) -> None:
    db = str(tmp_path / "chat.db")
    first = await registered(make_server, connect, db=db)
    await first.stop()
    second = await make_server(db=db)
    assert (await log_in(second, connect, "ana", None))["code"] == "login_required"
    assert (await log_in(second, connect, "ana", PASSWORD))["registered"] is True


async def test_room_creation_for_registered_users_or_admins(make_server, connect, tmp_path) -> None:
    server = await make_server(room_creation="registered", db=str(tmp_path / "chat.db"))
    assert operator(server, tmp_path, "add", "ana", password=PASSWORD) == 0
    bob = await connect(server, "bob")
    await bob.send(type="join", room="mine")
    refused = await bob.expect("error")
    assert refused["code"] == "forbidden"
    assert "registered users" in refused["message"]
    ana = await connect(server)
    await ana.send(type="hello", name="ana", proto=1, account_password=PASSWORD)
    await ana.expect("welcome")
    await ana.send(type="join", room="mine")
    assert (await ana.expect("room"))["created"] is True

    admins_only = await make_server(room_creation="admins", db=str(tmp_path / "other.db"))
    assert operator(admins_only, tmp_path, "add", "ana", password=PASSWORD) == 0
    assert operator(admins_only, tmp_path, "add", "root", "--admin", password=PASSWORD) == 0
    for name, answer in (("ana", "error"), ("root", "room")):
        peer = await connect(admins_only)
        await peer.send(type="hello", name=name, proto=1, account_password=PASSWORD)
        await peer.expect("welcome")
        await peer.send(type="join", room="staff")
        assert (await peer.expect_any("room", "error"))["type"] == answer
