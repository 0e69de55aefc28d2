"""The session's side of message actions: replies resent with their reply_to, requests labelled
and settled by the news that answers them, `found` routed to its request."""

from __future__ import annotations

from conexion_protocol import Edit, Edited, Error, Found, React, Reacted, Say, Search
from conexion_tui.session import Acked, Received, RequestFailed, RequestKind
from tests.tui.test_session import Wire, message


def test_a_reply_carries_reply_to_and_keeps_it_in_a_resend() -> None:
    wire = Wire()
    wire.online()
    out = wire.session.say("I do", room="general", reply_to=41)
    sent = wire.client_sent()
    assert sent == [Say(id=out.id, text="I do", room="general", reply_to=41)]
    wire.session.connection_lost()
    wire.online()
    assert any(isinstance(f, Say) and f.reply_to == 41 for f in wire.client_sent())
    (acked,) = wire.server_sends(b'{"type":"ack","id":"%s","seq":42,"ts":"t"}\n' % out.id.encode())
    assert isinstance(acked, Acked)
    assert acked.out.reply_to == 41


def test_requests_are_settled_by_their_news_and_found_by_id() -> None:
    wire = Wire()
    wire.online()
    session = wire.session
    edit = session.request(
        RequestKind.EDIT, lambda i: Edit(room="general", seq=1, text="x", id=i), room="general"
    )
    react = session.request(
        RequestKind.REACT,
        lambda i: React(room="general", seq=1, emoji="👍", on=True, id=i),
        room="general",
    )
    search = session.request(RequestKind.SEARCH, lambda i: Search(text="x", id=i))
    assert [type(f) for f in wire.client_sent()] == [Edit, React, Search]
    assert {edit, react, search} <= set(session.requests)
    wire.server_sends(Edited(room="general", seq=1, text="x", by="ana", author="ana", ts="t"))
    assert edit not in session.requests
    (news,) = wire.server_sends(
        Reacted(room="general", seq=1, emoji="👍", by="ANA", on=True, names=["ana"], author="b")
    )
    assert isinstance(news, Received)
    assert react not in session.requests
    (found,) = wire.server_sends(Found(text="x", hits=[message(1)], id=search))
    assert isinstance(found, Received)
    assert found.request is not None
    assert found.request.kind is RequestKind.SEARCH


def test_a_refused_action_names_its_request() -> None:
    wire = Wire()
    wire.online()
    asked = wire.session.request(
        RequestKind.REACT,
        lambda i: React(room="general", seq=9, emoji="👍", on=True, id=i),
        room="general",
    )
    wire.client_sent()
    (event,) = wire.server_sends(Error(code="no_such_message", message="gone", id=asked))
    assert isinstance(event, RequestFailed)
    assert event.request.kind is RequestKind.REACT
    assert wire.session.request(RequestKind.SEARCH, lambda i: Search(text="x", id=i)) is not None
    wire.session.connection_lost()
    assert wire.session.request(RequestKind.SEARCH, lambda i: Search(text="x", id=i)) is None
