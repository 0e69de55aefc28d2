"""A real TCP relay between a client and a server that a test can disturb:
drop what the server sends (an ack lost on a dying link) or cut every
connection at once. Bytes travel over loopback sockets; nothing is mocked."""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.drop_downstream = False  # discard server -> client bytes while True
        self.blackhole = False  # discard both directions while True
        self.hold_downstream = False  # keep server -> client bytes until release()
        self._held: list[tuple[asyncio.StreamWriter, bytes]] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        tasks = {
            asyncio.create_task(self._pump(reader, up_writer, downstream=False)),
            asyncio.create_task(self._pump(up_reader, writer, downstream=True)),
        }
        self._tasks |= tasks
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)
        self._tasks -= tasks

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, downstream: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if self.blackhole or (downstream and self.drop_downstream):
                    continue
                if downstream and self.hold_downstream:
                    self._held.append((writer, data))
                    continue
                writer.write(data)
                await writer.drain()

    def release(self) -> None:
        """Deliver what was held, in order, and stop holding."""
        self.hold_downstream = False
        held, self._held = self._held, []
        for writer, data in held:
            if not writer.is_closing():
                writer.write(data)

    def cut(self) -> None:
        """Close every relayed connection (both sides) now."""
        for writer in list(self._writers):
            writer.close()

    async def close(self) -> None:
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
