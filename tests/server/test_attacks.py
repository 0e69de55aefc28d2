"""The holes an adversarial run found, each reproduced through real sockets
(bounded in count and time, loopback only) and shown closed: refused
connections that lingered, TLS handshakes over the per-address limit, huge
`before` values, one write of many lines, rename storms, the join and leave
noise of short connections, DMs to nobody, running out of descriptors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
from typing import Any

import pytest

from tests.peers import WAIT, JsonPeer, until
from tests.server.test_process import PROCESS_WAIT, server_command, wait_listening


async def raw_connections(port: int, count: int) -> list[socket.socket]:
    """Sockets that connect and then never read, write or close."""
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        socks.append(sock)
    return socks


@pytest.fixture
def stalled() -> Any:
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


# -- 1 and 2: refusals do not linger, not even before TLS ------------------------------


@pytest.mark.single_server("counts one process's sockets")
async def test_connections_over_the_limit_are_closed_at_once(make_server, stalled, caplog) -> None:
    server = await make_server(max_per_address=3)
    caplog.set_level(logging.WARNING, "conexion_server")
    stalled += await raw_connections(server.port, 20)
    # The three admitted stay; the seventeen others are gone already, though
    # they never read their refusal nor hang up.
    await until(lambda: len(server.connections) == 3, timeout=2.0)
    assert server.per_address == {"127.0.0.1": 3}
    loop = asyncio.get_running_loop()
    refusal = await asyncio.wait_for(loop.sock_recv(stalled[-1], 4096), WAIT)
    assert json.loads(refusal)["code"] == "server_full"
    # One line said it, not seventeen.
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1


@pytest.mark.single_server("counts one process's sockets")
async def test_tls_handshakes_over_the_limit_are_cut_before_they_start(
    make_server, tls_files, stalled
) -> None:
    server = await make_server(max_per_address=2, **tls_files.server_options())
    stalled += await raw_connections(server.port, 12)  # never send a ClientHello
    await until(lambda: len(server.connections) == 2, timeout=2.0)
    loop = asyncio.get_running_loop()
    # Cut with no word: a reset, or an end of stream at once.
    try:
        data = await asyncio.wait_for(loop.sock_recv(stalled[-1], 4096), WAIT)
    except ConnectionResetError:
        data = b""
    assert data == b""


# -- 3: integers that do not fit SQLite's ----------------------------------------------


@pytest.mark.single_server("SQLite belongs to one process")
@pytest.mark.parametrize("before", [2**63, 2**70, -(2**70), 0, -1])
async def test_history_before_any_integer_is_answered_and_the_connection_stays(
    make_server, connect, tmp_path, before: int
) -> None:
    server = await make_server(db=str(tmp_path / "h.db"))
    ana = await connect(server, "ana")
    await ana.say("only message")
    await ana.send(type="history", room="general", before=before, limit=5)
    page = await ana.expect("history")
    texts = [m["text"] for m in page["messages"]]
    assert texts == (["only message"] if before > 0 else [])
    await ana.send(**{"type": "history", "with": "ana", "before": before})
    assert (await ana.expect("history"))["messages"] == []
    assert (await ana.say("still here"))["type"] == "ack"


async def test_history_before_any_integer_in_a_cluster_too(peers) -> None:
    ana = await peers("ana")
    for before in (2**70, -(2**70)):
        await ana.send(type="history", room="general", before=before, limit=5)
        await ana.expect("history")
    assert (await ana.say("still here"))["type"] == "ack"


# -- 4: one write of many lines, and flooding --------------------------------------------


async def test_one_write_of_many_pings_is_answered_whole_while_others_chat(
    make_server, connect
) -> None:
    server = await make_server(max_lines_per_turn=50, rate=1000.0, burst=1000)
    flooder = await connect(server, "flood")
    ana, bob = await connect(server, "ana"), await connect(server, "bob")
    count = 20_000
    await flooder.send_raw(b"".join(b'{"type":"ping","t":%d}\n' % n for n in range(count)))
    ack = await ana.say("served between the shares")
    assert (await bob.expect_any("message"))["seq"] == ack["seq"]
    seen = 0
    async with asyncio.timeout(30):
        while seen < count:
            frame = await flooder.recv()
            if frame["type"] == "pong":
                assert frame["t"] == seen  # every one, in order
                seen += 1


async def test_a_peer_that_keeps_hitting_the_rate_limit_is_disconnected(
    make_server, connect
) -> None:
    server = await make_server(rate=1.0, burst=5, max_rate_limited=30)
    flooder = await connect(server, "flood")
    ana = await connect(server, "ana")
    await flooder.send_raw(
        b"".join(b'{"type":"say","id":"f%d","text":"spam"}\n' % n for n in range(10_000))
    )
    left = await until_left(ana, "flood")
    assert left["reason"] == "error"
    assert await flooder.closed()
    assert (await ana.say("quiet again"))["type"] == "ack"


async def until_left(peer: JsonPeer, name: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT * 3):
        while True:
            frame = await peer.recv()
            if frame["type"] == "left" and frame["name"] == name:
                return frame


# -- 5: renames, and the noise of short connections ---------------------------------------


async def test_renames_have_a_rate_of_their_own(make_server, connect) -> None:
    server = await make_server(renames_per_minute=3.0, rename_burst=3)
    ana = await connect(server, "ana")
    for n in range(3):
        await ana.send(type="nick", name=f"ana{n}")
        assert (await ana.expect("renamed"))["new"] == f"ana{n}"
    await ana.send(type="nick", name="ana9")
    refused = await ana.expect("error")
    assert (refused["code"], "3 a minute" in refused["message"]) == ("rate_limited", True)
    await ana.send(type="nick", name="ana2")  # the name one has: free
    assert (await ana.expect("renamed"))["new"] == "ana2"


async def test_a_connection_that_comes_and_goes_quickly_is_never_announced(
    make_server, connect
) -> None:
    server = await make_server(quiet_arrival=60.0)
    ana = await connect(server, "ana")
    for n in range(20):
        visitor = await connect(server, f"visitor{n}")
        await visitor.close()
    # Someone who speaks is announced first, at once.
    dora = await connect(server, "dora")
    ack = await dora.say("hello all")
    frames = []
    while True:
        frame = await ana.recv()
        frames.append(frame)
        if frame["type"] == "message":
            break
    assert [(f["type"], f.get("name")) for f in frames] == [("joined", "dora"), ("message", None)]
    assert frames[-1]["seq"] == ack["seq"]


async def test_dms_to_nobody_count_against_the_rate(make_server, connect) -> None:
    server = await make_server(rate=1.0, burst=3)
    ana = await connect(server, "ana")
    codes = []
    for n in range(5):
        await ana.send(type="dm", id=f"d{n}", to="nobody", text="hi")
        codes.append((await ana.expect("error"))["code"])
    assert codes == ["no_such_user"] * 3 + ["rate_limited"] * 2


# -- descriptors -----------------------------------------------------------------------------


@pytest.mark.single_server("a process of its own")
async def test_out_of_descriptors_is_one_line_and_the_server_recovers() -> None:
    limit = 48

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = await asyncio.create_subprocess_exec(
        *server_command(),
        "--port",
        "0",
        "--db",
        ":memory:",
        "--max-per-address",
        "1000",
        "--log-level",
        "warning",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=low_limit,
    )
    socks: list[socket.socket] = []
    early: list[str] = []
    try:
        port = await wait_listening(proc)
        socks = await raw_connections(port, limit + 40)  # the kernel queues what is not accepted
        assert proc.stderr is not None
        async with asyncio.timeout(PROCESS_WAIT):
            while not any("cannot accept" in line for line in early):
                early.append((await proc.stderr.readline()).decode())
        for sock in socks:
            sock.close()
        socks = []
        # Accepting resumes by itself: a newcomer joins.
        async with asyncio.timeout(PROCESS_WAIT):
            while True:
                with contextlib.suppress(ConnectionError, EOFError, TimeoutError):
                    peer = await JsonPeer.connect(port)
                    try:
                        welcome = await peer.hello("late")
                        break
                    finally:
                        await peer.close()
                await asyncio.sleep(0.2)
        assert welcome["type"] == "welcome"
    finally:
        for sock in socks:
            sock.close()
        proc.terminate()
        async with asyncio.timeout(PROCESS_WAIT):
            _, err = await proc.communicate()
    lines = [line.rstrip("\n") for line in early] + err.decode().splitlines()
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    said = [line for line in lines if "cannot accept new connections" in line]
    assert 1 <= len(said) <= 2, lines


def test_the_soft_descriptor_limit_is_raised_at_start() -> None:
    from conexion_server.cli import raise_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard > 64:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
            assert raise_file_limit() == (64, hard)
            assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
        else:
            before, after = raise_file_limit()
            assert after >= before
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_brute_force_logs_a_few_lines_not_one_per_guess(
    make_server, connect, caplog
) -> None:
    server = await make_server(password=b"right", password_delays=(0.0,))
    caplog.set_level(logging.INFO, "conexion_server")
    guesser = await connect(server)
    for n in range(30):
        await guesser.send(type="hello", name="ana", proto=1, password=f"guess{n}")
        assert (await guesser.expect("error"))["code"] == "bad_password"
    said = [r for r in caplog.records if "wrong password" in r.getMessage()]
    assert len(said) == 1
