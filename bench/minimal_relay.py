"""The naive baseline for the benchmarks: a minimal asyncio relay that speaks
just enough of the Conexion protocol (hello, say, fan-out) and writes once per
peer per message. Not part of the product.

Run: python -m bench.minimal_relay --port 0   (prints the port it listens on)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from functools import partial

peers: dict[asyncio.StreamWriter, str] = {}
seq = 0
dumps = partial(json.dumps, separators=(",", ":"))  # compact, as on the wire


async def serve_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global seq
    try:
        while line := await reader.readline():
            frame = json.loads(line)
            if frame["type"] == "hello":
                peers[writer] = frame["name"]
                welcome = {
                    "type": "welcome",
                    "proto": 1,
                    "name": frame["name"],
                    "server": "minimal-relay",
                    "users": list(peers.values()),
                    "rooms": ["general"],
                    "history": [],
                }
                writer.write(dumps(welcome).encode() + b"\n")
                joined = dumps({"type": "joined", "name": frame["name"]}).encode() + b"\n"
                for other in peers:
                    if other is not writer:
                        other.write(joined)
            elif frame["type"] == "say":
                seq += 1
                writer.write(dumps({"type": "ack", "id": frame["id"], "seq": seq}).encode() + b"\n")
                message = dumps(
                    {
                        "type": "message",
                        "seq": seq,
                        "room": "general",
                        "from": peers[writer],
                        "text": frame["text"],
                    }
                ).encode()
                for other in peers:
                    if other is not writer:
                        other.write(message + b"\n")
    except (ConnectionError, ValueError, KeyError):
        pass
    finally:
        peers.pop(writer, None)
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve_peer, "127.0.0.1", port, backlog=4096)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
