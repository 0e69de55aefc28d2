"""The client session's accounts and request ids, with no socket, no loop and
no Textual (as in test_session.py): the account password in hello and across
reconnects, register and password changes and their answers, a change lost
with its connection, which refusals need a person, and every request's id
mapping its answer or error back to it (a refused rejoin names its room)."""

from __future__ import annotations

import msgspec

from conexion_protocol import (
    UNSET,
    ChangePassword,
    Error,
    History,
    HistoryReply,
    Join,
    Left,
    Part,
    Register,
    Registered,
    RoomList,
    Rooms,
    Topic,
    TopicInfo,
    Users,
    Who,
)
from conexion_tui.session import (
    HelloRefused,
    Received,
    Request,
    RequestFailed,
    RequestKind,
    SessionState,
    Welcomed,
)
from tests.tui.test_session import ROOMS, TS, Wire, in_state, room_info

SECRET = "correct horse battery"
NEWER = "staple of the month"


def reconnect(wire: Wire, **fields: object) -> Welcomed:
    wire.session.connection_lost()
    wire.connect(None)
    return wire.welcome(**fields)


# -- the account password in hello ----------------------------------------------------


def test_hello_carries_the_account_password_only_when_there_is_one() -> None:
    assert Wire().connect().account_password is UNSET
    wire = Wire()
    wire.session.account_password = SECRET
    wire.session.password = "the server's"
    hello = wire.connect()
    assert (hello.account_password, hello.password) == (SECRET, "the server's")


def test_the_welcome_tells_the_account_and_every_reconnect_logs_in_again() -> None:
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=True, admin=True, temporary_password=True)
    session = wire.session
    assert (session.registered, session.admin, session.temporary_password) == (True, True, True)
    session.connection_lost()
    assert wire.connect(None).account_password == SECRET


def test_a_welcome_as_a_guest_forgets_the_account_password() -> None:
    # The operator removed the account meanwhile: no secret to keep sending.
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=False)
    assert wire.session.account_password is None
    assert not wire.session.registered


# -- which refusals of hello need someone to type a password --------------------------


def test_refusals_for_a_password_ask_the_user_and_others_do_not() -> None:
    for code, ask in [
        ("login_required", True),
        ("bad_login", True),
        ("bad_password", True),
        ("name_taken", False),
        ("account_required", False),
        ("server_full", False),
    ]:
        wire = Wire()
        wire.connect()
        events = wire.server_sends(Error(code=code, message="no"))
        assert events == [HelloRefused(code, "no", ask_user=ask)], code
        assert wire.session.state is SessionState.IDLE


# -- register and password ------------------------------------------------------------


def test_register_becomes_the_reconnect_password_once_answered() -> None:
    wire = in_state(SessionState.ONLINE)
    request_id = wire.session.register(SECRET)
    assert request_id is not None
    assert wire.client_sent() == [Register(password=SECRET, id=request_id)]
    assert wire.session.account_password is None  # not ours until the server says so
    answer = Registered(name="Ana")
    [event] = wire.server_sends(answer)
    assert event == Received(answer, Request(request_id, RequestKind.REGISTER))
    assert wire.session.account_password == SECRET
    assert wire.session.registered
    assert wire.session.requests == {}
    assert reconnect(wire, registered=True).reconnect
    wire.session.connection_lost()
    assert wire.connect(None).account_password == SECRET


def test_a_refused_register_changes_nothing() -> None:
    wire = in_state(SessionState.ONLINE)
    request_id = wire.session.register("short")
    wire.client_sent()
    refusal = Error(code="weak_password", message="a password has at least 8", id=request_id)
    [event] = wire.server_sends(refusal)
    assert event == RequestFailed(
        Request(request_id, RequestKind.REGISTER), "weak_password", "a password has at least 8"
    )
    assert wire.session.account_password is None
    assert not wire.session.registered
    # A later registered (of another try) is not taken for this one.
    second = wire.session.register(SECRET)
    wire.server_sends(Registered(name="ana"))
    assert wire.session.account_password == SECRET
    assert second not in wire.session.requests


def test_a_password_change_replaces_the_password_and_the_one_time_mark() -> None:
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=True, temporary_password=True)
    request_id = wire.session.change_password(SECRET, NEWER)
    assert wire.client_sent() == [ChangePassword(old=SECRET, new=NEWER, id=request_id)]
    wire.server_sends(Registered(name="ana", changed=True))
    assert wire.session.account_password == NEWER
    assert not wire.session.temporary_password


def test_a_wrong_current_password_keeps_the_old_one() -> None:
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=True)
    request_id = wire.session.change_password("a wrong guess", NEWER)
    [event] = wire.server_sends(Error(code="bad_login", message="wrong", id=request_id))
    assert isinstance(event, RequestFailed)
    assert event.request.kind is RequestKind.PASSWORD
    assert wire.session.account_password == SECRET


def test_account_requests_need_a_connection() -> None:
    for state in (SessionState.IDLE, SessionState.HELLO_SENT, SessionState.CLOSING):
        wire = in_state(state)
        assert wire.session.register(SECRET) is None
        assert wire.session.change_password(SECRET, NEWER) is None
        assert wire.client_sent() == []


def test_a_register_lost_with_its_connection_is_tried_when_the_name_asks_for_it() -> None:
    """The link died after `register` went out and before `registered` came:
    the server may have made the account. The reconnect says hello as a
    guest; if the name now needs a password, the session tries that one."""
    wire = in_state(SessionState.ONLINE)
    wire.session.register(SECRET)
    wire.client_sent()
    wire.session.connection_lost()
    assert wire.connect(None).account_password is UNSET
    [refused] = wire.server_sends(Error(code="login_required", message="registered"))
    assert refused == HelloRefused("login_required", "registered", ask_user=False)
    assert wire.session.account_password == SECRET
    assert wire.connect(None).account_password == SECRET
    wire.welcome(registered=True)
    # Tried once: a later refusal is for a person to answer.
    wire.session.connection_lost()
    wire.connect(None)
    [again] = wire.server_sends(Error(code="bad_login", message="wrong"))
    assert again.ask_user  # type: ignore[union-attr]


def test_a_lost_change_is_forgotten_when_the_old_password_still_works() -> None:
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=True)
    wire.session.change_password(SECRET, NEWER)
    wire.client_sent()
    reconnect(wire, registered=True)  # the change never reached the server
    assert wire.session.account_password == SECRET
    wire.session.connection_lost()
    wire.connect(None)
    [refused] = wire.server_sends(Error(code="bad_login", message="wrong"))
    assert refused.ask_user  # type: ignore[union-attr]  # no stale fallback is tried


def test_a_lost_change_that_took_is_used_after_the_old_one_is_refused() -> None:
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=True)
    wire.session.change_password(SECRET, NEWER)
    wire.client_sent()
    wire.session.connection_lost()
    assert wire.connect(None).account_password == SECRET
    [refused] = wire.server_sends(Error(code="bad_login", message="wrong"))
    assert not refused.ask_user  # type: ignore[union-attr]
    assert wire.connect(None).account_password == NEWER


def test_no_event_or_request_shows_a_password() -> None:
    wire = Wire()
    wire.session.account_password = SECRET
    wire.connect()
    wire.welcome(registered=True)
    events: list[object] = []
    first = wire.session.register(SECRET)
    events += wire.server_sends(Error(code="forbidden", message="registered already", id=first))
    wire.session.change_password(SECRET, NEWER)
    events += wire.server_sends(Registered(name="ana", changed=True))
    shown = repr(events) + repr(wire.session.requests)
    assert SECRET not in shown
    assert NEWER not in shown


# -- request ids ---------------------------------------------------------------------


def test_every_request_carries_a_new_id_and_returns_it() -> None:
    wire = in_state(SessionState.ONLINE)
    ids = [
        wire.session.join("lab"),
        wire.session.part("lab"),
        wire.session.who("lab"),
        wire.session.list_rooms(),
        wire.session.topic("lab"),
        wire.session.topic("lab", "kits"),
        wire.session.history(None, 10, room="lab"),
    ]
    assert None not in ids
    assert len(set(ids)) == len(ids)
    sent = wire.client_sent()
    assert [f.id for f in sent] == ids  # type: ignore[union-attr]
    assert [type(f) for f in sent] == [Join, Part, Who, Rooms, Topic, Topic, History]
    kinds = [r.kind for r in wire.session.requests.values()]
    assert kinds == [
        RequestKind.JOIN,
        RequestKind.PART,
        RequestKind.WHO,
        RequestKind.ROOMS,
        RequestKind.TOPIC,
        RequestKind.SET_TOPIC,
        RequestKind.HISTORY,
    ]


def test_answers_with_our_id_come_with_their_request() -> None:
    wire = in_state(SessionState.ONLINE)
    who = wire.session.who("lab")
    rooms = wire.session.list_rooms()
    page = wire.session.history(None, 10, with_="bob")
    join = wire.session.join("lab")
    answers = [
        Users(room="lab", users=["ana"], id=who),
        RoomList(rooms=[], id=rooms),
        HistoryReply(with_="bob", messages=[], id=page),
        msgspec.structs.replace(room_info("lab"), id=join),
    ]
    events = wire.server_sends(*answers)
    assert [e.request.id for e in events] == [who, rooms, page, join]  # type: ignore[union-attr]
    assert events[2].request.with_ == "bob"  # type: ignore[union-attr]
    assert wire.session.requests == {}
    # The same answer again (or one without an id) is news.
    assert wire.server_sends(answers[0]) == [Received(answers[0])]


def test_a_topic_with_our_id_is_the_answer_and_one_without_is_news() -> None:
    wire = in_state(SessionState.ONLINE)
    asked = wire.session.topic("lab")
    wire.session.topic("lab", "kits on Friday")
    answer = TopicInfo(room="lab", topic="old", by="bob", ts=TS, id=asked)
    news = TopicInfo(room="Lab", topic="kits on Friday", by="ana", ts=TS)
    others = TopicInfo(room="lab", topic="bob's", by="bob", ts=TS)
    [answered, ours, theirs] = wire.server_sends(answer, news, others)
    assert answered.request == Request(asked, RequestKind.TOPIC, "lab")  # type: ignore[union-attr]
    assert ours == Received(news)
    assert theirs == Received(others)
    assert wire.session.requests == {}  # our own news settled the setting


def test_errors_with_a_request_id_fail_that_request_and_others_are_received() -> None:
    wire = in_state(SessionState.ONLINE)
    first = wire.session.part("lab")
    second = wire.session.who("nowhere")
    refusal = Error(code="no_such_room", message="no room nowhere", id=second)
    [event] = wire.server_sends(refusal)
    assert event == RequestFailed(Request(second, RequestKind.WHO, "nowhere"), *_why(refusal))
    stray = Error(code="bad_frame", message="?", id="not-ours")
    assert wire.server_sends(stray) == [Received(stray)]
    assert list(wire.session.requests) == [first]
    # Our own `left` answers the part, which has no id to carry.
    wire.server_sends(Left(name="ana", ts=TS, reason="part", room="Lab"))
    assert wire.session.requests == {}


def test_requests_die_with_their_connection() -> None:
    wire = in_state(SessionState.ONLINE)
    who = wire.session.who("lab")
    reconnect(wire)
    late = Users(room="lab", users=[], id=who)
    assert wire.server_sends(late) == [Received(late)]


def test_at_most_max_requests_are_remembered() -> None:
    wire = Wire(max_requests=3)
    wire.online()
    ids = [wire.session.who("lab") for _ in range(5)]
    assert list(wire.session.requests) == ids[2:]
    old = Users(room="lab", users=[], id=ids[0])
    assert wire.server_sends(old) == [Received(old)]


def test_a_refused_rejoin_names_its_room_and_is_not_tried_again() -> None:
    wire = Wire()
    wire.connect()
    wire.welcome(features=ROOMS)
    for room in ("lab", "design"):
        wire.session.join(room)
    wire.client_sent()
    wire.server_sends(room_info("lab"), room_info("design"))
    reconnect(wire, features=ROOMS)
    joins = [f for f in wire.client_sent() if isinstance(f, Join)]
    assert [j.room for j in joins] == ["lab", "design"]
    by_room = {j.room: j.id for j in joins}
    refusal = Error(code="forbidden", message="only admins create rooms", id=by_room["design"])
    [failed] = wire.server_sends(room_info("lab"), refusal)[1:]
    assert failed == RequestFailed(
        Request(by_room["design"], RequestKind.REJOIN, "design"), *_why(refusal)
    )
    assert list(wire.session.rooms) == ["general", "lab"]
    reconnect(wire, features=ROOMS)
    assert [f.room for f in wire.client_sent() if isinstance(f, Join)] == ["lab"]


def test_the_first_welcome_labels_restored_joins_and_parts_too() -> None:
    wire = Wire()
    wire.session.restore = ["lab"]
    wire.connect()
    wire.welcome(features=ROOMS)
    sent = wire.client_sent()
    assert [type(f) for f in sent] == [Join, Part]
    kinds = {r.room: r.kind for r in wire.session.requests.values()}
    assert kinds == {"lab": RequestKind.REJOIN, "general": RequestKind.PART}
    assert all(f.id in wire.session.requests for f in sent)  # type: ignore[union-attr]


def _why(error: Error) -> tuple[str, str]:
    return error.code, error.message
