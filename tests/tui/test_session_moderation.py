"""The session's side of moderation, with no socket: the requests it sends
(and what settles each), the REFRESH join that learns general's settings after
a welcome, our standing kept from frames, and sends held for a room's slow
mode, released on the session's clock."""

from __future__ import annotations

from conexion_protocol import (
    Ack,
    Audit,
    Code,
    Delete,
    Deleted,
    Error,
    Hand,
    HandNews,
    HandQueue,
    Hands,
    HandState,
    Join,
    Mod,
    ModAction,
    Mode,
    Moderation,
    RaisedHand,
    Role,
    RoomInfo,
    RoomMode,
    Say,
    Seen,
    SeenCount,
)
from conexion_tui.session import Received, RequestFailed, RequestKind
from tests.tui.test_session import TS, Wire

MODERATION = ["rooms", "accounts", "moderation"]


def room(name: str = "lab", **fields: object) -> RoomInfo:
    values: dict[str, object] = {
        "room": name,
        "topic": "",
        "users": ["ana"],
        "user_count": 1,
        "history": [],
    }
    values.update(fields)
    return RoomInfo(**values)  # type: ignore[arg-type]


def online_in_lab(wire: Wire, **fields: object) -> None:
    wire.connect()
    wire.welcome(features=MODERATION)
    refresh = wire.client_sent()
    assert len(refresh) == 1
    assert isinstance(refresh[0], Join)
    assert refresh[0].room == "general"  # settings, role and mute: not in the welcome
    (answer,) = wire.server_sends(room("general", id=refresh[0].id))
    assert isinstance(answer, Received)
    assert answer.request is not None
    assert answer.request.kind is RequestKind.REFRESH
    wire.session.join("lab")
    join = wire.client_sent()[0]
    assert isinstance(join, Join)
    wire.server_sends(room(id=join.id, **fields))


def test_no_refresh_without_the_moderation_feature() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome(features=["rooms"])
    assert wire.client_sent() == []


def test_requests_go_out_and_their_news_settles_them() -> None:
    wire = Wire()
    online_in_lab(wire, roles={"ana": Role.OWNER})
    session = wire.session
    assert session.standing("lab").role is Role.OWNER
    session.moderate(ModAction.MUTE, "bob", "lab", minutes=10, reason="noise")
    session.set_mode("lab", moderated=True)
    session.join_code("lab", rotate=True)
    session.audit("lab", 200)
    session.delete("lab", 7)
    session.hand("lab", next_=True)
    session.hands("lab")
    assert session.seen("lab", 9)
    sent = wire.client_sent()
    assert [type(f) for f in sent] == [Mod, Mode, Code, Audit, Delete, Hand, Hands, Seen]
    mod = sent[0]
    assert isinstance(mod, Mod)
    assert (mod.action, mod.name, mod.room, mod.minutes, mod.reason) == (
        ModAction.MUTE,
        "bob",
        "lab",
        10,
        "noise",
    )
    mode = sent[1]
    assert isinstance(mode, Mode)
    assert mode.moderated is True
    kinds = {r.kind for r in session.requests.values()}
    assert RequestKind.MOD in kinds
    wire.server_sends(
        Moderation(action=ModAction.MUTE, by="ana", ts=TS, room="lab", name="BOB"),
        Moderation(action=ModAction.MODE, by="ana", ts=TS, room="lab", mode=RoomMode(True)),
        Deleted(room="lab", seq=7, by="ana", ts=TS),
        HandQueue(room="lab", queue=[]),
    )
    kinds = {r.kind for r in session.requests.values()}
    assert RequestKind.MOD not in kinds
    assert RequestKind.MODE not in kinds
    assert RequestKind.DELETE not in kinds
    assert RequestKind.HAND not in kinds
    assert session.standing("lab").mode.moderated


def test_a_refused_request_says_which() -> None:
    wire = Wire()
    online_in_lab(wire)
    request_id = wire.session.moderate(ModAction.OP, "gus", "lab")
    wire.client_sent()
    (event,) = wire.server_sends(
        Error(code="not_registered", message="gus is a guest", id=request_id)
    )
    assert isinstance(event, RequestFailed)
    assert (event.request.kind, event.request.name, event.request.action) == (
        RequestKind.MOD,
        "gus",
        "op",
    )


def test_standing_follows_hands_counts_and_mutes() -> None:
    wire = Wire()
    online_in_lab(wire, roles={"ana": Role.MODERATOR})
    wire.server_sends(
        HandNews(room="lab", state=HandState.UP, position=2),
        HandQueue(room="lab", queue=[RaisedHand("bob", TS, "why?")]),
        SeenCount(room="lab", seq=5, seen=3, of=4),
    )
    lab = wire.session.standing("lab")
    assert (lab.hand, lab.position) == (HandState.UP, 2)
    assert lab.queue is not None
    assert [h.name for h in lab.queue] == ["bob"]
    assert lab.seen[5] == (3, 4)
    out = wire.session.say("hi", room="lab")
    wire.client_sent()
    wire.server_sends(Error(code="muted", message="you are muted in lab", id=out.id))
    assert wire.session.standing("lab").mute is not None


def test_slow_mode_holds_the_next_message_until_its_time() -> None:
    wire = Wire(slow_margin=0.5)
    online_in_lab(wire, mode=RoomMode(slow=10))
    session = wire.session
    first = session.say("one", room="lab")
    second = session.say("two", room="lab")
    elsewhere = session.say("in general")
    sent = wire.client_sent()
    assert [f.text for f in sent if isinstance(f, Say)] == ["one", "in general"]
    assert [o.id for o in session.held("lab")] == [second.id]
    assert session.next_release() == 10.5
    wire.server_sends(Ack(id=first.id, seq=1, ts=TS), Ack(id=elsewhere.id, seq=2, ts=TS))
    wire.clock.now += 10.4
    assert wire.client_sent() == []
    wire.clock.now += 0.1
    sent = wire.client_sent()
    assert [f.text for f in sent if isinstance(f, Say)] == ["two"]
    assert session.next_release() is None


def test_staff_are_not_slowed() -> None:
    wire = Wire()
    online_in_lab(wire, mode=RoomMode(slow=10), roles={"ana": Role.OWNER})
    wire.session.say("one", room="lab")
    wire.session.say("two", room="lab")
    assert len(wire.client_sent()) == 2


def test_sends_are_paced_within_the_rate_the_welcome_tells() -> None:
    wire = Wire(rate_share=1.0, burst_spare=1)
    wire.connect()
    wire.welcome(rate=2.0, burst=4)  # 3 at once, then one each half second
    session = wire.session
    outs = [session.say(f"m{n}") for n in range(6)]
    assert [f.text for f in wire.client_sent() if isinstance(f, Say)] == ["m0", "m1", "m2"]
    assert [o.id for o in session.held()] == [o.id for o in outs[3:]]
    assert session.next_release() == 0.5
    wire.clock.now += 0.49
    assert wire.client_sent() == []
    wire.clock.now += 0.01
    assert [f.text for f in wire.client_sent() if isinstance(f, Say)] == ["m3"]
    wire.clock.now += 1.0
    assert [f.text for f in wire.client_sent() if isinstance(f, Say)] == ["m4", "m5"]
    assert session.next_release() is None


def test_without_a_rate_nothing_is_paced() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome()  # an older server: no rate, no burst
    for n in range(50):
        wire.session.say(f"m{n}")
    assert len(wire.client_sent()) == 50


def test_resends_after_a_reconnect_are_paced_too() -> None:
    wire = Wire(rate_share=1.0, burst_spare=0)
    wire.connect()
    wire.welcome(rate=1.0, burst=2)
    for n in range(2):
        wire.session.say(f"m{n}")
    assert len(wire.client_sent()) == 2
    wire.session.connection_lost()
    for n in range(2, 4):
        wire.session.say(f"m{n}")
    wire.connect()
    wire.welcome(rate=1.0, burst=2)  # a new connection: a full bucket again
    assert [f.text for f in wire.client_sent() if isinstance(f, Say)] == ["m0", "m1"]
    wire.clock.now += 2.0
    assert [f.text for f in wire.client_sent() if isinstance(f, Say)] == ["m2", "m3"]
