"""What a JSON peer's frames ask for, answered through the backplane, and
every word a JSON peer is told. No asyncio: the session hands lines in.

Every `ProtocolError` raised while serving a frame becomes an `error` frame
here, in one place.
"""

from __future__ import annotations

import logging

import msgspec

from conexion_protocol import (
    DEFAULT_ROOM,
    PROTO_VERSION,
    UNSET,
    Ack,
    Audit,
    Bye,
    ChangePassword,
    Code,
    Delete,
    Dm,
    Edit,
    ErrorCode,
    Hand,
    Hands,
    Hello,
    History,
    Join,
    LeftReason,
    Mod,
    Mode,
    Nick,
    Part,
    Ping,
    Pong,
    ProtocolError,
    React,
    Register,
    Rooms,
    Say,
    Search,
    Seen,
    Topic,
    Welcome,
    Who,
    decode_client,
    encode,
)

from . import refusals
from .backplane import Backplane, Peer, ignore
from .config import ServerConfig
from .fanout import JSON
from .hub import Outbound, Room
from .store import StoreError


class JsonHandler:
    json = True
    current_room = DEFAULT_ROOM  # JSON frames name their room; nothing is current

    def __init__(self, session: Peer, backplane: Backplane, config: ServerConfig) -> None:
        self.session = session
        self.backplane = backplane
        self.config = config
        self.bad_in_a_row = 0
        self.limited_in_a_row = 0  # `rate_limited` refusals since the last accepted send

    # -- wording --------------------------------------------------------------

    def form(self, room: Room | None) -> str:
        return JSON

    def wire(self, out: Outbound) -> bytes:
        return out.json

    def render_error(self, error: ProtocolError) -> bytes:
        return encode(error.to_frame())

    def too_long(self) -> bytes:
        return self.render_error(refusals.too_long(self.config.max_frame))

    def timed_out(self) -> bytes:
        return b""  # JSON peers see the close; nothing else is owed

    def welcome(self, welcome: Welcome) -> None:
        self.session.send_frame(welcome)

    # -- frames in ------------------------------------------------------------

    def handle(self, line: bytes) -> None:
        frame = None
        try:
            frame = decode_client(line)
            self.serve(frame)
        except ProtocolError as exc:
            self.refuse(exc, frame)
            return
        except StoreError as exc:
            self.session.note(
                "store", "%s: the store failed: %s", self.session.peer, exc, level=logging.ERROR
            )
            self.refuse(refusals.store_failure(), frame)
            return
        # Only `bad_frame`s count; any other answer, even a refusal such as
        # `bad_text` or `unknown_type`, ends the row.
        self.bad_in_a_row = 0

    def refuse(self, exc: ProtocolError, frame: object = None) -> None:
        session = self.session
        if exc.id is None:
            # Whatever failed (the room, the text, the rate), a client
            # waiting for this frame's ack must learn that it failed.
            exc.id = getattr(frame, "id", None)
        if exc.hold:
            session.hold_back(exc.hold)  # a wrong password's answer comes later
        session.send_error(exc)
        if exc.code is ErrorCode.RATE_LIMITED:
            self.limited_in_a_row += 1
            if self.limited_in_a_row >= self.config.max_rate_limited:
                session.note(
                    "too_fast",
                    "%s kept sending too fast (%d refused in a row); closing",
                    session.peer,
                    self.limited_in_a_row,
                )
                session.close(LeftReason.ERROR)
        if exc.code is ErrorCode.BAD_FRAME:
            self.bad_in_a_row += 1
            if self.bad_in_a_row >= self.config.max_bad_frames:
                session.note(
                    "bad_frames",
                    "%s sent %d bad frames in a row; closing",
                    session.peer,
                    self.bad_in_a_row,
                )
                session.close(LeftReason.ERROR)
        else:
            self.bad_in_a_row = 0

    def serve(self, frame: object) -> None:
        session, chat = self.session, self.backplane
        match frame:
            case Ping(t=t):
                session.send_frame(Pong(t=t), urgent=True)
                return
            case Pong():
                return  # its arrival already counted as liveness
            case Bye():
                session.close(LeftReason.QUIT)
                return
            case Hello():
                self.hello(frame)
                return
        member = session.member
        if member is None:
            raise refusals.not_joined()

        def refuse(exc: ProtocolError) -> None:
            self.refuse(exc, frame)

        def answer(reply: msgspec.Struct) -> None:
            # The answer to a request that had an `id` carries it back.
            request_id = getattr(frame, "id", UNSET)
            if isinstance(request_id, str) and hasattr(reply, "id"):
                reply = msgspec.structs.replace(reply, id=request_id)
            session.send_frame(reply)

        match frame:
            case Say(id=id, text=text, room=room, action=action, announce=announce):
                reply_to = frame.reply_to if isinstance(frame.reply_to, int) else None
                session.then(
                    chat.say(
                        member,
                        text,
                        id=id,
                        room=room,
                        action=action,
                        announce=announce,
                        reply_to=reply_to,
                    ),
                    self._acked,
                    refuse,
                )
            case Dm(id=id, to=to, text=text):
                session.then(chat.dm(member, to, text, id=id), self._dm_acked, refuse)
            case Nick(name=name):
                session.then(chat.rename(member, name), ignore, refuse)
            case Who(room=room, watch=watch):
                answer(chat.watch(member, room) if watch else chat.who(room))
            case Join(room=room, code=code):
                given = code if isinstance(code, str) else None
                session.then(chat.enter(member, room, given), answer, refuse)
            case Part(room=room):
                session.then(chat.part(member, room), ignore, refuse)
            case Rooms():
                answer(chat.rooms())
            case Topic(room=room, topic=topic):
                if isinstance(topic, str):
                    session.then(chat.set_topic(member, room, topic), ignore, refuse)
                else:
                    answer(chat.topic(room))
            case Mod():
                session.then(chat.moderate(member, frame), ignore, refuse)
            case Delete(room=room, seq=seq):
                session.then(chat.delete(member, room, seq), ignore, refuse)
            case Edit(room=room, seq=seq, text=text):
                session.then(chat.edit(member, room, seq, text), ignore, refuse)
            case React(room=room, seq=seq, emoji=emoji, on=on):
                wanted = on if isinstance(on, bool) else None
                session.then(chat.react(member, room, seq, emoji, wanted), ignore, refuse)
            case Search():
                session.then(chat.search(member, frame), answer, refuse)
            case Hand():
                session.then(chat.hand(member, frame), ignore, refuse)
            case Hands(room=room):
                answer(chat.hands(member, room))
            case Seen(room=room, seq=seq):
                session.then(chat.seen(member, room, seq), ignore, refuse)
            case Mode():
                session.then(chat.set_mode(member, frame), ignore, refuse)
            case Code(room=room, rotate=rotate):
                session.then(chat.join_code(member, room, rotate=rotate), answer, refuse)
            case Audit(room=room, limit=limit):
                where = room if isinstance(room, str) else None
                session.then(chat.audit(member, where, limit), answer, refuse)
            case Register(password=password):
                session.then(chat.register(member, password), ignore, refuse)
            case ChangePassword(old=old, new=new):
                session.then(chat.change_password(member, old, new), ignore, refuse)
            case History(room=room, with_=other, before=before, limit=limit):
                start = before if isinstance(before, int) else None
                if isinstance(other, str):
                    if isinstance(room, str):
                        raise refusals.history_of_two()
                    page = chat.dm_history(other, start, limit, member)
                else:
                    where = room if isinstance(room, str) else DEFAULT_ROOM
                    page = chat.history(where, start, limit, member)
                session.then(page, answer, refuse)

    def _acked(self, ack: Ack) -> None:
        self.limited_in_a_row = 0
        self.session.send_frame(ack)

    def _dm_acked(self, answer: tuple[Ack, str]) -> None:
        self._acked(answer[0])

    def hello(self, hello: Hello) -> None:
        session = self.session
        if session.member is not None:
            raise refusals.hello_again()
        if hello.proto != PROTO_VERSION:
            raise refusals.unsupported_proto(hello.proto)
        given = hello.password if isinstance(hello.password, str) else None
        if not session.authenticate(given):
            raise refusals.bad_password(given is not None)
        secret = hello.account_password if isinstance(hello.account_password, str) else None
        session.then(self.backplane.join(session, hello.name, secret), ignore, self.refuse)
