"""The TUI against a real server with a password and/or TLS: the masked
password field on the start screen, and certificate problems in plain words."""

from __future__ import annotations

import logging

import trustme
from textual.widgets import Button, Input, Static

from conexion_tui.client import tls_context
from conexion_tui.screens import StartScreen
from conexion_tui.widgets import ChatHeader
from tests.tui.conftest import chat, joined, make_app, running, start, wait_for

PASSWORD = "tr0ub4dor & 3"


def message_text(app) -> str:
    return str(app.screen.query_one("#start-message", Static).render())


async def test_password_is_asked_for_masked_and_retried(make_server, peers, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server = await make_server(password=PASSWORD.encode(), password_delays=(0.0,))
    app = make_app(server.port, name=None, suggested="ana")
    async with running(app) as pilot:
        screen = start(app)
        row = screen.query_one("#start-password-row")
        assert not row.has_class("-shown")  # no password field until the server asks
        await pilot.press("enter")
        await wait_for(pilot, lambda: "asks for a password" in message_text(app))
        field = screen.query_one("#start-password", Input)
        assert row.has_class("-shown")
        assert field.password
        assert field.has_focus
        await pilot.press(*"wrong", "enter")
        await wait_for(pilot, lambda: "Wrong password" in message_text(app))
        assert isinstance(app.screen, StartScreen)
        assert field.has_focus
        # The wrong guess is selected: typing replaces it.
        await pilot.press(*PASSWORD, "enter")
        await joined(pilot)
        assert app.client is not None
        assert app.client.name == "ana"
    assert PASSWORD not in caplog.text
    assert "wrong" not in [r.getMessage() for r in caplog.records]


async def test_password_field_never_shows_the_password(make_server) -> None:
    server = await make_server(password=PASSWORD.encode(), password_delays=(0.0,))
    app = make_app(server.port, name=None, suggested="ana")
    async with running(app) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: "asks for a password" in message_text(app))
        await pilot.press(*"hunter2")
        await pilot.pause()
        screenshot = app.export_screenshot()
        assert "hunter2" not in screenshot
        assert "•••••••" in screenshot


async def test_env_password_prefills_and_joins_at_once(make_server, peers) -> None:
    server = await make_server(password=PASSWORD.encode(), password_delays=(0.0,))
    app = make_app(server.port, name="ana", password=PASSWORD)
    async with running(app) as pilot:
        await joined(pilot)
    app = make_app(server.port, name=None, password=PASSWORD)
    async with running(app) as pilot:
        row = start(app).query_one("#start-password-row")
        assert row.has_class("-shown")


async def test_reconnect_sends_the_password_again(make_server, connect) -> None:
    server = await make_server(password=PASSWORD.encode(), password_delays=(0.0,))
    app = make_app(server.port, name="ana", password=PASSWORD)
    async with running(app) as pilot:
        await joined(pilot)
        member = server.hub.find("ana")
        assert member is not None
        member.peer.abort(member.peer.reason)
        await wait_for(
            pilot,
            lambda: server.hub.find("ana") is not None and server.hub.find("ana") is not member,
            what="rejoined",
        )


async def test_tui_over_tls(make_server, tls_files, peers) -> None:
    server = await make_server(**tls_files.server_options())
    app = make_app(server.port, name="ana", tls=tls_context(str(tls_files.ca_file)))
    async with running(app) as pilot:
        await joined(pilot)
        member = server.hub.find("ana")
        assert member is not None
        assert member.peer.io.transport.get_extra_info("ssl_object") is not None
        # The header says the link is encrypted, even when it is short.
        header = chat(app).query_one("#header", ChatHeader)
        assert "● online │ 🔒 TLS" in str(header.render())
        await pilot.resize_terminal(40, 20)
        await pilot.pause()
        assert "🔒 TLS" in str(header.render())


async def test_a_plain_link_claims_no_encryption(server) -> None:
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        screen = await joined(pilot)
        assert "TLS" not in str(screen.query_one("#header", ChatHeader).render())


async def test_untrusted_certificate_is_explained(make_server, tls_files, tmp_path) -> None:
    server = await make_server(**tls_files.server_options())
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    app = make_app(server.port, name="ana", tls=tls_context(str(other_ca)))
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "certificate" in message_text(app), what="tls error")
        text = message_text(app)
        assert "not signed by an authority this computer trusts" in text
        assert "--ca" in text
        assert "Traceback" not in text
        assert "(TLS)" in str(start(app).query_one("#start-server", Static).render())


async def test_certificate_for_another_host_is_explained(make_server, tls_files, tmp_path) -> None:
    # Signed by the trusted CA, but for another name than the one we dial.
    cert = tls_files.ca.issue_cert("chat.example.test")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    server = await make_server(tls_cert=str(cert_file), tls_key=str(key_file))
    app = make_app(server.port, name="ana", tls=tls_context(str(tls_files.ca_file)))
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "certificate" in message_text(app), what="tls error")
        assert "the server's certificate is not for 127.0.0.1" in message_text(app)


async def test_tls_client_on_a_plain_server_is_explained(server) -> None:
    app = make_app(server.port, name="ana", tls=tls_context())
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "TLS" in message_text(app), what="tls error")
        assert "did not answer in TLS" in message_text(app)


async def test_plain_client_on_a_tls_server_gets_a_hint(make_server, tls_files) -> None:
    server = await make_server(**tls_files.server_options())
    app = make_app(server.port, name="ana")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: "--tls" in message_text(app), what="the hint")
        text = message_text(app)
        assert "Choose another name" not in text  # the name is not the problem
        assert "Press Enter or Retry to try again" in text
        assert str(start(app).query_one("#start-join", Button).label) == "Retry"
