"""The IRC session: a connection on `--irc-port` is an IRC client (irssi,
WeeChat, HexChat), served through the same backplane as JSON and plain-text
peers, so it has the same rooms (channels), limits and moderation.

Registration (PASS, NICK, USER; CAP with `server-time`, `message-tags`,
`echo-message` and `sasl` PLAIN) ends in the backplane's join; after it,
each command is one backplane request and each refusal the numeric an IRC
client expects. No asyncio, no sockets: the session hands lines in.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec

from conexion_protocol import (
    DEFAULT_ROOM,
    MAX_TOPIC_LEN,
    Ack,
    ErrorCode,
    LeftReason,
    Mod,
    ModAction,
    Mode,
    ProtocolError,
    Role,
    RoomInfo,
    Stored,
    TopicInfo,
    Users,
    Welcome,
    normalize_room,
    parse_ts,
)

from . import SERVER_ID, refusals
from . import ircformat as irc
from .backplane import Backplane, Maybe, Peer, ignore
from .config import ServerConfig
from .fanout import IRC, IRC_TIME
from .hub import Member, Outbound, Room
from .store import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

CAPS = ("server-time", "message-tags", "echo-message", "sasl")
CAP_VALUES = {"sasl": "PLAIN"}
# A role's prefix in NAMES and WHO, highest first (ISUPPORT PREFIX).
PREFIXES = {Role.ADMIN: "~", Role.OWNER: "~", Role.MODERATOR: "@"}
CHANMODES = (
    "b,,,imt"  # ban list; no key (private rooms take a join code); moderated, private, topic
)

# A refusal's numeric, by the protocol's error code, for a command on a channel.
_CHANNEL_NUMERICS = {
    ErrorCode.NO_SUCH_ROOM: "403",
    ErrorCode.NOT_IN_ROOM: "442",
    ErrorCode.ROOM_LIMIT: "405",
    ErrorCode.BANNED: "474",
    ErrorCode.PRIVATE_ROOM: "473",
    ErrorCode.FORBIDDEN: "482",
    ErrorCode.MUTED: "404",
    ErrorCode.MODERATED: "404",
    ErrorCode.SLOW_MODE: "404",
    ErrorCode.NO_SUCH_USER: "401",
}


class IrcHandler:
    json = False
    current_room = DEFAULT_ROOM  # IRC names the channel of every line

    def __init__(self, session: Peer, backplane: Backplane, config: ServerConfig) -> None:
        self.session = session
        self.backplane = backplane
        self.config = config
        self.nick = ""  # as given by NICK (before registration) or as the chat has it
        self.user_given = False
        self.negotiating = False  # CAP LS or REQ came: registration waits for CAP END
        self.caps: set[str] = set()
        self.server_password: str | None = None
        self.sasl_waiting = False  # AUTHENTICATE PLAIN came; its payload is next
        self.account: tuple[str, str] | None = None  # a verified SASL login
        self.joining = False
        self.away: str | None = None
        self.server = config.irc_name
        self.limited_in_a_row = 0  # sends refused for coming too fast, in a row

    # -- wording (the session's Handler) -----------------------------------------

    def form(self, room: Room | None) -> str:
        return IRC_TIME if "server-time" in self.caps else IRC

    def wire(self, out: Outbound) -> bytes:
        return out.irc_time if "server-time" in self.caps else out.irc

    def render_error(self, error: ProtocolError) -> bytes:
        return irc.notice(self.nick or "*", error.message)

    def too_long(self) -> bytes:
        return b"ERROR :Closing Link: a line over the length limit\r\n"

    def timed_out(self) -> bytes:
        return b"ERROR :Closing Link: registration timed out\r\n"

    def send(self, data: bytes) -> None:
        self.session.send(data)

    def numeric(self, code: str, *params: str) -> None:
        # Until the chat has given a name, numerics go to `*`.
        target = self.nick if self.joined else "*"
        self.session.send(irc.numeric(code, target, *params, server=self.server), urgent=True)

    def ask(
        self,
        request: Callable[[], Maybe[T]],
        on_answer: Callable[[T], None],
        on_refusal: Callable[[ProtocolError], None],
    ) -> None:
        """A backplane request, its refusal handled the same whether it is
        raised at once or comes later."""
        try:
            answer = request()
        except ProtocolError as exc:
            on_refusal(exc)
            return
        self.session.then(answer, on_answer, on_refusal)

    @property
    def joined(self) -> bool:
        return self.session.member is not None

    # -- lines in ---------------------------------------------------------------

    def handle(self, raw: bytes) -> None:
        body = raw.rstrip(b"\r\n")
        if body.startswith(b"@"):
            body = body.partition(b" ")[2]
        if len(body) > irc.MAX_LINE - 2:
            self.numeric("417", "Input line was too long")
            return
        parsed: irc.IrcLine | None
        try:
            parsed = irc.parse_line(raw.decode())
        except UnicodeDecodeError:
            if raw[:5].upper() != b"USER ":
                note = "that line is not UTF-8; set your client to UTF-8"
                self.send(irc.notice(self.nick or "*", note))
                return
            # Of USER only its being there counts: a client in another
            # encoding still gets in.
            parsed = irc.IrcLine("USER", ["-", "0", "*", "-"])
        if parsed is None:
            return
        try:
            self.command(parsed)
        except ProtocolError as exc:
            self.refused(exc)
        except StoreError as exc:
            self.session.note(
                "store", "%s: the store failed: %s", self.session.peer, exc, level=logging.ERROR
            )
            self.refused(refusals.store_failure())

    def command(self, line: irc.IrcLine) -> None:
        name, params = line.command, line.params
        early = {
            "CAP": self.cap,
            "AUTHENTICATE": self.authenticate,
            "PASS": self.pass_,
            "NICK": self.nick_,
            "USER": self.user,
            "PING": self.ping,
            "PONG": lambda _: None,
            "QUIT": self.quit,
        }
        handler = early.get(name)
        if handler is not None:
            handler(params)
            return
        if not self.joined:
            self.numeric("451", "You have not registered")
            return
        later: dict[str, Callable[[list[str]], None]] = {
            "JOIN": self.join,
            "PART": self.part,
            "PRIVMSG": lambda p: self.privmsg(p, notice=False),
            "NOTICE": lambda p: self.privmsg(p, notice=True),
            "TOPIC": self.topic,
            "NAMES": self.names,
            "WHO": self.who,
            "WHOIS": self.whois,
            "LIST": self.list_,
            "MOTD": lambda _: self.motd(),
            "LUSERS": lambda _: self.lusers(),
            "AWAY": self.away_,
            "MODE": self.mode,
            "KICK": self.kick,
            "INVITE": self.invite,
            "ISON": self.ison,
            "USERHOST": self.userhost,
        }
        handler = later.get(name)
        if handler is None:
            self.numeric("421", name, "Unknown command")
            return
        handler(params)

    def need(self, params: list[str], count: int, command: str) -> bool:
        if len(params) >= count:
            return True
        self.numeric("461", command, "Not enough parameters")
        return False

    # -- registration -----------------------------------------------------------

    def cap(self, params: list[str]) -> None:
        sub = params[0].upper() if params else ""
        if sub == "LS":
            if not self.joined:
                self.negotiating = True
            listed = " ".join(
                f"{c}={CAP_VALUES[c]}" if c in CAP_VALUES and params[1:2] == ["302"] else c
                for c in CAPS
            )
            self.send(irc.line(self.server, "CAP", self.nick or "*", "LS", listed))
        elif sub == "LIST":
            self.send(irc.line(self.server, "CAP", self.nick or "*", "LIST", " ".join(self.caps)))
        elif sub == "REQ":
            if not self.joined:
                self.negotiating = True
            wanted = params[1].split() if len(params) > 1 else []
            names = [w.removeprefix("-") for w in wanted]
            verdict = "ACK" if wanted and all(n in CAPS for n in names) else "NAK"
            if verdict == "ACK":
                for want in wanted:
                    if want.startswith("-"):
                        self.caps.discard(want[1:])
                    else:
                        self.caps.add(want)
            self.send(irc.line(self.server, "CAP", self.nick or "*", verdict, " ".join(wanted)))
        elif sub == "END":
            if self.negotiating:
                self.negotiating = False
                self.try_register()
        else:
            self.numeric("410", sub or "*", "Invalid CAP command")

    def authenticate(self, params: list[str]) -> None:
        if self.joined:
            self.numeric("907", "You have already authenticated")
            return
        if "sasl" not in self.caps or not params:
            self.numeric("904", "SASL authentication failed")
            return
        if not self.sasl_waiting:
            if params[0].upper() != "PLAIN":
                self.numeric("908", "PLAIN", "are available SASL mechanisms")
                self.numeric("904", "SASL authentication failed")
                return
            self.sasl_waiting = True
            self.send(b"AUTHENTICATE +\r\n")
            return
        self.sasl_waiting = False
        if params[0] == "*":
            self.numeric("906", "SASL authentication aborted")
            return
        try:
            fields = base64.b64decode(params[0], validate=True).decode().split("\0")
        except (binascii.Error, UnicodeDecodeError):
            fields = []
        if len(fields) != 3 or not fields[1] or not fields[2]:
            self.numeric("904", "SASL authentication failed")
            return
        _, name, password = fields

        def verified(account: str) -> None:
            self.account = (account, password)
            self.numeric(
                "900",
                irc.prefix(self.nick or account),
                account,
                f"You are now logged in as {account}",
            )
            self.numeric("903", "SASL authentication successful")

        def failed(exc: ProtocolError) -> None:
            self.numeric("904", f"SASL authentication failed: {exc.message}")

        self.ask(lambda: self.backplane.check_login(self.session, name, password), verified, failed)

    def pass_(self, params: list[str]) -> None:
        if self.joined:
            self.numeric("462", "You may not reregister")
        elif self.need(params, 1, "PASS"):
            self.server_password = params[0]

    def nick_(self, params: list[str]) -> None:
        if not params or not params[0]:
            self.numeric("431", "No nickname given")
            return
        wanted = params[0]
        if self.joined:
            if wanted != self.nick:
                self.ask(
                    lambda: self.backplane.rename(self.member, wanted),
                    ignore,
                    lambda exc: self.nick_refused(exc, wanted),
                )
            return
        self.nick = wanted
        self.try_register()

    def user(self, params: list[str]) -> None:
        if self.joined:
            self.numeric("462", "You may not reregister")
            return
        if self.need(params, 4, "USER"):
            self.user_given = True
            self.try_register()

    def try_register(self) -> None:
        if self.joined or self.joining or self.negotiating or not (self.nick and self.user_given):
            return
        session = self.session
        if not session.authenticate(self.server_password):
            self.numeric("464", "Password incorrect (PASS)")
            session.close(LeftReason.ERROR, b"ERROR :Closing Link: Password incorrect\r\n")
            return
        name, password = self.account if self.account is not None else (self.nick, None)
        self.joining = True
        self.ask(lambda: self.backplane.join(session, name, password), ignore, self.join_refused)

    def join_refused(self, exc: ProtocolError) -> None:
        self.joining = False
        wanted = self.nick
        if exc.code in (ErrorCode.NAME_TAKEN, ErrorCode.BAD_NAME, ErrorCode.LOGIN_REQUIRED):
            self.nick_refused(exc, wanted)
            return
        if exc.code is ErrorCode.BANNED:
            self.numeric("465", exc.message)
        self.send(irc.notice("*", exc.message))
        self.session.close(LeftReason.ERROR, f"ERROR :Closing Link: {exc.message}\r\n".encode())

    def nick_refused(self, exc: ProtocolError, wanted: str) -> None:
        if exc.code is ErrorCode.NAME_TAKEN:
            self.numeric("433", wanted, "Nickname is already in use")
        elif exc.code is ErrorCode.LOGIN_REQUIRED:
            self.numeric("433", wanted, f"{exc.message} (log in with SASL PLAIN)")
        elif exc.code is ErrorCode.BAD_NAME:
            self.numeric("432", wanted, f"Erroneous nickname: {exc.message}")
        else:
            self.refused(exc)

    def welcome(self, welcome: Welcome) -> None:
        """The chat let us in: the registration burst, then `general`."""
        self.nick = welcome.name
        nick = self.nick
        self.numeric("001", f"Welcome to the Conexion chat, {nick}")
        self.numeric("002", f"Your host is {self.server}, running {SERVER_ID}")
        self.numeric("003", "This server speaks IRC over the Conexion protocol")
        self.numeric("004", self.server, SERVER_ID, "i", "bimot")
        tokens = [
            "CASEMAPPING=ascii",
            "CHANTYPES=#",
            f"CHANNELLEN={irc.CHANNELLEN}",
            f"NICKLEN={irc.NICKLEN}",
            f"TOPICLEN={MAX_TOPIC_LEN}",
            "PREFIX=(qo)~@",
            f"CHANMODES={CHANMODES}",
            "NETWORK=Conexion",
            "SAFELIST",
            f"MAXCHANNELS={self.config.hub.max_rooms_per_user}",
        ]
        self.numeric("005", *tokens, "are supported by this server")
        self.lusers()
        self.motd(welcome.motd if isinstance(welcome.motd, str) else None)
        roles = welcome.roles if isinstance(welcome.roles, dict) else {}
        topic = self.backplane.topic(DEFAULT_ROOM)
        self.joined_room(DEFAULT_ROOM, topic.topic, welcome.users, roles, welcome.history)

    def joined_room(
        self,
        room: str,
        topic: str,
        users: list[str],
        roles: dict[str, Role],
        history: Sequence[Stored],
        topic_by: str | None = None,
        topic_ts: str | None = None,
    ) -> None:
        chan = irc.channel(room)
        self.send(irc.line(irc.prefix(self.nick), "JOIN", chan))
        if topic:
            self.numeric("332", chan, topic)
            if topic_by:
                self.numeric("333", chan, topic_by, _epoch(topic_ts))
        self.send_names(chan, users, roles)
        if "server-time" in self.caps:
            # Clients that show each line's own time can take a recap.
            recap = self.config.text_recap
            for message in history[-recap:] if recap else []:
                out = Outbound(message)
                self.send(out.irc_time)

    def send_names(self, chan: str, users: list[str], roles: dict[str, Role]) -> None:
        shown = [PREFIXES.get(roles.get(name), "") + name for name in users]  # type: ignore[arg-type]
        line, width = [], 0
        for name in shown:
            if width + len(name) > 400 and line:
                self.numeric("353", "=", chan, " ".join(line))
                line, width = [], 0
            line.append(name)
            width += len(name) + 1
        if line:
            self.numeric("353", "=", chan, " ".join(line))
        self.numeric("366", chan, "End of /NAMES list")

    # -- after registration -----------------------------------------------------

    @property
    def member(self) -> Member:
        member = self.session.member
        assert member is not None
        return member

    def refused(self, exc: ProtocolError, chan: str | None = None) -> None:
        if exc.code is ErrorCode.RATE_LIMITED:
            self.limited_in_a_row += 1
            if self.limited_in_a_row >= self.config.max_rate_limited:
                session = self.session
                session.note("too_fast", "%s kept sending too fast; closing", session.peer)
                session.close(LeftReason.ERROR, b"ERROR :Closing Link: Excess Flood\r\n")
                return
        code = _CHANNEL_NUMERICS.get(exc.code)
        if chan is not None and code is not None:
            self.numeric(code, chan, exc.message)
        else:
            self.send(irc.notice(self.nick or "*", exc.message))

    def ping(self, params: list[str]) -> None:
        self.session.send(
            irc.line(self.server, "PONG", self.server, params[0] if params else ""), urgent=True
        )

    def quit(self, params: list[str]) -> None:
        why = params[0] if params else "Client Quit"
        self.session.close(LeftReason.QUIT, f"ERROR :Closing Link: {why}\r\n".encode())

    def join(self, params: list[str]) -> None:
        if not self.need(params, 1, "JOIN"):
            return
        if params[0] == "0":
            for room in list(self.member.rooms.values()):
                self.ask(
                    lambda room=room: self.backplane.part(self.member, room.name),
                    ignore,
                    self.refused,
                )
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for i, chan in enumerate(params[0].split(",")):
            room = irc.room_of(chan)
            if room is None:
                self.numeric("403", chan, "No such channel")
                continue
            try:
                key = normalize_room(room)
            except ProtocolError as exc:
                self.numeric("479", chan, exc.message)
                continue
            if key in self.member.rooms:
                continue  # IRC servers let a JOIN of a channel one is in pass
            code = keys[i] if i < len(keys) and keys[i] else None
            self.ask(
                lambda room=room, code=code: self.backplane.enter(self.member, room, code),
                self.entered,
                lambda exc, chan=chan, code=code: self.enter_refused(exc, chan, code),
            )

    def entered(self, info: RoomInfo) -> None:
        roles = info.roles if isinstance(info.roles, dict) else {}
        by = info.topic_by if isinstance(info.topic_by, str) else None
        ts = info.topic_ts if isinstance(info.topic_ts, str) else None
        self.joined_room(info.room, info.topic, info.users, roles, info.history, by, ts)

    def enter_refused(self, exc: ProtocolError, chan: str, code: str | None) -> None:
        if exc.code is ErrorCode.PRIVATE_ROOM:
            self.numeric("475" if code else "473", chan, exc.message)
        elif exc.code is ErrorCode.BAD_FRAME:
            self.numeric("479", chan, exc.message)
        else:
            self.refused(exc, chan)

    def part(self, params: list[str]) -> None:
        if not self.need(params, 1, "PART"):
            return
        for chan in params[0].split(","):
            room = irc.room_of(chan)
            if room is None or self.key_of(room) not in self.member.rooms:
                self.numeric("442" if room else "403", chan, "You're not on that channel")
                continue
            self.ask(
                lambda room=room: self.backplane.part(self.member, room),
                ignore,
                lambda exc, chan=chan: self.refused(exc, chan),
            )

    @staticmethod
    def key_of(room: str) -> str | None:
        try:
            return normalize_room(room)
        except ProtocolError:
            return None

    def privmsg(self, params: list[str], *, notice: bool) -> None:
        if len(params) < 2 or not params[1]:
            if not notice:
                if params:
                    self.numeric("412", "No text to send")
                else:
                    self.numeric("411", "No recipient given (PRIVMSG)")
            return
        text, action = params[1], False
        if text.startswith("\x01"):
            body = text.strip("\x01")
            verb, _, rest = body.partition(" ")
            if verb.upper() != "ACTION":
                return  # other CTCP (VERSION, PING...): nothing the chat carries
            text, action = rest, True
        command = "NOTICE" if notice else "PRIVMSG"
        for target in params[0].split(","):
            self.send_to(target, text, action, command)

    def send_to(self, target: str, text: str, action: bool, command: str) -> None:
        member = self.member
        room = irc.room_of(target)

        def refused(exc: ProtocolError) -> None:
            if command == "PRIVMSG":  # a NOTICE is never answered with an error
                where = target if room is not None else None
                if exc.code is ErrorCode.NO_SUCH_USER:
                    self.numeric("401", target, "No such nick")
                elif exc.code in (ErrorCode.NO_SUCH_ROOM, ErrorCode.NOT_IN_ROOM) and room:
                    self.numeric(
                        "404" if exc.code is ErrorCode.NOT_IN_ROOM else "403", target, exc.message
                    )
                else:
                    self.refused(exc, where)

        def echo(ack: Ack, to: str = target) -> None:
            self.limited_in_a_row = 0
            if "echo-message" in self.caps:
                lines = irc.messages(irc.prefix(self.nick), command, to, text, action=action)
                self.send(irc.tagged(lines, ack.ts) if "server-time" in self.caps else lines)

        if room is not None:
            self.ask(
                lambda: self.backplane.say(member, text, id=None, room=room, action=action),
                echo,
                refused,
            )
        else:
            wire_text = f"* {text}" if action else text
            self.ask(
                lambda: self.backplane.dm(member, target, wire_text, id=None),
                lambda answer: echo(answer[0], answer[1]),
                refused,
            )

    def topic(self, params: list[str]) -> None:
        if not self.need(params, 1, "TOPIC"):
            return
        chan = params[0]
        room = irc.room_of(chan)
        if room is None:
            self.numeric("403", chan, "No such channel")
            return
        if len(params) > 1:
            self.ask(
                lambda: self.backplane.set_topic(self.member, room, params[1]),
                ignore,
                lambda exc: self.refused(exc, chan),
            )
            return
        info: TopicInfo = self.backplane.topic(room)
        if info.topic:
            self.numeric("332", chan, info.topic)
            if isinstance(info.by, str):
                self.numeric(
                    "333", chan, info.by, _epoch(info.ts if isinstance(info.ts, str) else None)
                )
        else:
            self.numeric("331", chan, "No topic is set")

    def names(self, params: list[str]) -> None:
        chans = (
            params[0].split(",")
            if params
            else [irc.channel(r.name) for r in self.member.rooms.values()]
        )
        for chan in chans:
            room = irc.room_of(chan)
            try:
                users: Users = self.backplane.who(room or "")
            except ProtocolError:
                self.numeric("366", chan, "End of /NAMES list")
                continue
            roles = users.roles if isinstance(users.roles, dict) else {}
            self.send_names(irc.channel(users.room), users.users, roles)

    def who(self, params: list[str]) -> None:
        mask = params[0] if params else "*"
        room = irc.room_of(mask)
        if room is not None:
            try:
                users = self.backplane.who(room)
            except ProtocolError:
                self.numeric("315", mask, "End of /WHO list")
                return
            roles = users.roles if isinstance(users.roles, dict) else {}
            for name in users.users:
                self.who_line(irc.channel(users.room), name, roles.get(name))
        else:
            found = self.backplane.find(mask)
            if found is not None:
                self.who_line("*", found.name, None)
        self.numeric("315", mask, "End of /WHO list")

    def who_line(self, chan: str, name: str, role: Role | None) -> None:
        flags = "G" if name == self.nick and self.away else "H"
        flags += PREFIXES.get(role, "") if role else ""
        self.numeric("352", chan, name, irc.HOST, self.server, name, flags, f"0 {name}")

    def whois(self, params: list[str]) -> None:
        if not self.need(params, 1, "WHOIS"):
            return
        name = params[-1]
        found = self.backplane.find(name)
        if found is None:
            self.numeric("401", name, "No such nick")
        else:
            self.numeric("311", found.name, found.name, irc.HOST, "*", found.name)
            chans = " ".join(irc.channel(r.name) for r in found.rooms.values())
            if chans:
                self.numeric("319", found.name, chans)
            self.numeric("312", found.name, self.server, "Conexion")
            if found.account is not None:
                self.numeric("330", found.name, found.account.name, "is logged in as")
        self.numeric("318", name, "End of /WHOIS list")

    def list_(self, params: list[str]) -> None:
        self.numeric("321", "Channel", "Users  Name")
        for summary in self.backplane.rooms().rooms:
            self.numeric("322", irc.channel(summary.room), str(summary.members), summary.topic)
        self.numeric("323", "End of /LIST")

    def motd(self, text: str | None = None) -> None:
        text = text if text is not None else self.config.hub.motd
        if not text:
            self.numeric("422", "MOTD File is missing")
            return
        self.numeric("375", f"- {self.server} Message of the day -")
        for one in text.splitlines() or [""]:
            self.numeric("372", f"- {one}")
        self.numeric("376", "End of /MOTD command")

    def lusers(self) -> None:
        count = len(self.backplane.who(DEFAULT_ROOM).users)
        rooms = len(self.backplane.rooms().rooms)
        self.numeric("251", f"There are {count} users and 0 invisible on 1 servers")
        self.numeric("254", str(rooms), "channels formed")
        self.numeric("255", f"I have {count} clients and 1 servers")

    def away_(self, params: list[str]) -> None:
        self.away = params[0] if params and params[0] else None
        if self.away:
            self.numeric("306", "You have been marked as being away")
        else:
            self.numeric("305", "You are no longer marked as being away")

    def ison(self, params: list[str]) -> None:
        names = " ".join(params).split()
        online = [m.name for n in names if (m := self.backplane.find(n)) is not None]
        self.numeric("303", " ".join(online))

    def userhost(self, params: list[str]) -> None:
        found = [m for n in params[:5] if (m := self.backplane.find(n)) is not None]
        self.numeric("302", " ".join(f"{m.name}=+{m.name}@{irc.HOST}" for m in found))

    def mode(self, params: list[str]) -> None:
        if not self.need(params, 1, "MODE"):
            return
        target = params[0]
        room = irc.room_of(target)
        if room is None:
            if target.lower() == self.nick.lower():
                self.numeric("221", "+")
            else:
                self.numeric("502", "Can't change mode for other users")
            return
        if len(params) == 1:
            try:
                info = self.backplane.rooms()
            except ProtocolError as exc:
                self.refused(exc, target)
                return
            if not any(self.key_of(r.room) == self.key_of(room) for r in info.rooms):
                self.numeric("403", target, "No such channel")
                return
            self.numeric("324", target, self.modes_of(room))
            return
        self.change_modes(target, room, params[1], params[2:])

    def modes_of(self, room: str) -> str:
        key = self.key_of(room)
        found = self.member.rooms.get(key or "")
        mode = found.rules.mode if found is not None else None
        letters = "+"
        if mode is not None:
            letters += "i" if mode.private else ""
            letters += "m" if mode.moderated else ""
            letters += "t" if mode.topic_lock else ""
        return letters

    def change_modes(self, chan: str, room: str, spec: str, args: list[str]) -> None:
        member, adding = self.member, True
        settings: dict[str, bool] = {}
        for letter in spec:
            if letter in "+-":
                adding = letter == "+"
            elif letter in "imt":
                settings[{"i": "private", "m": "moderated", "t": "topic_lock"}[letter]] = adding
            elif letter in "ob":
                if not args:
                    if letter == "b":
                        self.numeric("368", chan, "End of channel ban list")
                    continue
                name = args.pop(0).split("!")[0]
                if letter == "o":
                    action = ModAction.OP if adding else ModAction.DEOP
                else:
                    action = ModAction.BAN if adding else ModAction.UNBAN
                mod = Mod(action=action, name=name, room=room)
                self.ask(
                    lambda mod=mod: self.backplane.moderate(member, mod),
                    ignore,
                    lambda exc: self.refused(exc, chan),
                )
            else:
                self.numeric("472", letter, "is unknown mode char to me")
        if settings:
            change = msgspec.structs.replace(Mode(room=room), **settings)
            self.ask(
                lambda: self.backplane.set_mode(member, change),
                ignore,
                lambda exc: self.refused(exc, chan),
            )

    def kick(self, params: list[str]) -> None:
        if not self.need(params, 2, "KICK"):
            return
        chan, name = params[0], params[1]
        room = irc.room_of(chan)
        if room is None:
            self.numeric("403", chan, "No such channel")
            return
        mod = Mod(action=ModAction.KICK, name=name, room=room)
        if len(params) > 2 and params[2]:
            mod.reason = params[2]
        self.ask(
            lambda: self.backplane.moderate(self.member, mod),
            ignore,
            lambda exc: self.refused(exc, chan),
        )

    def invite(self, params: list[str]) -> None:
        if not self.need(params, 2, "INVITE"):
            return
        name, chan = params[0], params[1]
        room = irc.room_of(chan)
        if room is None:
            self.numeric("403", chan, "No such channel")
            return
        mod = Mod(action=ModAction.INVITE, name=name, room=room)
        self.ask(
            lambda: self.backplane.moderate(self.member, mod),
            lambda _: self.numeric("341", name, chan),
            lambda exc: self.refused(exc, chan),
        )


def _epoch(ts: str | None) -> str:
    """An RFC 3339 time as the seconds IRC's 333 carries."""
    seconds = parse_ts(ts) if ts else None
    return str(int(seconds)) if seconds is not None else "0"
