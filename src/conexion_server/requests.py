"""What JSON frames from a peer ask for, answered through the hub.

Every `ProtocolError` raised while serving a frame becomes an `error` frame
here, in one place.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from conexion_protocol import (
    PROTO_VERSION,
    Ack,
    Bye,
    Dm,
    Error,
    ErrorCode,
    Hello,
    History,
    Join,
    LeftReason,
    Nick,
    Part,
    Ping,
    Pong,
    ProtocolError,
    Say,
    Welcome,
    Who,
    decode_client,
    encode,
)

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger(__name__)


class JsonHandler:
    json = True

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.server = conn.server
        self.hub = conn.server.hub
        self.bad_in_a_row = 0

    def too_long(self) -> bytes:
        limit = self.conn.config.max_frame
        return encode(Error(code=ErrorCode.TOO_LONG, message=f"a frame is at most {limit} bytes"))

    def handle(self, line: bytes) -> None:
        frame = None
        try:
            frame = decode_client(line)
            self.serve(frame)
        except ProtocolError as exc:
            self.refuse(exc, frame)
            return
        # Only `bad_frame`s count; any other answer, even a refusal such as
        # `bad_text` or `unknown_type`, ends the row.
        self.bad_in_a_row = 0

    def refuse(self, exc: ProtocolError, frame: object = None) -> None:
        if exc.id is None:
            # Whatever failed (the room, the text, the rate), a client
            # waiting for this frame's ack must learn that it failed.
            exc.id = getattr(frame, "id", None)
        self.conn.send_error(exc)
        if exc.code is ErrorCode.BAD_FRAME:
            self.bad_in_a_row += 1
            if self.bad_in_a_row >= self.conn.config.max_bad_frames:
                log.info(
                    "%s sent %d bad frames in a row; closing", self.conn.peer, self.bad_in_a_row
                )
                self.conn.close(LeftReason.ERROR)
        else:
            self.bad_in_a_row = 0

    def serve(self, frame: object) -> None:
        conn, hub, chat = self.conn, self.hub, self.server.backplane
        member = conn.member
        match frame:
            case Ping(t=t):
                conn.send_frame(Pong(t=t))
                return
            case Pong():
                return  # its arrival already counted as liveness
            case Bye():
                conn.close(LeftReason.QUIT)
                return
            case Hello():
                self.hello(frame)
                return
        if member is None:
            raise ProtocolError(ErrorCode.NOT_JOINED, "send hello first")

        def refuse(exc: ProtocolError) -> None:
            self.refuse(exc, frame)

        match frame:
            case Say(id=id, text=text, room=room, action=action):
                conn.then(
                    chat.say(member, text, id=id, room=room, action=action),
                    conn.send_frame,
                    refuse,
                )
            case Dm(id=id, to=to, text=text):
                conn.then(chat.dm(member, to, text, id=id), self._dm_acked, refuse)
            case Nick(name=name):
                conn.then(chat.rename(member, name), _nothing, refuse)
            case Who(room=room):
                conn.send_frame(hub.who(room))
            case Join(room=room):
                # Only `general` exists: joining it answers with its members.
                conn.send_frame(hub.who(room))
            case Part(room=room):
                hub.check_room(room)  # leaving general changes nothing
            case History(room=room, before=before, limit=limit):
                start = before if isinstance(before, int) else None
                conn.then(chat.history(room, start, limit, member), conn.send_frame, refuse)

    def _dm_acked(self, answer: tuple[Ack, str]) -> None:
        self.conn.send_frame(answer[0])

    def hello(self, hello: Hello) -> None:
        conn = self.conn
        if conn.member is not None:
            raise ProtocolError(ErrorCode.BAD_FRAME, "already joined; hello comes once")
        if hello.proto != PROTO_VERSION:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED_PROTO,
                f"this server speaks protocol {PROTO_VERSION}, not {hello.proto}",
            )
        given = hello.password if isinstance(hello.password, str) else None
        if not conn.authenticate(given):
            raise ProtocolError(
                ErrorCode.BAD_PASSWORD,
                "wrong password" if given is not None else "this server asks for a password",
            )
        conn.then(self.server.backplane.join(conn, hello.name), _nothing, self.refuse)

    def welcome(self, welcome: Welcome) -> None:
        self.conn.send_frame(welcome)


def _nothing(_: object) -> None:
    """The answer is sent by the backplane (a welcome, a renamed event)."""
