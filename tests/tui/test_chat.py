"""The chat screen against a real server: sending (pending, sent, failed),
receiving from raw-socket peers, the user list, mentions, unread count, the
header, and hostile texts shown literally."""

from __future__ import annotations

from rich.cells import cell_len

from conexion_tui.client import State
from conexion_tui.commands import split_text
from conexion_tui.conversation import dm_key
from conexion_tui.entries import Kind
from conexion_tui.screens.split import SplitDialog
from conexion_tui.widgets import ChatHeader, ChatInput, UserList
from tests.peers import JsonPeer
from tests.tui.conftest import (
    FIXED_TIME,
    burst,
    current_log,
    has_line,
    joined,
    log_lines,
    log_text,
    make_app,
    running,
    send_line,
    type_line,
    wait_for,
)
from tests.tui.proxy import Proxy


def user_names(app) -> list[str]:
    return app.screen.query_one("#users", UserList).names


def entries(app):
    return current_log(app).entries


async def test_own_message_is_pending_until_its_ack(server, peers) -> None:
    bob = await peers("bob")
    proxy = await Proxy(server.port).start()
    try:
        app = make_app(proxy.port)
        async with running(app) as pilot:
            await joined(pilot)
            await bob.expect("joined")
            proxy.hold_downstream = True  # the ack will wait in the relay
            await type_line(pilot, "hola bob")
            await wait_for(pilot, lambda: has_line(app, "ana: hola bob …"))
            relayed = await bob.expect("message")
            assert relayed["text"] == "hola bob"
            assert has_line(app, f"{FIXED_TIME} ana: hola bob …")
            proxy.release()
            await wait_for(pilot, lambda: has_line(app, "ana: hola bob ✓"), what="sent mark")
            assert not has_line(app, "hola bob …")
    finally:
        await proxy.close()


async def test_a_fast_typist_is_paced_within_the_rate_and_loses_nothing(make_server) -> None:
    """25 lines typed at once on a server that allows 5 at once and 20 a
    second: the client holds what would go over (shown pending) and sends it
    in time, so not one is refused `rate_limited`."""
    server = await make_server(rate=20, burst=5)
    bob = await JsonPeer.connect(server.port)
    await bob.hello("bob")
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.expect("joined")
        screen.query_one("#input", ChatInput).focus()
        keys = [key for n in range(25) for key in (*f"line{n}", "enter")]
        burst(app, *keys)  # as fast as a terminal delivers them
        assert app.client is not None
        await wait_for(pilot, lambda: has_line(app, "line24 …"), what="all 25 typed")
        assert app.client.session.held()  # some wait their turn, pending
        texts = []
        for _ in range(25):
            try:
                texts.append((await bob.expect("message", timeout=3))["text"])
            except TimeoutError:
                break
        assert texts == [f"line{n}" for n in range(25)], log_text(app)  # all, in order
        await wait_for(pilot, lambda: has_line(app, "ana: line24 ✓"), what="the last acked")
        assert not any("✗" in line for line in log_lines(app))
        assert "rate_limited" not in log_text(app)
    await bob.close()


async def test_a_paste_too_long_stays_in_the_box_and_may_go_as_several(server, peers) -> None:
    bob = await peers("bob")
    words = " ".join(f"word{n:04d}" for n in range(600))  # 5,399 characters
    app = make_app(server.port)
    async with running(app) as pilot:
        screen = await joined(pilot)
        await bob.expect("joined")
        box = screen.query_one("#input", ChatInput)
        await send_line(pilot, words)
        await wait_for(pilot, lambda: isinstance(app.screen, SplitDialog), what="the offer")
        dialog = app.screen
        assert isinstance(dialog, SplitDialog)
        assert "5,399 characters long" in dialog.text
        assert "at most 4,000" in dialog.text
        assert "Send it as 2 messages" in dialog.text
        assert box.text == words  # kept, not cleared
        await pilot.press("escape")  # keep editing: nothing is sent
        await wait_for(pilot, lambda: app.screen is screen)
        assert box.text == words
        assert app.client is not None
        assert app.client.pending == {}
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SplitDialog))
        await pilot.press("enter")  # "Send as 2" has the focus
        first = await bob.expect("message")
        second = await bob.expect("message")
        assert len(first["text"]) <= 4000
        assert f"{first['text']} {second['text']}" == words
        await wait_for(pilot, lambda: box.text == "")


def test_split_text_cuts_where_lines_or_words_end() -> None:
    assert split_text("short", 10) == ["short"]
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_text("line one\nline two", 12) == ["line one", "line two"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    text = "alpha beta\ngamma delta epsilon " * 300
    pieces = split_text(text, 4000)
    assert all(len(p) <= 4000 for p in pieces)
    assert len("".join(pieces)) == len(text) - (len(pieces) - 1)  # one separator each


async def test_messages_from_raw_json_and_text_peers(server, peers, text_peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        bob = await peers("bob")
        carol = await text_peers("carol")
        await bob.say("hola ana")
        await bob.say("waves", action=True)
        await bob.send(type="dm", id="d1", to="ana", text="just for you")
        await carol.type("hello from nc")
        await wait_for(pilot, lambda: has_line(app, "carol: hello from nc"))
        text = log_text(app)
        assert f"{FIXED_TIME} bob: hola ana" in text
        assert f"{FIXED_TIME} * bob waves" in text
        # The DM has a conversation of its own, not the room's log.
        assert "just for you" not in text
        await wait_for(pilot, lambda: has_line(app, "just for you", dm_key("bob")))
        assert f"{FIXED_TIME} ← bob: just for you" in log_text(app, dm_key("bob"))
        assert Kind.ACTION in [e.kind for e in entries(app)]
        assert Kind.DM_IN in [e.kind for e in current_log(app, dm_key("bob")).entries]


async def test_user_list_follows_joins_renames_and_leaves(server, peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        users = app.screen.query_one("#users", UserList)
        assert user_names(app) == ["ana"]
        assert users.border_title == "users · 1"
        bob = await peers("bob")
        await wait_for(pilot, lambda: user_names(app) == ["ana", "bob"])
        # The title is redrawn on the next callback, after the names change.
        await wait_for(pilot, lambda: users.border_title == "users · 2")
        assert has_line(app, "· bob joined")
        await bob.send(type="nick", name="Roberto")
        await wait_for(pilot, lambda: user_names(app) == ["ana", "Roberto"])
        assert has_line(app, "· bob is now Roberto")
        await bob.send(type="bye")
        await wait_for(pilot, lambda: user_names(app) == ["ana"])
        assert has_line(app, "· Roberto left (quit)")
        await wait_for(pilot, lambda: users.border_title == "users · 1")


async def test_header_shows_address_name_state_and_rtt(server) -> None:
    from dataclasses import replace

    from tests.tui.conftest import FAST

    app = make_app(server.port, config=replace(FAST, first_ping=0.05, ping_interval=0.05))
    async with running(app) as pilot:
        await joined(pilot)
        header = app.screen.query_one("#header", ChatHeader)
        await wait_for(pilot, lambda: header.rtt is not None, what="an RTT")
        shown = str(header.render())
        assert f"127.0.0.1:{server.port}" in shown
        assert "ana" in shown
        assert "● online" in shown
        assert "rtt " in shown
        assert " ms" in shown
        assert header.state is State.ONLINE


async def test_mentions_are_highlighted_and_ring_when_unfocused(server, peers) -> None:
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        bob = await peers("bob")
        await bob.say("nothing to see")
        await bob.say("hey ANA, look")
        await wait_for(pilot, lambda: has_line(app, "hey ANA, look"))
        mention = [e for e in entries(app) if e.mention]
        assert [e.text for e in mention] == ["hey ANA, look"]
        assert app.bells == 0  # focused and at the bottom: seen already
        app.app_focus = False
        await bob.say("ana? are you there")
        await wait_for(pilot, lambda: app.bells == 1, what="a bell")
        await bob.say("banana is not a mention")
        await wait_for(pilot, lambda: has_line(app, "banana"))
        assert app.bells == 1


async def test_unread_count_while_scrolled_up(make_server) -> None:
    server = await make_server(rate=1000, burst=1000)
    bob = await JsonPeer.connect(server.port)
    app = make_app(server.port)
    async with running(app, size=(100, 20)) as pilot:
        await joined(pilot)
        await bob.hello("bob")
        for n in range(30):
            await bob.send(type="say", id=f"fill{n}", text=f"filler {n}")
        await wait_for(pilot, lambda: has_line(app, "filler 29"))
        log = current_log(app)
        bar = app.screen.query_one("#unread")
        assert not bar.has_class("-visible")
        await pilot.press("pageup")
        await wait_for(pilot, lambda: not log.is_vertical_scroll_end)
        for n in range(3):
            await bob.send(type="say", id=f"new{n}", text=f"new {n} for ana")
        await wait_for(pilot, lambda: log.unread == 3, what="3 unread")
        # The bar follows the log's UnreadChanged message, handled just after.
        await wait_for(pilot, lambda: bar.has_class("-visible"), what="the bar")
        assert "3 new messages below" in str(bar.render())
        assert app.bells >= 1  # mentioned while scrolled up
        await pilot.press("escape")
        await wait_for(pilot, lambda: log.unread == 0, what="unread cleared")
        assert log.is_vertical_scroll_end
        assert not bar.has_class("-visible")
    await bob.close()


async def test_hostile_texts_are_shown_literally(server, peers) -> None:
    app = make_app(server.port)
    async with running(app, size=(70, 30)) as pilot:
        await joined(pilot)
        bob = await peers("bob")
        hostile = [
            "[red]x[/red]",
            "[bold",
            "[link=http://evil]click[/link]",
            "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x9b2J",
            "\u202eevil bidi\u202c and \u2066isolate\u2069",
            "emoji 🎉👍🏽 and CJK 李雷 देवनागरी",
            "tab\there",
        ]
        for n, text in enumerate(hostile):
            await bob.send(type="say", id=f"h{n}", text=text)
        await send_line(pilot, "[b]mine[/b] 🎉")
        await wait_for(pilot, lambda: has_line(app, "bob: tab here"), what="the last text")
        await wait_for(pilot, lambda: has_line(app, "[b]mine[/b] 🎉 ✓"))
        lines = log_lines(app)
        text = "\n".join(lines)
        assert "bob: [red]x[/red]" in text
        assert "bob: [bold" in text
        assert "bob: [link=http://evil]click[/link]" in text
        assert "bob: [31mred[0m ]0;title 2J" in text  # the ESCs and BEL are gone
        assert "bob: evil bidi and isolate" in text
        assert "emoji 🎉👍🏽 and CJK 李雷 देवनागरी" in text
        for line in lines:
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in line), repr(line)
            assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in line)
        log = current_log(app)
        width = log.scrollable_content_region.width
        assert all(cell_len(line) <= width for line in lines)


async def test_wide_text_wraps_by_cells(server, peers) -> None:
    app = make_app(server.port)
    async with running(app, size=(50, 30)) as pilot:
        await joined(pilot)
        bob = await peers("bob")
        await bob.say("李雷" * 30)
        await wait_for(pilot, lambda: has_line(app, "bob: 李雷"))
        log = current_log(app)
        width = log.scrollable_content_region.width
        wrapped = [line for line in log_lines(app) if "李" in line or "雷" in line]
        assert len(wrapped) >= 3
        assert all(cell_len(line) <= width for line in wrapped)
        # Continuation lines line up under the text, after "12:34 bob: ".
        indent = len(f"{FIXED_TIME} bob: ")
        assert all(line.startswith(" " * indent) for line in wrapped[1:])
        assert "".join(line.strip() for line in wrapped).endswith("李雷" * 30)


async def test_history_from_welcome_is_separated_from_live(server, peers) -> None:
    carol = await peers("carol")
    await carol.say("said before ana came")
    await carol.say("also before")
    app = make_app(server.port)
    async with running(app) as pilot:
        await joined(pilot)
        await carol.say("after ana came")
        await wait_for(pilot, lambda: has_line(app, "after ana came"))
        lines = log_lines(app)
        earlier = next(i for i, line in enumerate(lines) if "earlier messages" in line)
        live = next(i for i, line in enumerate(lines) if "─ live ─" in line)
        before = next(i for i, line in enumerate(lines) if "said before ana came" in line)
        after = next(i for i, line in enumerate(lines) if "after ana came" in line)
        assert earlier < before < live < after
