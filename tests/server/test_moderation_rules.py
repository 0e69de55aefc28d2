"""Moderation's rules in the sans-I/O hub, with injected clocks: who may do
what to whom (every action, by every rank, to every rank), timed mutes and
bans running out, guests caught by their address, look-alike names, the
room settings, join codes, the audit log, and all of it across a restart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from conexion_protocol import (
    ErrorCode,
    Left,
    LeftReason,
    Mod,
    ModAction,
    Mode,
    Moderation,
    ProtocolError,
    Role,
)
from conexion_server.accounts import Account
from conexion_server.hub import Hub, HubConfig, Member
from conexion_server.moderation import Rank
from conexion_server.sqlite_store import SqliteStore

EPOCH = 1_795_521_600.0  # 2026-11-24T12:00:00Z


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass(eq=False)
class Peer:
    label: str
    closed: LeftReason | None = None

    def close(self, reason: LeftReason, final: bytes = b"") -> None:
        self.closed = reason


class Class:
    """A hub, accounts, and people in `lab` (made by the owner olga)."""

    def __init__(self, store: SqliteStore | None = None, **options: object) -> None:
        self.clock, self.wall = Clock(1000.0), Clock(EPOCH)
        options.setdefault("quiet_arrival", 0.0)
        options.setdefault("rate", 1000.0)
        options.setdefault("burst", 1000)
        self.hub = Hub(HubConfig(**options), store, clock=self.clock, wallclock=self.wall)  # type: ignore[arg-type]
        self.people: dict[str, Member] = {}

    def account(self, name: str, *, admin: bool = False) -> Account:
        account = Account(self.hub.parse_name(name)[1], name, "scrypt$unused", admin=admin)
        self.hub.store.save_account(account)
        return account

    def join(
        self, name: str, *, registered: bool = False, admin: bool = False, address: str = ""
    ) -> Member:
        account = self.account(name, admin=admin) if registered or admin else None
        member, _, _ = self.hub.join(
            name, Peer(name), account, address or f"10.0.0.{len(self.people) + 1}"
        )
        self.people[name] = member
        return member

    def enter(self, name: str, room: str = "lab", code: str | None = None) -> None:
        self.hub.enter_room(self.people[name], room, code)

    def mod(self, actor: str, action: ModAction, target: str, **fields: object) -> list:
        frame = Mod(action=action, name=target, room=fields.pop("room", "lab"), **fields)  # type: ignore[arg-type]
        deliveries, closed = self.hub.moderate(self.people[actor], frame)
        for member in closed:
            member.peer.close(LeftReason.BANNED)
        return deliveries

    def refusal(
        self, actor: str, action: ModAction, target: str, **fields: object
    ) -> ProtocolError:
        with pytest.raises(ProtocolError) as info:
            self.mod(actor, action, target, **fields)
        return info.value

    def say(self, name: str, text: str = "hi", room: str = "lab") -> ProtocolError | None:
        try:
            self.hub.say(self.people[name], text, room=room)
        except ProtocolError as exc:
            return exc
        return None


def classroom(store: SqliteStore | None = None, **options: object) -> Class:
    """olga (owner of lab, its creator), mo (moderator), mia (registered),
    gus (a guest), root (admin); and one more of each rank (…2)."""
    c = Class(store, **options)
    c.join("olga", registered=True)
    c.enter("olga")
    for name, kind in (
        ("root", "admin"),
        ("root2", "admin"),
        ("olga2", "owner"),
        ("mo", "moderator"),
        ("mo2", "moderator"),
        ("mia", "member"),
        ("mia2", "member"),
        ("gus", "guest"),
        ("gus2", "guest"),
    ):
        c.join(name, registered=kind != "guest", admin=kind == "admin")
        c.enter(name)
        if kind in ("owner", "moderator"):
            role = Role.OWNER if kind == "owner" else Role.MODERATOR
            c.mod("olga", ModAction.OP, name, role=role)
    return c


RANKS = {
    "root": Rank.ADMIN,
    "olga": Rank.OWNER,
    "mo": Rank.MODERATOR,
    "mia": Rank.MEMBER,
    "gus": Rank.GUEST,
}
TARGETS = {
    "root2": Rank.ADMIN,
    "olga2": Rank.OWNER,
    "mo2": Rank.MODERATOR,
    "mia2": Rank.MEMBER,
    "gus2": Rank.GUEST,
}


def allowed(action: ModAction, actor: Rank, target: Rank, role: Role | None) -> bool:
    """The rule as docs/protocol.md words it, written apart from the code."""
    needed = Rank.OWNER if role == Role.OWNER else Rank.MODERATOR
    if actor < needed or target >= actor:
        return False
    if action == ModAction.OP and target == Rank.GUEST:
        return False
    return not (action == ModAction.DEOP and target not in (Rank.MODERATOR, Rank.OWNER))


@pytest.mark.parametrize(
    ("action", "role"),
    [
        (ModAction.KICK, None),
        (ModAction.MUTE, None),
        (ModAction.UNMUTE, None),
        (ModAction.BAN, None),
        (ModAction.UNBAN, None),
        (ModAction.OP, None),
        (ModAction.OP, Role.OWNER),
        (ModAction.DEOP, None),
        (ModAction.INVITE, None),
    ],
)
@pytest.mark.parametrize("actor", list(RANKS))
def test_who_may_do_what_to_whom(action: ModAction, role: Role | None, actor: str) -> None:
    for target, target_rank in TARGETS.items():
        c = classroom()
        fields = {"role": role} if role else {}
        expected = allowed(action, RANKS[actor], target_rank, role)
        if expected:
            deliveries = c.mod(actor, action, target, **fields)
            news = deliveries[0].out.frame
            assert isinstance(news, Moderation), (actor, target)
            assert (news.action, news.by, news.name) == (action, actor, target)
        else:
            refusal = c.refusal(actor, action, target, **fields)
            assert refusal.code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_REGISTERED), (actor, target)


def test_nobody_acts_on_themselves_and_words_say_why() -> None:
    c = classroom()
    assert "yourself" in c.refusal("olga", ModAction.KICK, "olga").message
    assert "only the moderators of lab" in c.refusal("mia", ModAction.KICK, "gus2").message
    assert "mo2 is a moderator of the room" in c.refusal("mo", ModAction.MUTE, "mo2").message
    assert "guest" in c.refusal("olga", ModAction.OP, "gus2").message
    assert c.refusal("olga", ModAction.KICK, "nobody").code is ErrorCode.NO_SUCH_USER


def test_a_kick_is_announced_and_takes_the_target_out() -> None:
    c = classroom()
    deliveries = c.mod("mo", ModAction.KICK, "gus", reason="spamming")
    news, to_target, left = (d.out.frame for d in deliveries[:3])
    assert isinstance(news, Moderation)
    assert (news.reason, news.room) == ("spamming", "lab")
    assert to_target is news
    assert [m.name for m in deliveries[1].to] == ["gus"]  # the target hears it first
    assert isinstance(left, Left)
    assert left.reason == LeftReason.KICKED
    assert "lab" not in c.people["gus"].rooms
    c.enter("gus")  # a kick is not a ban
    assert "lab" in c.people["gus"].rooms


def test_a_timed_mute_runs_out_on_the_clock() -> None:
    c = classroom()
    c.mod("mo", ModAction.MUTE, "mia", minutes=10, reason="calm down")
    refusal = c.say("mia")
    assert refusal is not None
    assert refusal.code is ErrorCode.MUTED
    assert "by mo until" in refusal.message
    assert "calm down" in refusal.message
    assert c.say("mia", room="general") is None  # muted in lab only
    c.wall.now += 599
    assert c.say("mia") is not None
    c.wall.now += 2
    assert c.say("mia") is None


def test_a_mute_until_lifted_and_the_unmute() -> None:
    c = classroom()
    c.mod("mo", ModAction.MUTE, "mia")
    c.wall.now += 10 * 365 * 86400
    assert c.say("mia") is not None
    c.mod("mo2", ModAction.UNMUTE, "mia")
    assert c.say("mia") is None


def test_a_timed_ban_keeps_out_then_lets_in() -> None:
    c = classroom()
    c.mod("olga", ModAction.BAN, "mia", minutes=60)
    assert "lab" not in c.people["mia"].rooms
    with pytest.raises(ProtocolError) as info:
        c.enter("mia")
    assert info.value.code is ErrorCode.BANNED
    assert "banned from lab by olga until" in info.value.message
    c.wall.now += 3601
    c.enter("mia")
    assert "lab" in c.people["mia"].rooms


def test_a_guest_is_caught_by_its_address_a_registered_neighbour_is_not() -> None:
    c = classroom()
    address = c.people["gus"].address
    c.mod("mo", ModAction.MUTE, "gus")
    # gus takes another name: the address is still muted.
    c.hub.rename(c.people["gus"], "gustavo")
    assert c.say("gus") is not None
    # Someone registered on the same address (the same school NAT) is not.
    c.join("rita", registered=True, address=address)
    c.enter("rita")
    assert c.say("rita") is None
    # Unmuting the name lifts the address too.
    c.mod("mo", ModAction.UNMUTE, "gus")
    assert c.say("gus") is None


def test_look_alike_names_cannot_dodge_a_ban() -> None:
    c = classroom()
    c.mod("root", ModAction.BAN, "mia2", server=True)
    assert c.people["mia2"].peer.closed is LeftReason.BANNED
    c.hub.remove(c.people["mia2"], LeftReason.BANNED)
    for look_alike in ("MIA2", "ｍｉａ２", "Mia2"):
        with pytest.raises(ProtocolError) as info:
            c.hub.join(look_alike, Peer(look_alike), c.hub.store.account("mia2"), "10.9.9.9")
        assert info.value.code is ErrorCode.BANNED
        assert "banned from this chat by root" in info.value.message


def test_only_admins_ban_from_the_whole_server() -> None:
    c = classroom()
    assert "admins" in c.refusal("olga", ModAction.BAN, "gus", server=True).message
    assert c.refusal("root", ModAction.KICK, "gus", server=True).code is ErrorCode.BAD_FRAME
    c.mod("root", ModAction.BAN, "gus", server=True, minutes=5)
    assert c.people["gus"].peer.closed is LeftReason.BANNED


def test_moderated_rooms_let_only_staff_speak() -> None:
    c = classroom()
    c.hub.set_mode(c.people["mo"], Mode(room="lab", moderated=True))
    refusal = c.say("mia")
    assert refusal is not None
    assert refusal.code is ErrorCode.MODERATED
    assert c.say("mo") is None
    assert c.say("olga") is None
    assert c.say("root") is None
    with pytest.raises(ProtocolError) as info:
        c.hub.set_mode(c.people["mia"], Mode(room="lab", moderated=False))
    assert info.value.code is ErrorCode.FORBIDDEN


def test_slow_mode_on_the_monotonic_clock() -> None:
    c = classroom()
    c.hub.set_mode(c.people["olga"], Mode(room="lab", slow=30))
    assert c.say("mia") is None
    refusal = c.say("mia")
    assert refusal is not None
    assert refusal.code is ErrorCode.SLOW_MODE
    assert "wait 30 s" in refusal.message
    c.clock.now += 29.5
    assert c.say("mia") is not None
    c.clock.now += 1
    assert c.say("mia") is None
    assert c.say("mo") is None
    assert c.say("mo") is None  # staff are not slowed


def test_private_rooms_take_an_invitation_or_the_code() -> None:
    c = classroom()
    c.join("zoe", registered=True)
    c.join("yan")
    deliveries = c.hub.set_mode(c.people["olga"], Mode(room="lab", private=True))
    news = deliveries[0].out.frame
    assert isinstance(news, Moderation)
    assert news.mode is not None
    assert news.mode.private is True
    with pytest.raises(ProtocolError) as info:
        c.enter("zoe")
    assert info.value.code is ErrorCode.PRIVATE_ROOM
    code, _ = c.hub.join_code(c.people["olga"], "lab", rotate=False)
    with pytest.raises(ProtocolError) as wrong:
        c.enter("zoe", code="abcd-efgh")
    assert "not the join code" in wrong.value.message
    c.enter("zoe", code=code.code.upper())  # read out, typed in capitals
    c.mod("mo", ModAction.INVITE, "yan")
    c.enter("yan")
    # A new code: the old one no longer opens the room.
    new, _ = c.hub.join_code(c.people["olga"], "lab", rotate=True)
    assert new.code != code.code
    c.join("xia")
    with pytest.raises(ProtocolError):
        c.enter("xia", code=code.code)
    # Only owners and admins see or change the code.
    with pytest.raises(ProtocolError) as info:
        c.hub.join_code(c.people["mo"], "lab", rotate=False)
    assert info.value.code is ErrorCode.FORBIDDEN


def test_a_locked_topic_is_for_staff() -> None:
    c = classroom()
    c.hub.set_mode(c.people["mo"], Mode(room="lab", topic_lock=True))
    with pytest.raises(ProtocolError) as info:
        c.hub.set_topic(c.people["mia"], "lab", "mine now")
    assert "locked" in info.value.message
    c.hub.set_topic(c.people["mo"], "lab", "Friday: sensors")
    assert c.hub.rooms["lab"].topic == "Friday: sensors"


def test_the_creator_owns_a_room_a_guest_s_room_has_no_owner() -> None:
    c = classroom()
    c.enter("mia", "mias-room")
    info = c.hub.room_info(c.hub.check_room("mias-room"), c.people["mia"])
    assert info.roles == {"mia": Role.OWNER}
    c.enter("gus", "gus-room")
    assert c.hub.check_room("gus-room").rules.roles == {}


def test_roles_show_in_who_and_room() -> None:
    c = classroom()
    users = c.hub.who("lab")
    assert users.roles == {
        "mo": Role.MODERATOR,
        "mo2": Role.MODERATOR,
        "olga": Role.OWNER,
        "olga2": Role.OWNER,
        "root": Role.ADMIN,
        "root2": Role.ADMIN,
    }
    c.mod("olga", ModAction.DEOP, "mo2")
    assert "mo2" not in c.hub.who("lab").roles


def test_the_audit_log_is_for_owners_and_admins() -> None:
    c = classroom()
    c.mod("mo", ModAction.MUTE, "mia", minutes=5, reason="noise")
    c.mod("mo", ModAction.KICK, "gus")
    log = c.hub.audit(c.people["olga"], "lab", 50)
    assert [(e.action, e.by, e.name) for e in log.entries][-2:] == [
        (ModAction.MUTE, "mo", "mia"),
        (ModAction.KICK, "mo", "gus"),
    ]
    assert log.entries[-2].reason == "noise"
    for who in ("mo", "mia", "gus"):
        with pytest.raises(ProtocolError):
            c.hub.audit(c.people[who], "lab", 50)
    with pytest.raises(ProtocolError):
        c.hub.audit(c.people["olga"], None, 50)  # the server's log: admins only
    c.mod("root", ModAction.BAN, "gus2", server=True)
    assert [e.name for e in c.hub.audit(c.people["root"], None, 50).entries] == ["gus2"]


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "class.db"
    first = classroom(SqliteStore(path, 600.0, 1000))
    first.mod("mo", ModAction.MUTE, "mia", minutes=30, reason="noise")
    first.mod("mo", ModAction.BAN, "gus2", reason="rude")
    first.mod("root", ModAction.BAN, "mia2", server=True)
    first.hub.set_mode(first.people["olga"], Mode(room="lab", moderated=True, slow=10))
    first.hub.store.flush()  # type: ignore[attr-defined]
    first.hub.store.close()  # type: ignore[attr-defined]

    again = Class(SqliteStore(path, 600.0, 1000))
    again.wall.now = EPOCH + 60
    key = again.hub.parse_name
    lab = again.hub.check_room("lab")
    assert (lab.rules.mode.moderated, lab.rules.mode.slow) == (True, 10)
    assert lab.rules.roles[key("olga")[1]] == Role.OWNER
    assert lab.rules.roles[key("mo")[1]] == Role.MODERATOR
    olga = again.join("olga", registered=True)
    again.hub.set_mode(olga, Mode(room="lab", moderated=False, slow=0))
    again.join("mia", registered=True)
    again.enter("mia")
    refusal = again.say("mia")
    assert refusal is not None
    assert refusal.code is ErrorCode.MUTED
    again.join("gus2")
    with pytest.raises(ProtocolError) as info:
        again.enter("gus2")
    assert info.value.code is ErrorCode.BANNED
    with pytest.raises(ProtocolError) as server_ban:
        again.join("mia2", registered=True)
    assert server_ban.value.code is ErrorCode.BANNED
    entries = again.hub.audit(olga, "lab", 50).entries
    assert [e.action for e in entries][-4:] == [
        ModAction.MUTE,
        ModAction.BAN,
        ModAction.MODE,
        ModAction.MODE,
    ]
    again.hub.store.close()  # type: ignore[attr-defined]


# -- classroom tools: hands and announcements ----------------------------------------------


def frames_to(deliveries: list, name: str) -> list:
    return [d.out.frame for d in deliveries if name in {m.name for m in d.to}]


def test_hands_queue_first_come_first_served() -> None:
    from conexion_protocol import Hand, HandNews, HandQueue, HandState

    c = classroom()
    up = c.hub.hand(c.people["mia"], Hand(room="lab", question="what is a byte?"))
    (news,) = [f for f in frames_to(up, "mia") if isinstance(f, HandNews)]
    assert (news.state, news.position) == (HandState.UP, 1)
    (queue,) = [f for f in frames_to(up, "mo") if isinstance(f, HandQueue)]
    assert [(h.name, h.question) for h in queue.queue] == [("mia", "what is a byte?")]
    assert not [f for f in frames_to(up, "gus") if isinstance(f, HandQueue)]  # staff only
    c.hub.hand(c.people["gus"], Hand(room="lab"))
    c.hub.hand(c.people["mia2"], Hand(room="lab"))
    # The teacher takes the next: mia's turn; the others move up.
    taken = c.hub.hand(c.people["olga"], Hand(room="lab", next=True))
    (turn,) = [f for f in frames_to(taken, "mia") if isinstance(f, HandNews)]
    assert (turn.state, turn.by) == (HandState.TURN, "olga")
    (moved,) = [f for f in frames_to(taken, "gus") if isinstance(f, HandNews)]
    assert moved.position == 1
    # A moderator lowers someone's hand; someone leaving takes theirs down.
    lowered = c.hub.hand(c.people["mo"], Hand(room="lab", name="gus", down=True))
    (down,) = [f for f in frames_to(lowered, "gus") if isinstance(f, HandNews)]
    assert (down.state, down.by) == (HandState.DOWN, "mo")
    gone = c.hub.part_room(c.people["mia2"], "lab")
    (queue,) = [f for f in frames_to(gone, "olga") if isinstance(f, HandQueue)]
    assert queue.queue == []
    # Only staff take or lower others' hands, or see the queue.
    for frame in (Hand(room="lab", next=True), Hand(room="lab", name="mia", down=True)):
        with pytest.raises(ProtocolError) as info:
            c.hub.hand(c.people["gus"], frame)
        assert info.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(ProtocolError):
        c.hub.hand_queue(c.people["mia"], "lab")


def test_an_announcement_counts_who_has_seen_it() -> None:
    from conexion_protocol import SeenCount

    c = classroom()
    refusal = None
    try:
        c.hub.say(c.people["mia"], "free pizza", room="lab", announce=True)
    except ProtocolError as exc:
        refusal = exc
    assert refusal is not None
    assert refusal.code is ErrorCode.FORBIDDEN
    ack, deliveries = c.hub.say(c.people["olga"], "exam on Friday", room="lab", announce=True)
    assert deliveries[0].out.frame.announcement is True
    others = len(c.hub.check_room("lab").members) - 1
    counts = c.hub.seen(c.people["mia"], "lab", ack.seq)
    (count,) = [f for f in frames_to(counts, "olga") if isinstance(f, SeenCount)]
    assert (count.seen, count.of) == (1, others)
    assert c.hub.seen(c.people["mia"], "lab", ack.seq) == []  # each person once
    assert c.hub.seen(c.people["olga"], "lab", None) == []  # the poster is not counted
    counts = c.hub.seen(c.people["gus"], "lab", None)  # None: the latest
    assert [f.seen for f in frames_to(counts, "mo") if isinstance(f, SeenCount)] == [2]
    with pytest.raises(ProtocolError):
        c.hub.seen(c.people["gus"], "lab", ack.seq + 1000)


def test_deleting_leaves_a_tombstone_in_history(tmp_path: Path) -> None:
    path = tmp_path / "class.db"
    c = classroom(SqliteStore(path, 600.0, 1000))
    mine, _ = c.hub.say(c.people["mia"], "oops, wrong room", room="lab")
    theirs, _ = c.hub.say(c.people["gus"], "something rude", room="lab")
    kept, _ = c.hub.say(c.people["gus"], "sorry", room="lab")
    with pytest.raises(ProtocolError) as info:
        c.hub.delete(c.people["mia"], "lab", theirs.seq)
    assert info.value.code is ErrorCode.FORBIDDEN
    (news,) = c.hub.delete(c.people["mia"], "lab", mine.seq)  # one's own
    assert (news.out.frame.seq, news.out.frame.by) == (mine.seq, "mia")
    c.hub.delete(c.people["mo"], "lab", theirs.seq)  # staff: anyone's
    with pytest.raises(ProtocolError):
        c.hub.delete(c.people["mo"], "lab", theirs.seq)  # gone already
    lab = c.hub.check_room("lab")

    def shown() -> list[tuple[str, str, bool]]:
        return [
            (m.from_, m.text, m.deleted)
            for m in c.hub.store.before(lab.key, None, 10)
            if m.seq in (mine.seq, theirs.seq, kept.seq)
        ]

    expected = [("mia", "", True), ("gus", "", True), ("gus", "sorry", False)]
    assert shown() == expected
    c.hub.store.flush()  # type: ignore[attr-defined]
    assert shown() == expected
    # Only a moderator's delete of someone else's message is audited.
    log = c.hub.audit(c.people["olga"], "lab", 50).entries
    assert [(e.action, e.name, e.seq) for e in log][-1] == (ModAction.DELETE, "gus", theirs.seq)
    assert ModAction.DELETE not in [e.action for e in log][:-1]
    c.hub.store.close()  # type: ignore[attr-defined]
    again = Class(SqliteStore(path, 600.0, 1000))
    c = again
    assert shown() == expected
    again.hub.store.close()  # type: ignore[attr-defined]
