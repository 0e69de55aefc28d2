"""The per-peer session with no socket and no event loop: bytes and clock
readings in, and what the driver is asked to do recorded by `RecordingIO`.

Answers that a cluster would give later are coroutines here too: the test
finishes them by hand (`io.finish()`), so every ordering rule of a peer's
requests is checked step by step.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from conexion_protocol import Ack, LeftReason
from conexion_server import accounts, refusals
from conexion_server.backplane import LocalBackplane, Logins
from conexion_server.config import ServerConfig
from conexion_server.guard import FailureBackoff
from conexion_server.hub import Delivery, Hub, HubConfig, Member
from conexion_server.session import InputEnd, PeerState, Session, Wait


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingIO:
    """A driver that does nothing but write down what it was asked."""

    sent: list[bytes] = field(default_factory=list)
    paused: bool = False
    closed: tuple[LeftReason, bytes] | None = None
    aborted: bool = False
    timer: float | None = None
    holds: list[float] = field(default_factory=list)
    turns: int = 0  # next-turn calls asked for
    waiting: list[tuple[Awaitable[Any], Callable[[Any], None]]] = field(default_factory=list)
    session: Session | None = None

    def send(self, data: bytes, *, urgent: bool = False) -> None:
        self.sent.append(data)

    def deliver(self, data: bytes) -> None:
        self.sent.append(data)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self, reason: LeftReason, final: bytes) -> None:
        self.sent.append(final)
        self.closed = (reason, final)
        assert self.session is not None
        self.session.ended(reason)

    def abort(self) -> None:
        self.aborted = True

    def set_timer(self, when: float | None) -> None:
        self.timer = when

    def hold(self, delay: float) -> None:
        self.holds.append(delay)

    def next_turn(self) -> None:
        self.turns += 1

    def wait_for(self, answer: Awaitable[Any], done: Callable[[Any], None]) -> None:
        self.waiting.append((answer, done))

    # -- helpers for the tests ----------------------------------------------

    def finish(self) -> None:
        """Complete the oldest awaited answer (coroutines that never suspend)."""
        answer, done = self.waiting.pop(0)
        assert isinstance(answer, Coroutine)
        try:
            answer.send(None)
        except StopIteration as stop:
            done(stop.value)
        except Exception as exc:
            done(exc)
        else:
            raise AssertionError("the answer suspended")

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(line) for data in self.sent for line in data.splitlines() if line]

    def text(self) -> str:
        return b"".join(self.sent).decode()


def dispatch(deliveries: list[Delivery]) -> None:
    """The server's fan-out, without its batching: each frame to each member."""
    for delivery in deliveries:
        for member in delivery.to:
            member.peer.deliver(delivery.out)


class LaterBackplane(LocalBackplane):
    """A single server whose answers come later, as a cluster's do."""

    def say(self, member: Member, text: str, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._later(super().say, member, text, **kwargs)

    def dm(self, member: Member, to: str, text: str, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._later(super().dm, member, to, text, **kwargs)

    @staticmethod
    async def _later(ask: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return ask(*args, **kwargs)  # decided (or refused) only once awaited


@dataclass
class World:
    hub: Hub
    clock: Clock
    config: ServerConfig
    backplane: LocalBackplane
    backoff: FailureBackoff

    def connect(self, *, tls: bool = False) -> tuple[Session, RecordingIO]:
        io = RecordingIO()
        session = Session(
            io, self.backplane, self.config, self.backoff, clock=self.clock, peer="test:1"
        )
        io.session = session
        session.connected(tls=tls)
        return session, io

    def joined(self, name: str) -> tuple[Session, RecordingIO]:
        session, io = self.connect()
        session.data_received(b'{"type":"hello","name":"%s","proto":1}\n' % name.encode())
        assert session.state is PeerState.JOINED
        io.sent.clear()
        return session, io


def world(*, later: bool = False, **options: Any) -> World:
    hub_fields = set(HubConfig.__dataclass_fields__)
    hub_opts = {k: v for k, v in options.items() if k in hub_fields}
    hub_opts.setdefault("quiet_arrival", 0.0)
    server_opts = {k: v for k, v in options.items() if k not in hub_fields}
    server_opts.setdefault("greet_after", 0.0)
    config = ServerConfig(hub=HubConfig(**hub_opts), **server_opts)
    clock = Clock()
    hub = Hub(config.hub, clock=clock, wallclock=lambda: 1_800_000_000.0)
    kind = LaterBackplane if later else LocalBackplane
    backplane = kind(hub, dispatch, Logins(hub, _verify, _make_hash), stopping=lambda: False)
    backoff = FailureBackoff(
        config.password_delays, config.password_forget, config.password_max_addresses, clock=clock
    )
    return World(hub, clock, config, backplane, backoff)


async def _verify(hashed: str, password: str) -> bool:
    return accounts.verify(hashed, password)  # never suspends: finish() completes it


async def _make_hash(password: str) -> str:
    return accounts.hash_password(password)


def say(text: str, id: str) -> bytes:
    return json.dumps({"type": "say", "id": id, "text": text}).encode() + b"\n"


# -- modes and joining -----------------------------------------------------------


def test_a_first_brace_means_json_and_hello_joins() -> None:
    w = world()
    session, io = w.connect()
    assert session.state is PeerState.NAMING
    session.data_received(b'{"type":"hello","name":"ana","proto":1}\n')
    assert session.state is PeerState.JOINED
    assert session.handler is not None
    assert session.handler.json
    assert [f["type"] for f in io.frames()] == ["welcome"]
    assert w.hub.names() == ["ana"]


def test_anything_else_is_a_text_user_whose_first_line_is_the_name() -> None:
    w = world()
    session, io = w.connect()
    session.data_received(b"bob\r\n")
    assert session.handler is not None
    assert not session.handler.json
    assert session.state is PeerState.JOINED
    assert io.text().startswith("* Welcome, bob.")


def test_a_frame_split_across_reads_is_served_once_whole() -> None:
    w = world()
    session, io = w.connect()
    for piece in (b'{"type":"hel', b'lo","name":"a', b'na","proto":1}', b"\n"):
        session.data_received(piece)
    assert [f["type"] for f in io.frames()] == ["welcome"]


def test_lines_before_hello_are_refused_but_served_in_order() -> None:
    w = world()
    session, io = w.connect()
    session.data_received(b'{"type":"who"}\n{"type":"ping","t":7}\n')
    assert [(f["type"], f.get("code"), f.get("t")) for f in io.frames()] == [
        ("error", "not_joined", None),
        ("pong", None, 7),
    ]


def test_twenty_bad_frames_in_a_row_close_the_peer() -> None:
    w = world()
    session, io = w.connect()
    session.data_received(b"{nope\n" * 19)
    assert io.closed is None
    session.data_received(b"{nope\n{nope\n")
    assert io.closed is not None
    assert io.closed[0] is LeftReason.ERROR
    assert session.state is PeerState.CLOSED
    # Reading stopped at the twentieth: the twenty-first got no answer.
    assert len(io.frames()) == 20


def test_leaving_announces_the_reason_known_at_the_time() -> None:
    w = world()
    ana, _ = w.joined("ana")
    bob, bob_io = w.joined("bob")
    ana.data_received(b'{"type":"bye"}\n')
    assert [(f["type"], f.get("reason")) for f in bob_io.frames()] == [("left", "quit")]
    bob.lost()
    assert w.hub.names() == []


# -- too long, EOF, and answers that come later -----------------------------------


def test_a_line_over_the_limit_closes_after_the_lines_before_it() -> None:
    w = world(max_frame=64)
    session, io = w.joined("ana")
    session.data_received(say("first", "1") + b"x" * 100)
    assert [f["type"] for f in io.frames()] == ["ack", "error"]
    assert io.frames()[-1]["code"] == "too_long"
    assert io.closed is not None
    assert io.closed[0] is LeftReason.ERROR


def test_an_answer_that_comes_later_holds_the_next_lines_in_order() -> None:
    w = world(later=True)
    session, io = w.joined("ana")
    session.data_received(say("one", "1") + say("two", "2"))
    assert session.wait is Wait.ANSWER
    assert io.paused
    assert io.frames() == []  # nothing answered yet, and "two" not even asked
    io.finish()
    assert [f["id"] for f in io.frames()] == ["1"]
    assert len(io.waiting) == 1  # "two" went out to the backplane next
    io.finish()
    assert [f["id"] for f in io.frames()] == ["1", "2"]
    assert session.wait is Wait.NONE
    assert not io.paused


def test_eof_while_an_answer_is_pending_waits_for_it_then_closes() -> None:
    w = world(later=True)
    session, io = w.joined("ana")
    session.data_received(say("last words", "1"))
    assert session.eof_received() is True  # stay half-open for the ack
    assert io.closed is None
    io.finish()
    assert [f["type"] for f in io.frames()] == ["ack"]
    assert io.closed is not None
    assert io.closed[0] is LeftReason.LOST
    assert session.input_end is InputEnd.EOF


def test_a_too_long_line_behind_a_pending_answer_is_refused_after_it() -> None:
    w = world(later=True, max_frame=64)
    session, io = w.joined("ana")
    session.data_received(say("ok", "1") + b"y" * 100)
    assert io.closed is None
    assert session.input_end is InputEnd.TOO_LONG
    session.data_received(say("ignored", "2"))  # nothing more is read
    io.finish()
    assert [f["type"] for f in io.frames()] == ["ack", "error"]
    assert io.closed is not None


def test_a_refusal_that_comes_later_reaches_the_asker_with_its_id() -> None:
    w = world(later=True)
    session, io = w.joined("ana")
    session.data_received(b'{"type":"dm","id":"d1","to":"nobody","text":"hi"}\n')
    io.finish()
    assert [(f["type"], f["code"], f["id"]) for f in io.frames()] == [
        ("error", "no_such_user", "d1")
    ]


def test_a_dm_to_oneself_comes_after_its_ack_both_now_and_later() -> None:
    for later in (False, True):
        w = world(later=later)
        session, io = w.joined("ana")
        session.data_received(b'{"type":"dm","id":"d1","to":"ANA","text":"note"}\n')
        if later:
            io.finish()
        assert [f["type"] for f in io.frames()] == ["ack", "dm"], later


def test_an_unexpected_failure_of_a_later_answer_is_a_clear_refusal() -> None:
    w = world(later=True)
    session, io = w.joined("ana")

    async def broken(*_: Any, **__: Any) -> Ack:
        raise RuntimeError("bug")

    w.backplane.say = broken  # type: ignore[method-assign]
    session.data_received(say("x", "1"))
    io.finish()
    [error] = io.frames()
    assert (error["code"], error["id"]) == ("server_full", "1")
    assert session.wait is Wait.NONE
    assert not io.paused


# -- the shared password ---------------------------------------------------------


def test_a_wrong_password_holds_the_answer_and_the_next_lines() -> None:
    w = world(password=b"secret", password_delays=(1.5,))
    session, io = w.connect()
    session.data_received(b'{"type":"hello","name":"ana","proto":1,"password":"nope"}\n')
    assert session.wait is Wait.BACKOFF
    assert session.holding_output
    assert io.paused
    assert io.holds == [1.5]
    session.data_received(b'{"type":"hello","name":"ana","proto":1,"password":"secret"}\n')
    assert session.state is PeerState.NAMING  # held, not served
    session.release()
    assert [(f["type"], f.get("code")) for f in io.frames()] == [
        ("error", "bad_password"),
        ("welcome", None),
    ]
    assert not io.paused
    assert not session.holding_output


def test_a_text_user_is_asked_for_the_password_after_the_name() -> None:
    w = world(password=b"pw")
    session, io = w.connect()
    session.data_received(b"cleo\n")
    assert io.text() == "* password:\n"
    session.data_received(b"pw\n")
    assert session.state is PeerState.JOINED


# -- deadlines --------------------------------------------------------------------


def test_the_hello_deadline_closes_a_peer_that_never_joins() -> None:
    w = world(hello_timeout=5.0, idle_timeout=60.0, ping_after=30.0)
    session, io = w.connect()
    assert io.timer == 105.0
    session.data_received(b"{")  # a JSON peer that trickles; its ping is due later
    assert io.timer == 105.0
    w.clock.now = 105.0
    assert session.on_timer(105.0) is None
    assert io.closed == (LeftReason.TIMEOUT, b"")


def test_a_text_user_who_gives_no_name_is_told_why_it_is_closed() -> None:
    w = world(hello_timeout=5.0)
    session, io = w.connect()
    session.data_received(b"   \n")  # blank: not a name
    session.on_timer(106.0)
    assert io.closed == (LeftReason.TIMEOUT, b"! no name given in time; bye\n")


def test_a_silent_json_member_is_pinged_then_dropped() -> None:
    w = world(ping_after=10.0, idle_timeout=30.0)
    session, io = w.joined("ana")
    assert session.on_timer(110.0) == 130.0  # pinged; next: the idle deadline
    [ping] = io.frames()
    assert ping["type"] == "ping"
    assert session.on_timer(130.0) is None
    assert io.closed is not None
    assert io.closed[0] is LeftReason.TIMEOUT


def test_an_answer_to_a_ping_brings_the_next_ping_forward() -> None:
    w = world(ping_after=10.0, idle_timeout=30.0)
    session, io = w.joined("ana")
    session.on_timer(110.0)
    w.clock.now = 112.0
    session.data_received(b'{"type":"pong","t":1}\n')
    assert io.timer == 122.0
    assert session.on_timer(122.0) == 142.0  # pinged again; then the idle deadline
    assert [f["type"] for f in io.frames()] == ["ping", "ping"]


def test_a_joined_text_user_is_never_timed_out() -> None:
    w = world(ping_after=1.0, idle_timeout=2.0)
    session, io = w.connect()
    session.data_received(b"bob\n")
    assert session.on_timer(10_000.0) is None
    assert io.closed is None


def test_a_tls_handshake_that_never_ends_is_cut_at_the_hello_deadline() -> None:
    w = world(hello_timeout=3.0)
    session, io = w.connect(tls=True)
    assert session.state is PeerState.HANDSHAKE
    assert io.timer == 103.0
    assert session.on_timer(103.0) is None
    assert io.aborted
    assert session.reason is LeftReason.TIMEOUT


def test_a_connection_turned_away_is_told_in_json_and_done() -> None:
    w = world()
    session, io = w.connect()
    words = session.turned_away(refusals.too_many_from_address(3))
    error = json.loads(words)
    assert error["code"] == "server_full"
    assert "limit is 3" in error["message"]
    assert session.state is PeerState.CLOSED
    session.data_received(b'{"type":"hello","name":"ana","proto":1}\n')
    assert io.sent == []


@pytest.mark.parametrize("blank", [b"\n", b"\r\n", b"  \n"])
def test_blank_lines_before_a_text_name_are_ignored(blank: bytes) -> None:
    w = world()
    session, io = w.connect()
    session.data_received(blank)
    assert io.sent == []
    assert session.state is PeerState.NAMING
    session.data_received(b"dana\n")
    assert session.state is PeerState.JOINED


# -- shares of a loop turn and floods ----------------------------------------------


def test_one_write_of_many_lines_is_served_a_share_per_turn() -> None:
    w = world(max_lines_per_turn=3)
    session, io = w.joined("ana")
    session.data_received(b"".join(b'{"type":"ping","t":%d}\n' % n for n in range(8)))
    assert [f["t"] for f in io.frames()] == [0, 1, 2]
    assert (session.wait, io.paused, io.turns) == (Wait.TURN, True, 1)
    session.resume_turn()
    assert [f["t"] for f in io.frames()] == [0, 1, 2, 3, 4, 5]
    session.resume_turn()
    assert [f["t"] for f in io.frames()] == list(range(8))
    assert (session.wait, io.paused, io.turns) == (Wait.NONE, False, 2)


def test_a_peer_that_keeps_sending_too_fast_is_closed() -> None:
    w = world(rate=1.0, burst=2, max_rate_limited=5)
    session, io = w.joined("ana")
    session.data_received(b"".join(say(f"m{n}", f"s{n}") for n in range(10)))
    codes = [f.get("code") for f in io.frames()]
    assert codes == [None, None] + ["rate_limited"] * 5
    assert io.closed is not None
    assert io.closed[0] is LeftReason.ERROR


def test_an_accepted_send_ends_a_row_of_refusals() -> None:
    w = world(rate=1.0, burst=1, max_rate_limited=3)
    session, io = w.joined("ana")
    for n in range(4):
        w.clock.now += 1.0  # one token a second: each first send goes through
        session.data_received(say(f"ok{n}", f"a{n}") + say("too fast", f"b{n}"))
    assert io.closed is None
    assert [f.get("code") for f in io.frames()] == [None, "rate_limited"] * 4


def test_a_silent_connection_is_greeted_once_a_speaking_one_never() -> None:
    w = world(greet_after=1.0)
    quiet, io = w.connect()
    assert io.timer == w.clock.now + 1.0
    w.clock.now += 1.0
    quiet.on_timer(w.clock.now)
    assert io.text().startswith("* This is a Conexion chat server. Type your name")
    io.sent.clear()
    w.clock.now += 5.0
    quiet.on_timer(w.clock.now)
    assert io.sent == []  # once
    prompt, io = w.connect()
    prompt.data_received(b'{"type":"hello","name":"ana","proto":1}\n')
    w.clock.now += 2.0
    prompt.on_timer(w.clock.now)
    assert all(b"Conexion chat server" not in data for data in io.sent)
