"""The client session with no socket, no event loop and no Textual: frames
encoded by the real codec go in as bytes, the session's bytes are decoded by
the real client-frame decoder, and a hand-driven clock times the pings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest

from conexion_protocol import (
    MAX_CLIENT_FRAME,
    UNSET,
    Ack,
    Bye,
    ClientFrame,
    DirectMessage,
    Dm,
    Error,
    Hello,
    History,
    HistoryReply,
    Join,
    Joined,
    Left,
    Message,
    Nick,
    Part,
    Ping,
    Pong,
    Renamed,
    RoomInfo,
    RoomList,
    Rooms,
    RoomSummary,
    Say,
    Shutdown,
    Struct,
    Topic,
    TopicInfo,
    Users,
    Welcome,
    Who,
    decode_client,
    encode,
)
from conexion_tui import CLIENT_ID
from conexion_tui.config import ClientConfig
from conexion_tui.session import (
    Acked,
    ClientSession,
    Failed,
    HelloRefused,
    Outgoing,
    Received,
    RttMeasured,
    SendStatus,
    ServerFrameTooLong,
    SessionEvent,
    SessionState,
    Welcomed,
)

TS = "2026-11-24T12:00:00.123Z"


class HandClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Wire:
    """One session and the server's side of its connection, played by hand."""

    def __init__(self, **config: Any) -> None:
        self.clock = HandClock()
        self.session = ClientSession(
            replace(ClientConfig(), **config), clock=self.clock, id_prefix="t0ken"
        )

    def server_sends(self, *frames: Struct | bytes) -> list[SessionEvent]:
        """Feed frames (or raw bytes) in one read; every event they make."""
        data = b"".join(f if isinstance(f, bytes) else encode(f) for f in frames)
        self.session.receive_data(data)
        return list(iter(self.session.next_event, None))

    def client_sent(self) -> list[ClientFrame]:
        """What the session hands out now, decoded as a server would."""
        data = self.session.data_to_send()
        assert data == b"" or data.endswith(b"\n")
        return [decode_client(line) for line in data.split(b"\n") if line]

    def connect(self, name: str | None = "ana") -> Hello:
        self.session.connection_made(name)
        sent = self.client_sent()
        assert len(sent) == 1
        assert isinstance(sent[0], Hello)
        return sent[0]

    def welcome(self, name: str = "ana", **fields: Any) -> Welcomed:
        events = self.server_sends(welcome(name, **fields))
        assert len(events) == 1
        assert isinstance(events[0], Welcomed)
        return events[0]

    def online(self, name: str = "ana") -> Welcomed:
        self.connect(name)
        return self.welcome(name)


def welcome(name: str = "ana", **fields: Any) -> Welcome:
    values: dict[str, Any] = {
        "proto": 1,
        "name": name,
        "server": "hand/1",
        "users": [name],
        "rooms": ["general"],
        "history": [],
    }
    values.update(fields)
    return Welcome(**values)


def message(seq: int, text: str = "hi", sender: str = "bob") -> Message:
    return Message(seq=seq, ts=TS, room="general", from_=sender, text=text)


def bare(frames: list[ClientFrame]) -> list[ClientFrame]:
    """Frames with the ids of requests left out (those of says and DMs kept):
    for tests about what was asked, not how it is labelled."""
    return [
        f
        if isinstance(f, Say | Dm) or not hasattr(f, "id")
        else msgspec.structs.replace(f, id=UNSET)
        for f in frames
    ]


def in_state(state: SessionState) -> Wire:
    """A session brought to `state` the ordinary way."""
    wire = Wire()
    if state is SessionState.CLOSED:
        wire.session.close()
    elif state is not SessionState.IDLE:
        wire.connect()
        if state is not SessionState.HELLO_SENT:
            wire.welcome()
            if state is SessionState.CLOSING:
                wire.session.close()
    wire.client_sent()
    assert wire.session.state is state
    return wire


# -- states --------------------------------------------------------------------


def test_a_new_session_is_idle_and_knows_nothing() -> None:
    session = Wire().session
    assert session.state is SessionState.IDLE
    assert not session.online
    assert session.name is None
    assert session.rtt is None
    assert session.pending == {}
    assert session.welcomes == 0
    assert session.data_to_send() == b""
    assert session.next_event() is None


def _welcome_in(wire: Wire) -> None:
    wire.server_sends(welcome())


def _hello_error_in(wire: Wire) -> None:
    wire.server_sends(Error(code="name_taken", message="taken"))


@pytest.mark.parametrize(
    ("start", "step", "end"),
    [
        (SessionState.IDLE, lambda w: w.session.connection_made("ana"), SessionState.HELLO_SENT),
        (SessionState.IDLE, lambda w: w.session.connection_lost(), SessionState.IDLE),
        (SessionState.IDLE, lambda w: w.session.close(), SessionState.CLOSED),
        (SessionState.IDLE, _welcome_in, SessionState.IDLE),
        (SessionState.HELLO_SENT, _welcome_in, SessionState.ONLINE),
        (SessionState.HELLO_SENT, _hello_error_in, SessionState.IDLE),
        (SessionState.HELLO_SENT, lambda w: w.session.connection_lost(), SessionState.IDLE),
        (SessionState.HELLO_SENT, lambda w: w.session.close(), SessionState.CLOSED),
        (SessionState.ONLINE, _welcome_in, SessionState.ONLINE),
        (SessionState.ONLINE, _hello_error_in, SessionState.ONLINE),
        (SessionState.ONLINE, lambda w: w.session.connection_lost(), SessionState.IDLE),
        (SessionState.ONLINE, lambda w: w.session.close(), SessionState.CLOSING),
        (SessionState.CLOSING, _welcome_in, SessionState.CLOSING),
        (SessionState.CLOSING, lambda w: w.session.close(), SessionState.CLOSING),
        (SessionState.CLOSING, lambda w: w.session.connection_lost(), SessionState.CLOSED),
        (SessionState.CLOSED, _welcome_in, SessionState.CLOSED),
        (SessionState.CLOSED, lambda w: w.session.close(), SessionState.CLOSED),
        (SessionState.CLOSED, lambda w: w.session.connection_lost(), SessionState.CLOSED),
    ],
)
def test_every_state_transition(start: SessionState, step: Any, end: SessionState) -> None:
    wire = in_state(start)
    step(wire)
    assert wire.session.state is end
    assert wire.session.online is (end is SessionState.ONLINE)


@pytest.mark.parametrize(
    "state",
    [SessionState.HELLO_SENT, SessionState.ONLINE, SessionState.CLOSING, SessionState.CLOSED],
)
def test_a_connection_can_only_be_made_when_idle(state: SessionState) -> None:
    wire = in_state(state)
    with pytest.raises(RuntimeError):
        wire.session.connection_made("ana")
    assert wire.session.state is state


def test_the_first_connection_needs_a_name() -> None:
    wire = Wire()
    with pytest.raises(ValueError, match="name"):
        wire.session.connection_made()
    assert wire.session.state is SessionState.IDLE


# -- hello ---------------------------------------------------------------------


def test_hello_carries_name_protocol_client_and_no_password_by_default() -> None:
    hello = Wire().connect("José")
    assert (hello.name, hello.proto, hello.client) == ("José", 1, CLIENT_ID)
    assert hello.password is UNSET


def test_hello_carries_the_password_when_there_is_one() -> None:
    wire = Wire()
    wire.session.password = "tr0ub4dor & 3"
    assert wire.connect().password == "tr0ub4dor & 3"


def test_welcome_makes_the_session_online_under_the_servers_spelling() -> None:
    wire = Wire()
    wire.connect("Jose\u0301")  # decomposed; the server keeps the NFC form
    welcomed = wire.welcome("José", users=["José", "bob"], motd="hola")
    assert welcomed.reconnect is False
    assert (welcomed.resent, welcomed.queued) == (0, 0)
    assert welcomed.welcome.users == ["José", "bob"]
    assert welcomed.welcome.motd == "hola"
    assert wire.session.name == "José"
    assert wire.session.welcomes == 1
    assert wire.client_sent() == []


def test_an_error_answering_hello_is_a_refusal_and_another_hello_may_follow() -> None:
    wire = Wire()
    wire.connect("bob")
    events = wire.server_sends(Error(code="name_taken", message="The name bob is taken."))
    assert events == [HelloRefused("name_taken", "The name bob is taken.")]
    assert wire.session.state is SessionState.IDLE
    assert wire.session.name is None
    wire.session.connection_lost()  # the driver drops that connection
    assert wire.connect("ana").name == "ana"
    assert wire.welcome().reconnect is False  # refusals do not count as welcomes


def test_a_ping_during_hello_is_answered_and_changes_nothing_else() -> None:
    wire = Wire()
    wire.connect()
    assert wire.server_sends(Ping(t={"any": ["json"]})) == []
    assert wire.client_sent() == [Pong(t={"any": ["json"]})]
    assert wire.session.state is SessionState.HELLO_SENT


def test_frames_before_the_welcome_mean_nothing() -> None:
    wire = Wire()
    wire.connect()
    ignored = [
        message(1),
        Ack(id="t0ken-1", seq=1, ts=TS),
        Pong(t=1),
        Joined(name="bob", ts=TS),
        Shutdown(message="bye"),
    ]
    assert wire.server_sends(*ignored) == []
    assert wire.session.state is SessionState.HELLO_SENT
    assert wire.client_sent() == []


def test_frames_after_the_welcome_in_the_same_read_come_after_it() -> None:
    """`next_event()` stops at the welcome, so the driver can make the link
    current before anything said on it is reported."""
    wire = Wire()
    wire.connect()
    data = encode(Ping(t=7)) + encode(welcome()) + encode(message(5)) + encode(Ping(t=8))
    wire.session.receive_data(data)
    first = wire.session.next_event()
    assert isinstance(first, Welcomed)
    assert wire.client_sent() == [Pong(t=7)]  # the line after the welcome is not read yet
    assert wire.session.next_event() == Received(message(5))
    assert wire.session.next_event() is None
    assert wire.client_sent() == [Pong(t=8)]


def test_a_second_welcome_is_ignored() -> None:
    wire = in_state(SessionState.ONLINE)
    assert wire.server_sends(welcome("someone else")) == []
    assert wire.session.name == "ana"
    assert wire.session.welcomes == 1


# -- framing -------------------------------------------------------------------


def test_lines_split_across_reads_and_crlf_endings() -> None:
    wire = in_state(SessionState.ONLINE)
    line = encode(message(3, "partial"))
    wire.session.receive_data(line[:10])
    assert wire.session.next_event() is None
    wire.session.receive_data(line[10:-1] + b"\r\n")
    assert wire.session.next_event() == Received(message(3, "partial"))


def test_unknown_types_bad_json_and_unknown_fields_are_ignored() -> None:
    wire = in_state(SessionState.ONLINE)
    events = wire.server_sends(
        b'{"type":"fireworks","colour":"red"}\n',
        b"this is not json\n",
        b'{"type":"message","seq":"not a number"}\n',
        b"[1,2,3]\n",
        b'{"type":"joined","name":"bob","ts":"' + TS.encode() + b'","mood":"cheerful"}\n',
    )
    assert events == [Received(Joined(name="bob", ts=TS))]
    assert wire.session.state is SessionState.ONLINE


def test_a_frame_over_the_limit_ends_the_connection_after_what_came_before() -> None:
    wire = Wire(max_frame=1024)
    wire.online()
    events = wire.server_sends(message(1), b'{"type":"message","text":"' + b"x" * 2048)
    assert events == [Received(message(1)), ServerFrameTooLong(1024)]
    # Framing is lost: nothing more is read from this connection...
    assert wire.server_sends(b"\n", message(2)) == []
    # ...and a new connection starts clean.
    wire.session.connection_lost()
    wire.connect()
    assert isinstance(wire.welcome(), Welcomed)
    assert wire.server_sends(message(3)) == [Received(message(3))]


def test_a_frame_over_the_limit_during_hello() -> None:
    wire = Wire(max_frame=1024)
    wire.connect()
    events = wire.server_sends(b'{"type":"welcome","motd":"' + b"x" * 2048 + b'"}\n')
    assert events == [ServerFrameTooLong(1024)]
    assert wire.session.state is SessionState.HELLO_SENT  # the driver drops it


def test_a_frame_of_exactly_the_limit_is_accepted() -> None:
    wire = Wire(max_frame=1024)
    wire.online()
    base = len(encode(message(1, "")))
    frame = message(1, "x" * (1024 - base))
    assert len(encode(frame)) == 1024  # newline included, as the limit counts it
    assert wire.server_sends(frame) == [Received(frame)]
    too_long = message(2, "x" * (1025 - base))
    assert wire.server_sends(too_long) == [ServerFrameTooLong(1024)]


def test_bytes_are_ignored_with_no_connection() -> None:
    wire = Wire()
    assert wire.server_sends(welcome(), message(1)) == []
    assert wire.session.state is SessionState.IDLE


# -- sends, acks and errors ------------------------------------------------------


def test_ids_are_the_prefix_and_a_counter() -> None:
    session = Wire().session
    assert [session.new_id() for _ in range(3)] == ["t0ken-1", "t0ken-2", "t0ken-3"]


def test_random_prefixes_differ_between_sessions_and_fit_the_id_limit() -> None:
    ids = [ClientSession().new_id() for _ in range(50)]
    prefixes = {i.rsplit("-", 1)[0] for i in ids}
    assert len(prefixes) == 50
    assert all(len(p) == 8 for p in prefixes)  # 4 random bytes in hex
    longer = ClientSession(ClientConfig(id_token_bytes=16)).new_id()
    assert len(longer.rsplit("-", 1)[0]) == 32
    assert len(longer) <= 64


def test_say_and_dm_go_out_with_their_ids_when_online() -> None:
    wire = in_state(SessionState.ONLINE)
    hola = wire.session.say("hola")
    waves = wire.session.say("waves", action=True)
    psst = wire.session.dm("bob", "psst")
    assert [o.status for o in (hola, waves, psst)] == [SendStatus.PENDING] * 3
    assert list(wire.session.pending) == [hola.id, waves.id, psst.id]
    assert wire.client_sent() == [
        Say(id=hola.id, text="hola"),
        Say(id=waves.id, text="waves", action=True),
        Dm(id=psst.id, to="bob", text="psst"),
    ]
    assert (hola.written, waves.written, psst.written) == (1, 1, 1)
    assert wire.client_sent() == []  # handed out once


def test_an_ack_marks_its_send_sent_with_the_servers_seq_and_time() -> None:
    wire = in_state(SessionState.ONLINE)
    first = wire.session.say("one")
    second = wire.session.say("two")
    wire.client_sent()
    events = wire.server_sends(Ack(id=second.id, seq=8, ts=TS), Ack(id=first.id, seq=7, ts=TS))
    assert events == [Acked(second), Acked(first)]
    assert events[0].out is second  # the very object the caller holds
    assert (first.status, first.seq, first.ts) == (SendStatus.SENT, 7, TS)
    assert (second.status, second.seq) == (SendStatus.SENT, 8)
    assert wire.session.pending == {}


def test_duplicate_and_unknown_acks_are_ignored() -> None:
    wire = in_state(SessionState.ONLINE)
    out = wire.session.say("once")
    wire.client_sent()
    assert wire.server_sends(Ack(id=out.id, seq=7, ts=TS)) == [Acked(out)]
    later = "2026-11-24T12:00:09.000Z"
    assert wire.server_sends(Ack(id=out.id, seq=99, ts=later)) == []
    assert (out.seq, out.ts) == (7, TS)  # the first answer stands
    assert wire.server_sends(Ack(id="someone-else-1", seq=9, ts=TS)) == []


def test_an_error_with_our_id_fails_that_send_only() -> None:
    wire = in_state(SessionState.ONLINE)
    ok = wire.session.say("fine")
    limited = wire.session.say("too fast")
    wire.client_sent()
    refusal = Error(code="rate_limited", message="too many messages", id=limited.id)
    assert wire.server_sends(refusal) == [Failed(limited)]
    assert limited.status is SendStatus.FAILED
    assert (limited.error_code, limited.error_message) == ("rate_limited", "too many messages")
    assert list(wire.session.pending) == [ok.id]
    assert ok.status is SendStatus.PENDING


def test_errors_not_about_a_pending_send_are_received() -> None:
    wire = in_state(SessionState.ONLINE)
    out = wire.session.say("acked first")
    wire.client_sent()
    wire.server_sends(Ack(id=out.id, seq=1, ts=TS))
    late = Error(code="rate_limited", message="late", id=out.id)
    no_id = Error(code="bad_name", message="not a name")
    stranger = Error(code="bad_text", message="?", id="nobody-1")
    assert wire.server_sends(late, no_id, stranger) == [
        Received(late),
        Received(no_id),
        Received(stranger),
    ]
    assert out.status is SendStatus.SENT


def test_a_send_answered_before_it_was_written_is_not_written() -> None:
    wire = in_state(SessionState.ONLINE)
    out = wire.session.say("quick")
    assert wire.server_sends(Ack(id=out.id, seq=3, ts=TS)) == [Acked(out)]
    assert wire.client_sent() == []
    assert out.written == 0


def test_a_frame_over_the_clients_limit_is_refused_before_it_is_queued() -> None:
    wire = in_state(SessionState.ONLINE)
    base = len(encode(Say(id="t0ken-1", text="")))
    fits = wire.session.say("x" * (MAX_CLIENT_FRAME - base))
    assert fits.status is SendStatus.PENDING
    assert len(wire.session.data_to_send()) == MAX_CLIENT_FRAME
    base = len(encode(Say(id="t0ken-2", text="")))
    over = wire.session.say("x" * (MAX_CLIENT_FRAME - base + 1))
    assert over.status is SendStatus.FAILED
    assert over.error_code == "too_long"
    assert str(MAX_CLIENT_FRAME) in (over.error_message or "")
    assert over.id not in wire.session.pending
    assert wire.client_sent() == []
    dm = wire.session.dm("bob", "é" * 40_000)  # the limit is in bytes, not characters
    assert dm.status is SendStatus.FAILED


@pytest.mark.parametrize("state", [SessionState.IDLE, SessionState.HELLO_SENT])
def test_sends_before_the_welcome_wait_and_count_as_queued(state: SessionState) -> None:
    wire = in_state(state)
    early = [wire.session.say("early 1"), wire.session.dm("bob", "early 2")]
    assert wire.client_sent() == []
    if state is SessionState.IDLE:
        wire.connect()
    welcomed = wire.welcome()
    assert (welcomed.resent, welcomed.queued) == (0, 2)
    assert [frame.id for frame in wire.client_sent()] == [o.id for o in early]  # type: ignore[union-attr]


# -- reconnects ------------------------------------------------------------------


def test_a_reconnect_resends_unacknowledged_sends_in_order_with_their_ids() -> None:
    wire = in_state(SessionState.ONLINE)
    acked = wire.session.say("acked")
    lost = wire.session.say("ack lost")
    failed = wire.session.say("refused")
    wire.client_sent()
    wire.server_sends(
        Ack(id=acked.id, seq=1, ts=TS), Error(code="bad_text", message="no", id=failed.id)
    )
    unwritten = wire.session.say("typed just before the loss")  # queued, never written
    wire.session.connection_lost()
    offline = wire.session.dm("bob", "typed offline")
    assert wire.session.state is SessionState.IDLE
    assert wire.client_sent() == []

    assert wire.connect(None).name == "ana"  # a reconnect says hello under our name
    welcomed = wire.welcome()
    assert welcomed.reconnect is True
    assert (welcomed.resent, welcomed.queued) == (1, 2)
    assert wire.client_sent() == [
        Say(id=lost.id, text="ack lost"),
        Say(id=unwritten.id, text="typed just before the loss"),
        Dm(id=offline.id, to="bob", text="typed offline"),
    ]
    assert (lost.written, unwritten.written, offline.written, acked.written) == (2, 1, 1, 1)
    # The server recognises the repeated id and acks it with the original seq.
    assert wire.server_sends(Ack(id=lost.id, seq=2, ts=TS)) == [Acked(lost)]


def test_a_send_resent_twice_and_acked_twice_is_reported_once() -> None:
    wire = in_state(SessionState.ONLINE)
    out = wire.session.say("stubborn")
    wire.client_sent()
    for _ in range(2):
        wire.session.connection_lost()
        wire.connect(None)
        assert wire.welcome().resent == 1
        wire.client_sent()
    assert out.written == 3
    events = wire.server_sends(Ack(id=out.id, seq=4, ts=TS), Ack(id=out.id, seq=4, ts=TS))
    assert events == [Acked(out)]


def test_what_the_old_connection_had_not_written_is_dropped() -> None:
    """Pongs, pings and requests queued for a dead connection mean nothing on
    the next one; only sends wait for it."""
    wire = in_state(SessionState.ONLINE)
    wire.server_sends(Ping(t=1))
    assert wire.session.who()
    assert wire.session.nick("anita")
    assert wire.session.ping()
    out = wire.session.say("kept")
    wire.session.connection_lost()
    wire.connect(None)
    wire.welcome()
    assert wire.client_sent() == [Say(id=out.id, text="kept")]


def test_lines_read_but_not_handled_are_dropped_with_the_connection() -> None:
    wire = in_state(SessionState.ONLINE)
    wire.session.receive_data(encode(message(1)) + b'{"type":"mess')
    wire.session.connection_lost()
    wire.connect(None)
    assert isinstance(wire.welcome(), Welcomed)  # no half line glued in front
    assert wire.session.next_event() is None


# -- names -------------------------------------------------------------------------


def test_renaming_ourselves_is_received_and_reconnects_use_the_new_name() -> None:
    wire = in_state(SessionState.ONLINE)
    assert wire.session.nick("anita")
    assert wire.client_sent() == [Nick(name="anita")]
    renamed = Renamed(old="ANA", new="anita", ts=TS)  # names match case-insensitively
    assert wire.server_sends(renamed) == [Received(renamed)]
    assert wire.session.name == "anita"
    wire.session.connection_lost()
    assert wire.connect(None).name == "anita"


def test_renames_of_others_leave_our_name_alone() -> None:
    wire = in_state(SessionState.ONLINE)
    renamed = Renamed(old="bob", new="ana2", ts=TS)
    assert wire.server_sends(renamed) == [Received(renamed)]
    assert wire.session.name == "ana"


def test_the_welcome_sets_the_name_even_if_it_differs_from_the_hello() -> None:
    wire = in_state(SessionState.ONLINE)
    wire.session.connection_lost()
    wire.connect(None)
    wire.welcome("Ana")
    assert wire.session.name == "Ana"


# -- requests ------------------------------------------------------------------------


def test_nick_who_and_history_go_out_only_when_online() -> None:
    for state in (SessionState.IDLE, SessionState.HELLO_SENT, SessionState.CLOSING):
        wire = in_state(state)
        assert not wire.session.nick("anita")
        assert not wire.session.who()
        assert not wire.session.history(None, 50)
        assert wire.client_sent() == []
    wire = in_state(SessionState.ONLINE)
    assert wire.session.nick("anita")
    assert wire.session.who()
    assert wire.session.history(None, 100)
    assert wire.session.history(41, 20)
    sent = bare(wire.client_sent())
    assert sent == [Nick(name="anita"), Who(), History(limit=100), History(before=41, limit=20)]
    assert sent[2].before is UNSET  # type: ignore[union-attr]


def test_every_other_server_frame_is_received_as_it_is() -> None:
    wire = in_state(SessionState.ONLINE)
    frames: list[Struct] = [
        message(1),
        DirectMessage(seq=2, ts=TS, from_="bob", to="ana", text="psst"),
        Joined(name="carol", ts=TS),
        Left(name="carol", ts=TS, reason="quit"),
        Users(room="general", users=["ana", "bob"]),
        HistoryReply(room="general", messages=[message(0)]),
        Shutdown(message="the server is shutting down"),
    ]
    assert wire.server_sends(*frames) == [Received(f) for f in frames]  # type: ignore[arg-type]


# -- pings and round trips -------------------------------------------------------------


def test_server_pings_are_answered_with_the_same_t() -> None:
    wire = in_state(SessionState.ONLINE)
    assert wire.server_sends(Ping(t="x"), Ping(), Ping(t=[1, 2])) == []
    assert wire.client_sent() == [Pong(t="x"), Pong(), Pong(t=[1, 2])]


def test_our_ping_measures_the_round_trip_with_the_clock() -> None:
    wire = in_state(SessionState.ONLINE)
    assert wire.session.ping()
    assert wire.client_sent() == [Ping(t=1)]
    wire.clock.now += 0.25
    assert wire.server_sends(Pong(t=1)) == [RttMeasured(0.25)]
    assert wire.session.rtt == 0.25
    assert wire.session.ping()
    assert wire.client_sent() == [Ping(t=2)]
    wire.clock.now += 0.5
    assert wire.server_sends(Pong(t=2)) == [RttMeasured(0.5)]
    assert wire.session.rtt == 0.5


def test_pongs_we_did_not_ask_for_are_ignored() -> None:
    wire = in_state(SessionState.ONLINE)
    wire.session.ping()
    wire.clock.now += 1
    ignored = [Pong(t=2), Pong(t="1"), Pong(t=None), Pong(), Pong(t=1.5)]
    assert wire.server_sends(*ignored) == []
    assert wire.server_sends(Pong(t=1)) == [RttMeasured(1.0)]
    assert wire.server_sends(Pong(t=1)) == []  # answered already
    assert wire.session.rtt == 1.0


def test_only_the_last_ping_window_pings_are_remembered() -> None:
    wire = Wire(ping_window=3)
    wire.online()
    for _ in range(5):
        assert wire.session.ping()
        wire.clock.now += 1
    assert [f.t for f in wire.client_sent()] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    # Pings 1 and 2 fell out of the window of 3 when 4 and 5 were sent.
    assert wire.server_sends(Pong(t=1), Pong(t=2)) == []
    assert wire.server_sends(Pong(t=3), Pong(t=5)) == [RttMeasured(3.0), RttMeasured(1.0)]
    assert wire.server_sends(Pong(t=4)) == [RttMeasured(2.0)]


def test_the_default_window_is_ten_pings() -> None:
    wire = in_state(SessionState.ONLINE)
    for _ in range(11):
        wire.session.ping()
    assert wire.server_sends(Pong(t=1)) == []
    assert [type(e) for e in wire.server_sends(Pong(t=2), Pong(t=11))] == [RttMeasured] * 2


def test_pings_are_forgotten_when_a_new_connection_is_welcomed() -> None:
    wire = in_state(SessionState.ONLINE)
    wire.session.ping()
    wire.session.connection_lost()
    wire.connect(None)
    wire.welcome()
    assert wire.server_sends(Pong(t=1)) == []
    assert wire.session.ping()
    assert wire.client_sent() == [Ping(t=2)]  # ids keep counting across connections


def test_pings_are_refused_unless_online() -> None:
    for state in (SessionState.IDLE, SessionState.HELLO_SENT, SessionState.CLOSING):
        wire = in_state(state)
        assert not wire.session.ping()
        assert wire.client_sent() == []


# -- closing ---------------------------------------------------------------------------------


def test_close_when_online_leaves_bye_as_the_only_frame() -> None:
    wire = in_state(SessionState.ONLINE)
    out = wire.session.say("queued, not written")
    wire.session.who()
    wire.session.close("see you")
    assert wire.session.state is SessionState.CLOSING
    assert wire.client_sent() == [Bye(reason="see you")]
    assert out.id in wire.session.pending  # never written, still ours
    assert out.written == 0


def test_bye_without_a_reason_has_no_reason_field() -> None:
    wire = in_state(SessionState.ONLINE)
    wire.session.close()
    assert wire.session.data_to_send() == b'{"type":"bye"}\n'


def test_while_closing_nothing_goes_out_but_answers_still_come_in() -> None:
    wire = in_state(SessionState.ONLINE)
    out = wire.session.say("in flight")
    wire.client_sent()
    wire.session.close()
    wire.client_sent()
    later = wire.session.say("after bye")
    assert later.status is SendStatus.PENDING
    assert wire.server_sends(Ping(t=1)) == []
    assert wire.client_sent() == []  # not even a pong after bye
    events = wire.server_sends(Ack(id=out.id, seq=5, ts=TS), message(6))
    assert events == [Acked(out), Received(message(6))]
    wire.session.connection_lost()
    assert wire.session.state is SessionState.CLOSED
    assert wire.session.data_to_send() == b""


@pytest.mark.parametrize("state", [SessionState.IDLE, SessionState.HELLO_SENT])
def test_close_without_a_welcome_has_nobody_to_say_bye_to(state: SessionState) -> None:
    wire = in_state(state)
    wire.session.say("never sent")
    wire.session.close("bye")
    assert wire.session.state is SessionState.CLOSED
    assert wire.client_sent() == []
    assert wire.server_sends(welcome()) == []  # a welcome that comes anyway is ignored
    assert wire.session.state is SessionState.CLOSED


def test_outgoing_frames_are_say_or_dm() -> None:
    assert Outgoing(id="a-1", text="x").frame() == Say(id="a-1", text="x")
    assert Outgoing(id="a-2", text="x", action=True).frame() == Say(id="a-2", text="x", action=True)
    assert Outgoing(id="a-3", text="x", to="bob").frame() == Dm(id="a-3", to="bob", text="x")


# -- rooms -----------------------------------------------------------------------------

ROOMS = ["rooms"]  # the welcome's `features` of a server with rooms


def room_info(room: str, *users: str, history: list[Message] | None = None) -> RoomInfo:
    names = list(users) or ["ana"]
    return RoomInfo(room=room, topic="", users=names, user_count=len(names), history=history or [])


def test_outgoing_says_carry_their_room() -> None:
    assert Outgoing(id="a-1", text="x", room="Lab").frame() == Say(id="a-1", text="x", room="Lab")
    # The room does not matter for a direct message.
    assert Outgoing(id="a-2", text="x", to="bob", room="Lab").frame() == Dm(
        id="a-2", to="bob", text="x"
    )


def test_room_requests_go_out_only_when_online() -> None:
    for state in (SessionState.IDLE, SessionState.HELLO_SENT, SessionState.CLOSING):
        wire = in_state(state)
        assert not wire.session.join("lab")
        assert not wire.session.part("lab")
        assert not wire.session.list_rooms()
        assert not wire.session.topic("lab")
        assert not wire.session.who("lab", watch=True)
        assert not wire.session.history(None, 50, with_="bob")
        assert wire.client_sent() == []
    wire = in_state(SessionState.ONLINE)
    say = wire.session.say("hola", room="Lab")
    assert wire.session.join("Lab")
    assert wire.session.part("lab")
    assert wire.session.list_rooms()
    assert wire.session.topic("lab")
    assert wire.session.topic("lab", "kits on Friday")
    assert wire.session.topic("lab", "")
    assert wire.session.who("lab", watch=True)
    assert wire.session.history(None, 50, room="lab")
    assert wire.session.history(7, 20, with_="bob")
    sent = bare(wire.client_sent())
    assert sent == [
        Say(id=say.id, text="hola", room="Lab"),
        Join(room="Lab"),
        Part(room="lab"),
        Rooms(),
        Topic(room="lab"),
        Topic(room="lab", topic="kits on Friday"),
        Topic(room="lab", topic=""),
        Who(room="lab", watch=True),
        History(room="lab", limit=50),
        History(before=7, limit=20, with_="bob"),
    ]
    assert sent[4].topic is UNSET  # type: ignore[union-attr]  # asking, not clearing
    assert sent[9].room is UNSET  # type: ignore[union-attr]  # `with` alone, or it is bad_frame


def test_the_rooms_we_are_in_follow_welcome_room_answers_and_our_own_leaves() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome(rooms=["general"], features=ROOMS)
    assert wire.session.rooms == {"general": "general"}
    assert wire.session.features == frozenset(ROOMS)
    assert wire.session.join("lab")
    # The room counts once the server answers, under its spelling.
    assert wire.session.rooms == {"general": "general"}
    info = room_info("Lab")
    assert wire.server_sends(info) == [Received(info)]
    assert wire.session.rooms == {"general": "general", "lab": "Lab"}
    # Others leaving changes nothing; our own `left` (reason part) does.
    others = Left(name="bob", ts=TS, reason="part", room="Lab")
    assert wire.server_sends(others) == [Received(others)]
    assert wire.session.rooms == {"general": "general", "lab": "Lab"}
    mine = Left(name="ANA", ts=TS, reason="part", room="LAB")
    assert wire.server_sends(mine) == [Received(mine)]
    assert wire.session.rooms == {"general": "general"}
    general = Left(name="ana", ts=TS, reason="part")  # no room: general
    wire.server_sends(general)
    assert wire.session.rooms == {}


def test_a_reconnect_joins_the_rooms_again_before_resending() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome(features=ROOMS)
    wire.session.join("Lab")
    wire.session.join("dev")
    wire.client_sent()
    wire.server_sends(room_info("Lab"), room_info("dev"))
    out = wire.session.say("in the lab", room="Lab")
    wire.client_sent()
    wire.session.connection_lost()
    wire.connect(None)
    welcomed = wire.welcome(features=ROOMS)
    assert welcomed.resent == 1
    # Joins first: the resent say must find us in the room.
    assert bare(wire.client_sent()) == [
        Join(room="Lab"),
        Join(room="dev"),
        Say(id=out.id, text="in the lab", room="Lab"),
    ]
    # Until the answers come the rooms still count, so a second loss loses none.
    assert list(wire.session.rooms.values()) == ["general", "Lab", "dev"]
    wire.session.connection_lost()
    wire.connect(None)
    wire.welcome(features=ROOMS)
    assert [f for f in bare(wire.client_sent()) if isinstance(f, Join)] == [
        Join(room="Lab"),
        Join(room="dev"),
    ]


def test_a_reconnect_parts_general_again_if_we_had_left_it() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome(features=ROOMS)
    wire.session.join("lab")
    wire.client_sent()
    wire.server_sends(room_info("lab"), Left(name="ana", ts=TS, reason="part", room="general"))
    wire.session.connection_lost()
    wire.connect(None)
    wire.welcome(rooms=["general"], features=ROOMS)
    assert bare(wire.client_sent()) == [Join(room="lab"), Part(room="general")]
    assert wire.session.rooms == {"lab": "lab"}


def test_the_first_welcome_restores_remembered_rooms() -> None:
    wire = Wire()
    wire.session.restore = ["lab", "General", "LAB", "not a room!"]
    wire.connect()
    wire.welcome(rooms=["general"], features=ROOMS)
    # Each room once (by its key), bad names skipped, the welcome's spelling kept.
    assert bare(wire.client_sent()) == [Join(room="lab")]
    assert wire.session.rooms == {"lab": "lab", "general": "general"}


def test_remembering_no_room_at_all_parts_general() -> None:
    wire = Wire()
    wire.session.restore = []
    wire.connect()
    wire.welcome(features=ROOMS)
    assert bare(wire.client_sent()) == [Part(room="general")]


def test_no_restore_keeps_the_welcomes_rooms_and_sends_nothing() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome(rooms=["general", "announcements"], features=ROOMS)
    assert wire.client_sent() == []
    assert list(wire.session.rooms.values()) == ["general", "announcements"]


def test_a_server_without_rooms_is_never_sent_joins() -> None:
    wire = Wire()
    wire.session.restore = ["lab"]
    wire.connect()
    wire.welcome()  # no features: an older server
    assert wire.client_sent() == []
    assert wire.session.rooms == {"general": "general"}
    wire.session.connection_lost()
    wire.connect(None)
    wire.welcome()
    assert wire.client_sent() == []


def test_room_frames_are_received_as_they_are() -> None:
    wire = in_state(SessionState.ONLINE)
    frames: list[Struct] = [
        room_info("lab", "ana", "bob", history=[message(3)]),
        RoomList(rooms=[RoomSummary(room="lab", topic="kits", members=2)]),
        TopicInfo(room="lab", topic="kits", by="bob", ts=TS),
        Joined(name="carol", ts=TS, room="lab"),
        Users(room="lab", users=["ana", "bob", "carol"]),
        HistoryReply(with_="bob", messages=[]),
    ]
    assert wire.server_sends(*frames) == [Received(f) for f in frames]  # type: ignore[arg-type]
