"""TLS on real sockets, with certificates made by trustme for each session:
the handshake, a client that trusts another CA, and plain-TCP clients
knocking on a TLS port (the server survives and logs it)."""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest
import trustme

from tests.peers import JsonPeer, TextPeer, until


async def test_json_client_over_tls(make_server, tls_files) -> None:
    server = await make_server(**tls_files.server_options())
    ana = await JsonPeer.connect(server.port, tls=tls_files.client_context())
    bob = await JsonPeer.connect(server.port, tls=tls_files.client_context())
    try:
        await ana.hello("ana")
        await bob.hello("bob")
        ack = await ana.say("over tls")
        assert ack["type"] == "ack"
        message = await bob.expect("message")
        assert message["text"] == "over tls"
        assert ana.writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    finally:
        await ana.close()
        await bob.close()


async def test_text_client_over_tls(make_server, tls_files) -> None:
    # What `openssl s_client` or `ncat --ssl` users get.
    server = await make_server(**tls_files.server_options())
    nc = await TextPeer.connect(server.port, tls=tls_files.client_context())
    try:
        await nc.type("cleo")
        assert "cleo" in await nc.until(" online: ")
        await nc.type("hola")
        assert await nc.text() == "* sent"
    finally:
        await nc.close()


async def test_a_client_trusting_another_ca_is_refused(make_server, tls_files) -> None:
    server = await make_server(**tls_files.server_options())
    other = ssl.create_default_context()
    trustme.CA().configure_trust(other)
    with pytest.raises(ssl.SSLCertVerificationError):
        await JsonPeer.connect(server.port, tls=other)
    # The server is still there for the right clients.
    peer = await JsonPeer.connect(server.port, tls=tls_files.client_context())
    try:
        await peer.hello("ana")
    finally:
        await peer.close()


@pytest.mark.parametrize("first", [b'{"type":"hello","name":"ana","proto":1}\n', b"ana\n", b""])
async def test_a_plain_client_on_a_tls_port_is_logged_and_dropped(
    make_server, tls_files, caplog, first: bytes
) -> None:
    server = await make_server(hello_timeout=1.0, **tls_files.server_options())
    caplog.set_level(logging.INFO, logger="conexion_server")
    plain = await JsonPeer.connect(server.port)
    try:
        await plain.send_raw(first)
        assert await plain.closed()
    finally:
        await plain.close()
    # A JSON hello is not a TLS record: refused at once. A short line or
    # silence never completes a handshake: dropped at the hello deadline.
    assert "TLS handshake" in caplog.text
    await until(lambda: not server.connections and not server.per_address)
    peer = await JsonPeer.connect(server.port, tls=tls_files.client_context())
    try:
        welcome = await peer.hello("ana")
        assert welcome["users"] == ["ana"]
    finally:
        await peer.close()


@pytest.mark.single_server("--max-per-address counts one instance's connections")
async def test_password_and_limits_apply_over_tls(make_server, tls_files) -> None:
    server = await make_server(
        password=b"pw", password_delays=(0.0,), max_per_address=1, **tls_files.server_options()
    )
    peer = await JsonPeer.connect(server.port, tls=tls_files.client_context())
    try:
        # One over the limit is cut before its handshake: no TLS session,
        # no socket held on the server.
        with pytest.raises((ConnectionError, ssl.SSLError)):
            await JsonPeer.connect(server.port, tls=tls_files.client_context())
        await until(lambda: len(server.connections) == 1)
        await peer.send(type="hello", name="ana", proto=1, password="nope")
        assert (await peer.recv())["code"] == "bad_password"
        await peer.send(type="hello", name="ana", proto=1, password="pw")
        assert (await peer.recv())["type"] == "welcome"
    finally:
        await peer.close()


async def test_stop_during_a_handshake(make_server, tls_files) -> None:
    server = await make_server(**tls_files.server_options())
    stalled = await JsonPeer.connect(server.port)  # connects, never sends a ClientHello
    try:
        await until(lambda: server.connections)
        async with asyncio.timeout(5):
            await server.stop()
        assert await stalled.closed()
    finally:
        await stalled.close()


async def test_a_plain_client_that_hangs_up_mid_handshake_is_logged(
    make_server, tls_files, caplog
) -> None:
    server = await make_server(**tls_files.server_options())
    caplog.set_level(logging.INFO, logger="conexion_server")
    plain = await TextPeer.connect(server.port)
    await plain.send_raw(b"bob\n")  # shorter than a TLS record header
    await plain.close()
    await until(lambda: not server.connections and not server.per_address)
    assert "TLS handshake failed" in caplog.text
    assert "()" not in caplog.text  # always a reason in the brackets
