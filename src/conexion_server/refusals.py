"""Every refusal the chat gives, as a `ProtocolError` with its code and its
words, written once. The hub, the cluster and the handlers raise these; the
handlers render them for their wire format (an `error` frame or a `!` line).
"""

from __future__ import annotations

from conexion_protocol import PROTO_VERSION, ErrorCode, ProtocolError


def name_taken(name: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name} is taken")


def server_full() -> ProtocolError:
    return ProtocolError(ErrorCode.SERVER_FULL, "the server is full; try again later")


def too_many_from_address(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.SERVER_FULL, f"too many connections from your address (the limit is {limit})"
    )


def no_such_room(room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {room}")


def not_in_room(room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in {room}; join it first")


def too_many_rooms_for_you(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.ROOM_LIMIT, f"you are in {limit} rooms, the most one person may be in"
    )


def too_many_rooms(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.ROOM_LIMIT, f"this server has {limit} rooms, the most it keeps; join one of them"
    )


def may_not_create_rooms(who: str) -> ProtocolError:
    holders = "registered users" if who == "registered" else "admins"
    return ProtocolError(
        ErrorCode.FORBIDDEN, f"only {holders} may create rooms on this server; join an existing one"
    )


def no_such_user(name: str, id: str | None = None) -> ProtocolError:
    return ProtocolError(ErrorCode.NO_SUCH_USER, f"nobody called {name} is online", id)


def rate_limited(rate: float, id: str | None = None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.RATE_LIMITED, f"too many messages; the limit is {rate:g} a second", id
    )


def renaming_too_fast(per_minute: float) -> ProtocolError:
    return ProtocolError(
        ErrorCode.RATE_LIMITED, f"too many name changes; at most {per_minute:g} a minute"
    )


def not_joined() -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_JOINED, "send hello first")


def hello_again() -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FRAME, "already joined; hello comes once")


def history_of_two() -> ProtocolError:
    return ProtocolError(
        ErrorCode.BAD_FRAME, "a history request names a room or a person (`with`), not both"
    )


def unsupported_proto(asked: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNSUPPORTED_PROTO, f"this server speaks protocol {PROTO_VERSION}, not {asked}"
    )


def bad_password(given: bool) -> ProtocolError:
    words = "wrong password" if given else "this server asks for a password"
    return ProtocolError(ErrorCode.BAD_PASSWORD, words)


def too_long(limit: int) -> ProtocolError:
    return ProtocolError(ErrorCode.TOO_LONG, f"a frame is at most {limit} bytes")


class Unavailable(ProtocolError):
    """A cluster whose Redis cannot be reached: nothing was stored."""

    def __init__(self, id: str | None = None) -> None:
        # `server_full` is the protocol's code for "not now, try again later".
        super().__init__(
            ErrorCode.SERVER_FULL,
            "the chat's database is unreachable, so nothing was stored; try again shortly",
            id,
        )


def lost_claim(id: str | None = None) -> ProtocolError:
    """A cluster that no longer holds the asker's name (Redis lost it, or gave
    the instance up for dead)."""
    return ProtocolError(
        ErrorCode.NOT_JOINED, "you are no longer in the chat; connect again to rejoin", id
    )


def internal_failure() -> ProtocolError:
    """A bug or an unexpected failure while serving a request."""
    return ProtocolError(ErrorCode.SERVER_FULL, "the server failed; try again")


def store_failure(id: str | None = None) -> ProtocolError:
    """The store could not read or write what the request needs."""
    return ProtocolError(
        ErrorCode.SERVER_FULL, "the server cannot read its history just now; try again later", id
    )


def login_required(name: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.LOGIN_REQUIRED, f"the name {name} is registered; log in with its password"
    )


def bad_login(name: str, hold: float = 0.0) -> ProtocolError:
    refusal = ProtocolError(ErrorCode.BAD_LOGIN, f"wrong password for {name}")
    refusal.hold = hold
    return refusal


def account_name_stays(name: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.FORBIDDEN,
        f"{name} is your registered name; you may change how it is written, not the name",
    )


def account_required() -> ProtocolError:
    return ProtocolError(
        ErrorCode.ACCOUNT_REQUIRED,
        "this server lets in registered names only; ask its operator for an account",
    )


def weak_password(why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.WEAK_PASSWORD, why)


def already_registered(name: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, f"the name {name} is registered already")


def registration_closed() -> ProtocolError:
    return ProtocolError(
        ErrorCode.FORBIDDEN, "accounts on this server are made by its operator; ask them for one"
    )


def not_logged_in() -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_REGISTERED, "you are a guest; /register to have a password")


# -- moderation ------------------------------------------------------------------------


def _sanction_words(by: str, until: str | None, reason: str) -> str:
    words = f" by {by}"
    words += f" until {until}" if until else " until a moderator lifts it"
    return words + (f" ({reason})" if reason else "")


def muted(
    room: str, by: str, until: str | None, reason: str, id: str | None = None
) -> ProtocolError:
    return ProtocolError(
        ErrorCode.MUTED,
        f"you are muted in {room}{_sanction_words(by, until, reason)}; nothing was sent",
        id,
    )


def banned_from_room(room: str, by: str, until: str | None, reason: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.BANNED, f"you are banned from {room}{_sanction_words(by, until, reason)}"
    )


def banned_from_server(by: str, until: str | None, reason: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.BANNED, f"you are banned from this chat{_sanction_words(by, until, reason)}"
    )


def moderated(room: str, id: str | None = None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.MODERATED,
        f"{room} is moderated: only its moderators speak there now; nothing was sent",
        id,
    )


def slow_mode(room: str, every: int, wait: float, id: str | None = None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.SLOW_MODE,
        f"{room} is in slow mode (one message every {every} s); wait {max(1, round(wait))} s,"
        " nothing was sent",
        id,
    )


def private_room(room: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.PRIVATE_ROOM,
        f"{room} is private: you need an invitation or its join code",
    )


def wrong_code(room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.PRIVATE_ROOM, f"that is not the join code of {room}")


def not_staff(room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, f"only the moderators of {room} may do that")


def not_owner(room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, f"only the owners of {room} and admins may do that")


def not_admin() -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, "only the server's admins may do that")


def outranked(name: str, what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, f"{name} is {what}: you cannot do that to them")


def not_yourself() -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, "you cannot do that to yourself")


def roles_need_accounts(name: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.NOT_REGISTERED, f"{name} is a guest: roles belong to registered names"
    )


def not_here(name: str, room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NO_SUCH_USER, f"{name} is not in {room}")


def server_wide_bans_only() -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FRAME, "only ban and unban apply to the whole server")


def not_a_person_action(action: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FRAME, f"{action} is not done to a person; see `mode`")


def no_grantable_role(role: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.BAD_FRAME, f"{role} is not a room role; grant moderator or owner"
    )


def no_role_to_take(name: str, room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, f"{name} has no role in {room}")


def topic_locked(room: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.FORBIDDEN, f"the topic of {room} is locked: only its moderators change it"
    )


def not_private(room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, f"{room} is not private, so it has no join code")


def hand_of_another() -> ProtocolError:
    return ProtocolError(
        ErrorCode.BAD_FRAME, "raise your own hand; staff may lower someone's with `down`"
    )


def hand_not_raised(name: str, room: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NO_SUCH_USER, f"{name} has no hand raised in {room}")


def staff_announce(room: str, id: str | None = None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.FORBIDDEN, f"only the moderators of {room} make announcements there", id
    )


def no_announcement(room: str, seq: int | None) -> ProtocolError:
    if seq is None:
        return ProtocolError(ErrorCode.BAD_FRAME, f"there is no recent announcement in {room}")
    return ProtocolError(
        ErrorCode.BAD_FRAME, f"message {seq} of {room} is not a recent announcement"
    )


def no_such_message(room: str, seq: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.NO_SUCH_MESSAGE, f"there is no message {seq} in {room} (or it is gone)"
    )


def not_registered_name(name: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_LOGIN, f"{name} is not a registered name")


def not_yours_to_edit() -> ProtocolError:
    return ProtocolError(
        ErrorCode.FORBIDDEN, "you may edit your own messages; only moderators edit others'"
    )


def reaction_limit(limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.REACTION_LIMIT,
        f"that message has {limit} different reactions already; add yours to one of them",
    )


def search_too_long(limit: int) -> ProtocolError:
    return ProtocolError(ErrorCode.TOO_LONG, f"a search is at most {limit} characters")


def nothing_to_act_on(what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NO_SUCH_MESSAGE, what)


def not_yours() -> ProtocolError:
    return ProtocolError(
        ErrorCode.FORBIDDEN, "you may delete your own messages; only moderators delete others'"
    )
