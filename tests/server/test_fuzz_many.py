"""Many clients at once, each sending a random sequence of frames (valid,
nearly valid and garbage, JSON and plain text) in random chunks, against one
live server, sometimes with a password and a tight per-address cap. The
server must raise nothing, stay up, and answer a new client's ping and hello.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conexion_server.config import ServerConfig
from conexion_server.hub import HubConfig
from conexion_server.server import ChatServer
from tests.peers import WAIT, JsonPeer, LinePeer, TextPeer, until
from tests.server.test_hostile import random_lines, text_lines

# Names that clash with each other (case, width, script) so that joins race.
NAMES = ["ana", "ANA", "Ａｎａ", "\u0430\u0441\u0435", "ace", "bob", "p\u0430ypal", "x" * 30]

json_hellos = st.builds(
    lambda name, password: json.dumps(
        {"type": "hello", "name": name, "proto": 1}
        | ({} if password is None else {"password": password})
    ).encode(),
    st.sampled_from(NAMES),
    st.sampled_from([None, "pw", "wrong", ""]),
)

json_script = st.lists(st.one_of(json_hellos, random_lines), max_size=12)
text_script = st.builds(
    lambda name, rest: [name.encode(), *rest],
    st.sampled_from(NAMES),
    st.lists(st.one_of(st.sampled_from([b"pw", b"wrong"]), text_lines), max_size=10),
)

clients = st.lists(
    st.tuples(
        st.booleans(),  # plain text?
        st.data(),
        st.integers(1, 64),  # bytes per write: frames arrive cut anywhere
        st.sampled_from(["stay", "close", "reset"]),  # how the client goes
    ),
    min_size=2,
    max_size=8,
)


async def drain(peer: LinePeer) -> None:
    """Read and drop whatever the server sends, so nobody is cut as slow."""
    with contextlib.suppress(ConnectionError, OSError):
        while await peer.reader.read(65536):
            pass


async def play(peer: LinePeer, lines: list[bytes], chunk: int, end: str) -> None:
    data = b"".join(line.replace(b"\n", b"") + b"\n" for line in lines)
    with contextlib.suppress(ConnectionError, OSError):
        for i in range(0, len(data), chunk):
            peer.writer.write(data[i : i + chunk])
            await peer.writer.drain()
            await asyncio.sleep(0)  # let the other clients interleave
    if end == "reset":
        with contextlib.suppress(OSError):
            peer.reset()
    elif end == "close":
        await peer.close()


async def swarm(
    scripts: list[tuple[bool, list[bytes], int, str]], password: bool, cap: int
) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict] = []
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    config = ServerConfig(
        port=0,
        hub=HubConfig(rate=1e6, burst=10**6),
        password=b"pw" if password else None,
        password_delays=(0.0, 0.01, 0.02),
        max_per_address=cap,
    )
    server = ChatServer(config)
    await server.start()
    peers: list[LinePeer] = []
    try:
        async with asyncio.timeout(20):
            for text, _, _, _ in scripts:
                kind = TextPeer if text else JsonPeer
                peers.append(await kind.connect(server.port))
            readers = [asyncio.create_task(drain(peer)) for peer in peers]
            await asyncio.gather(
                *(
                    play(peer, lines, chunk, end)
                    for peer, (_, lines, chunk, end) in zip(peers, scripts, strict=True)
                )
            )
            # Close the ones that stayed, so the cap has room for the probe.
            for peer in peers:
                await peer.close()
            await asyncio.gather(*readers)
            await until(lambda: not server.connections)
            probe = await JsonPeer.connect(server.port)
            peers.append(probe)
            await probe.send(type="ping", t="alive?")
            assert await probe.expect("pong", timeout=WAIT) == {"type": "pong", "t": "alive?"}
            await probe.send(
                type="hello", name="probe", proto=1, **({"password": "pw"} if password else {})
            )
            assert (await probe.expect("welcome"))["name"] == "probe"
    finally:
        for peer in peers:
            await peer.close()
        await server.stop()
    assert not escaped, escaped


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clients, st.booleans(), st.sampled_from([2, 64]))
def test_many_clients_sending_random_frames_never_break_the_server(
    specs: list, password: bool, cap: int
) -> None:
    scripts = []
    for text, data, chunk, end in specs:
        lines = data.draw(text_script if text else json_script)
        scripts.append((text, lines, chunk, end))
    asyncio.run(swarm(scripts, password, cap))
