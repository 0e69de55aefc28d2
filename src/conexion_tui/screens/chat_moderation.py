"""The chat screen's moderation and classroom side: the commands (/kick, /mute, /slow, /hand,
/announce, /delete …), the news they bring (system lines in the right room, tombstones, the
hands panel, announcements and their counts), your standing (the notices above the message box,
your role in the header), and the dialogs that explain a kick or a ban. A mixin of `ChatScreen`.
It decides no permission: every request goes to the server, which answers or refuses.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.content import Content

from conexion_protocol import (
    AuditLog,
    CodeInfo,
    Deleted,
    HandNews,
    HandQueue,
    HandState,
    ModAction,
    Moderation,
    Role,
    SeenCount,
    name_key,
)

from ..client import Barred, Outgoing, Request, RequestKind
from ..commands import (
    Announce,
    DeleteMessage,
    ListHands,
    LowerHand,
    MarkSeen,
    Moderate,
    NextHand,
    RaiseHand,
    Rank,
    SetMode,
    ShowAudit,
    ShowCode,
)
from ..entries import DELETED_TEXT, Entry, Kind
from ..news import (
    NEXT_KEY,
    SEEN_KEY,
    audit_line,
    banned_from_chat,
    hand_line,
    moderation_line,
    mute_words,
    put_out,
    queue_lines,
    seen_words,
    standing_notices,
    time_left,
)
from ..standing import Sanction, Standing
from ..widgets import ChatInput, HandsPanel, RoomNotice
from .audit import AuditDialog
from .channel import Batch, Channel, tombstone
from .delete import DeletePicker
from .sanction import SanctionDialog

# Refusals of one of our messages that leave its text in the box to try again.
KEEP_DRAFT = frozenset({"muted", "moderated", "slow_mode", "rate_limited"})
AUDIT_LIMIT = 200  # entries an /audit asks for (the protocol's most)
DELETE_CHOICES = 30  # recent messages the /delete picker offers
_DELETABLE = frozenset({Kind.CHAT, Kind.ACTION, Kind.ANNOUNCEMENT})
_STAFF_RANKS = {
    Rank.STAFF: (Role.MODERATOR, Role.OWNER, Role.ADMIN),
    Rank.OWNER: (Role.OWNER, Role.ADMIN),
    Rank.ADMIN: (Role.ADMIN,),
}


class ModerationActions:
    """What the moderation and classroom commands do, and how their news is
    shown, on the screen's channels, client, widgets and log. (Not typed as
    `ChatScreen`: that import would be a cycle.)"""

    # The footer's moderation keys as last shown (see `_refresh_keys`).
    _keys_shown: tuple[bool | None, ...] | None = None

    # -- where we stand ----------------------------------------------------------

    def standing_here(self) -> Standing:
        """Our standing in the room shown (a DM's is the default)."""
        channel = self.current
        return self.client.session.standing(channel.title if channel.room else "")

    def may(self, rank: Rank) -> bool:
        """Whether to offer a command of `rank` here (help, palette): the
        server still checks every request."""
        if rank is Rank.ANYONE:
            return True
        if rank is Rank.ADMIN:
            return self.client.session.admin
        if not self.current.room:
            return False
        return self.standing_here().role in _STAFF_RANKS[rank]

    def _refresh_standing(self) -> None:
        """The header's role, the notices, the hands panel and the footer's
        keys for the room shown."""
        if self.taken_down():
            return
        channel = self.current
        box = self.query_one("#input", ChatInput)
        box.placeholder = self._placeholder(channel)
        mute = self._mute_here(channel)
        box.set_class(mute is not None, "-muted")
        # Plain content: the reason and the moderator's name are untrusted.
        box.border_title = Content(f"muted · {self._mute_brief(mute)}") if mute else None
        if not channel.room or channel.gone is not None:
            self.header.role = ""
            self.query_one("#room-notice", RoomNotice).show([])
            self.query_one("#hands", HandsPanel).show(None)
            self._refresh_keys()
            return
        session = self.client.session
        standing = session.standing(channel.title)
        role = standing.role
        self.header.role = role if role in (Role.OWNER, Role.MODERATOR) else ""
        unseen = [channel.announced[s] for s in channel.unseen if s in channel.announced]
        notices = standing_notices(
            channel.label,
            standing,
            now=self.clock.now(),
            clock=self.clock,
            slow_wait=session.slow_wait(channel.title),
            waiting=len(session.held(channel.title)),
            unseen_from=unseen[-1].name if unseen else None,
            show_queue=not self.has_class("-wide"),
        )
        self.query_one("#room-notice", RoomNotice).show(notices)
        self.query_one("#hands", HandsPanel).show(standing.queue if standing.staff else None)
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Tell the footer when the keys it shows change, and only then: a
        refresh of the bindings rebuilds the whole footer (a dozen widgets
        mounted), which after every batch of a busy room held a keystroke
        up to 250 ms."""
        shown = (self._moderation_check("seen"), self._moderation_check("next_hand"))
        if shown != self._keys_shown:
            self._keys_shown = shown
            self.refresh_bindings()

    def _mute_here(self, channel: Channel) -> Sanction | None:
        if not channel.room or channel.gone is not None:
            return None
        return self.client.session.standing(channel.title).muted(self.clock.now())

    def _mute_brief(self, mute: Sanction) -> str:
        """What the message box's border says while we are muted."""
        if mute.until is None:
            until = "until lifted"
        else:
            left = time_left(mute.until - self.clock.now())
            until = f"until {self.clock.moment(mute.until)} ({left})"
        return until  # who and why are in the notice above

    def _standing_placeholder(self, channel: Channel) -> str | None:
        if channel.room and channel.gone is not None:
            return f"You are not in {channel.label} ({channel.gone}) · /join {channel.title}"
        if not channel.room:
            return None
        standing = self.client.session.standing(channel.title)
        mute = standing.muted(self.clock.now())
        if mute is not None:
            return f"You are muted in {channel.label} · commands still work (/hand, /part …)"
        if standing.mode.moderated and not standing.staff:
            return f"{channel.label} is moderated: only its moderators speak"
        return None

    def _tick(self) -> None:
        """Every second: count down, say when a mute ran out, and at
        midnight name the days again (`Today` becomes `Yesterday`)."""
        if self.taken_down():
            return
        now = self.clock.now()
        today = self.clock.day_key(now)
        if today != self._today:
            self._today = today
            for channel in self.channels.values():
                channel.log.relabel_days()
        session = self.client.session
        for channel in self.channels.values():
            shown = self._mutes_shown.get(channel.key)
            if shown is None:
                continue
            current = session.standing(channel.title).mute
            if current is not shown:
                self._mutes_shown.pop(channel.key)  # lifted or replaced: its news said so
            elif not shown.active(now):
                self._mutes_shown.pop(channel.key)
                channel.log.add(self._system(f"your mute in {channel.label} has run out"))
        self._refresh_standing()

    def _entered(self, channel: Channel) -> None:
        """A `room` answer told our standing in `channel`: remember a timed
        mute (to say when it runs out) and, as staff, ask for the queue of
        hands, which the server sends by itself only when it changes."""
        self._note_mute(channel)
        if self.client.session.standing(channel.title).staff:
            self.client.hands(channel.title)

    def _held_back(self, channel: Channel, text: str) -> bool:
        """Muted in `channel` (as far as we know): the message is not sent
        but put back in the box, and the log says why. The server would
        refuse it anyway; it still decides, since the mute may be over."""
        mute = self.client.session.standing(channel.title).muted(self.clock.now())
        if mute is None or channel is not self.current:
            return False
        box = self.query_one("#input", ChatInput)
        if not box.text:
            box.load_text(text)
            box.move_cursor(box.document.end)
        self.log_view.add(
            self._error(mute_words(channel.label, mute, self.clock.now(), self.clock))
        )
        return True

    def _note_mute(self, channel: Channel) -> None:
        """Remember the mute on us in `channel`, to say when it runs out."""
        mute = self.client.session.standing(channel.title).mute
        if mute is not None and mute.until is not None:
            self._mutes_shown[channel.key] = mute
        else:
            self._mutes_shown.pop(channel.key, None)

    def _moderation_check(self, action: str) -> bool | None:
        """Which of the moderation keys the footer shows (None: not ours)."""
        if action == "seen":
            return bool(self.current.unseen)
        if action == "next_hand":
            standing = self.standing_here()
            return standing.staff and bool(standing.queue)
        return None

    # -- typed commands ------------------------------------------------------------

    def _room_here(self, what: str) -> Channel | None:
        """The room shown, for a command that acts on a room; None (and why
        in the log) in a DM or a room we are out of."""
        channel = self.current
        if not channel.room:
            self.log_view.add(self._error(f"{what} works in a room, not in a direct conversation"))
            return None
        if channel.gone is not None:
            self.log_view.add(self._error(f"you are not in {channel.label} ({channel.gone})"))
            return None
        return channel

    def _asked(self, request_id: str | None, what: str) -> bool:
        if request_id is None:
            self.log_view.add(self._error(f"you are offline; {what} works once reconnected"))
            return False
        return True

    def _moderate(self, command: Moderate) -> None:
        word = f"/{'server' if command.server else ''}{command.action}"
        if not self._valid_name(command.name):
            return
        if command.server:
            asked = self.client.moderate(
                command.action,
                command.name,
                minutes=command.minutes,
                reason=command.reason,
                server=True,
            )
        else:
            channel = self._room_here(word)
            if channel is None:
                return
            asked = self.client.moderate(
                command.action,
                command.name,
                channel.title,
                minutes=command.minutes,
                reason=command.reason,
                role=command.role,
            )
        self._asked(asked, word)

    def _set_mode(self, command: SetMode) -> None:
        word = "/topiclock" if command.setting == "topic_lock" else f"/{command.setting}"
        channel = self._room_here(word)
        if channel is not None:
            settings: dict[str, bool | int] = {command.setting: command.value}
            self._asked(self.client.set_mode(channel.title, **settings), word)

    def _show_code(self, command: ShowCode) -> None:
        channel = self._room_here("/code")
        if channel is not None:
            self._asked(self.client.join_code(channel.title, rotate=command.rotate), "/code")

    def _show_audit(self, command: ShowAudit) -> None:
        room: str | None
        if command.server:
            room = None
        elif command.room is not None:
            room = command.room
        else:
            channel = self._room_here("/audit")
            if channel is None:
                return
            room = channel.title
        self._asked(self.client.audit(room, AUDIT_LIMIT), "/audit")

    def action_delete_message(self) -> None:
        channel = self._room_here("/delete")
        if channel is None:
            return
        staff = self.standing_here().staff
        choices: list[Entry] = []
        for entry in reversed(channel.log.entries):
            if entry.seq is None or entry.deleted or entry.kind not in _DELETABLE:
                continue
            if entry.own or staff:
                choices.append(entry)
                if len(choices) >= DELETE_CHOICES:
                    break
        room = channel.title

        def picked(seq: int | None) -> None:
            if seq is not None:
                self._asked(self.client.delete(room, seq), "/delete")

        self.app.push_screen(DeletePicker(room, choices, staff=staff, clock=self.clock), picked)

    def _hand(self, what: str, **request: object) -> None:
        channel = self._room_here(what)
        if channel is not None:
            self._asked(self.client.hand(channel.title, **request), what)  # type: ignore[arg-type]

    def action_raise_hand(self, question: str | None = None) -> None:
        self._hand("/hand", question=question)

    def action_lower_my_hand(self) -> None:
        self._hand("/hand down", down=True)

    def action_next_hand(self) -> None:
        self._hand("/next", next_=True)

    def _lower(self, name: str) -> None:
        if self._valid_name(name):
            self._hand("/lower", down=True, name=name)

    def _list_hands(self) -> None:
        channel = self._room_here("/hands")
        if channel is not None:
            asked = self.client.hands(channel.title)
            if self._asked(asked, "/hands") and asked is not None:
                self._hands_shown.add(asked)

    def action_seen(self) -> None:
        """F3: say we have seen the room's announcements (each once)."""
        channel = self.current
        if not channel.unseen:
            self.log_view.add(self._system("no announcement here waits to be acknowledged"))
            return
        if not channel.room or not self.client.online:
            self.log_view.add(self._error("you are offline; /seen works once reconnected"))
            return
        for seq in channel.unseen:
            if self.client.seen(channel.title, seq):
                channel.acked.add(seq)
                self._announcement_note(channel, seq)
        channel.unseen.clear()
        self._refresh_standing()

    def _run_moderation(self, command: object) -> bool:
        """Run a moderation or classroom command; False if `command` is none."""
        match command:
            case Moderate():
                self._moderate(command)
            case SetMode():
                self._set_mode(command)
            case ShowCode():
                self._show_code(command)
            case ShowAudit():
                self._show_audit(command)
            case DeleteMessage():
                self.action_delete_message()
            case RaiseHand(question=question):
                self.action_raise_hand(question)
            case LowerHand(name=None):
                self.action_lower_my_hand()
            case LowerHand(name=str(name)):
                self._lower(name)
            case NextHand():
                self.action_next_hand()
            case ListHands():
                self._list_hands()
            case Announce(text=text):
                if self._room_here("/announce") is not None:
                    self._send(text, announce=True)
            case MarkSeen():
                self.action_seen()
            case _:
                return False
        return True

    # -- news ----------------------------------------------------------------------

    def _moderation_news(self, news: Moderation, batch: Batch) -> None:
        """A moderator's action: a line in its room's log (ours for the
        whole server's, or a room we are not in), and what it changes here."""
        session = self.client.session
        line = moderation_line(news, session.is_me, self.clock)
        name = news.name if isinstance(news.name, str) else None
        about_me = name is not None and session.is_me(name)
        if not isinstance(news.room, str):
            if about_me and news.action is ModAction.BAN:
                self._banned(news, "", batch)
            else:
                batch.add(self.current, self._system(line, when=news.ts))
            return
        channel = self._room(news.room)
        if channel is None or channel.gone is not None:
            batch.add(self.current, self._system(line, when=news.ts))
            return
        batch.add(channel, self._system(line, when=news.ts))
        if name is not None and news.action in (ModAction.OP, ModAction.DEOP):
            role = news.role if isinstance(news.role, Role) else Role.MODERATOR
            if channel.roster.set_role(name, role if news.action is ModAction.OP else None):
                self._roster_changed(channel)
        if not about_me:
            return
        match news.action:
            case ModAction.KICK | ModAction.BAN:
                self._put_out[channel.key] = news  # the `left` that follows says we are out
            case ModAction.MUTE | ModAction.UNMUTE:
                self._note_mute(channel)
            case ModAction.OP:
                self.client.hands(channel.title)  # staff see the queue from now on

    def _put_out_of(self, channel: Channel, reason: str, batch: Batch) -> None:
        """We were kicked or banned from `channel`: it stays, marked, with its
        log, and a dialog explains who, why and until when."""
        news = self._put_out.pop(channel.key, None)
        why = put_out(channel.label, reason, news, now=self.clock.now(), clock=self.clock)
        channel.gone = why.brief
        channel.joining = False
        channel.unseen.clear()
        self._mutes_shown.pop(channel.key, None)
        line = " ".join(why.lines)
        batch.add(channel, self._error(line))
        if channel is not self.current:
            batch.add(self.current, self._error(line))
        batch.sidebar = True
        self._changed_channels()
        self.app.push_screen(SanctionDialog(why))

    def _banned(self, news: Moderation | None, said: str, batch: Batch) -> None:
        """We are banned from the whole chat (its news, or the refusal of our
        reconnect): every log says so, and a dialog offers to quit."""
        if self._banned_shown:
            return
        self._banned_shown = True
        why = banned_from_chat(news, said, now=self.clock.now(), clock=self.clock)
        line = " ".join(why.lines[:-1]) + " This client will not reconnect."
        for channel in self.channels.values():
            batch.add(channel, self._error(line))

        def chosen(quit_now: bool | None) -> None:
            if quit_now:
                self.app.exit(0)

        self.app.push_screen(SanctionDialog(why), chosen)

    def _barred(self, event: Barred, batch: Batch) -> None:
        self._banned(None, event.message, batch)

    def _deleted(self, frame: Deleted, batch: Batch) -> None:
        channel = self._room(frame.room)
        if channel is None:
            return
        # The message may have come in this very batch, not in its log yet.
        waiting = (e for e in reversed(batch.entries.get(channel, [])) if e.seq == frame.seq)
        entry = next(waiting, None) or channel.entry_with_seq(frame.seq)
        if entry is None:
            return  # not shown (older than the log, or cleared)
        by_other = name_key(frame.by) != name_key(entry.name) and not (
            entry.own and self.client.session.is_me(frame.by)
        )
        tombstone(entry)
        if by_other:
            entry.text = f"{DELETED_TEXT} by {frame.by}"
        if frame.seq in channel.unseen:
            channel.unseen.remove(frame.seq)
        channel.announced.pop(frame.seq, None)
        channel.log.touch(entry)

    def _hand_news(self, news: HandNews, batch: Batch) -> None:
        channel = self._room(news.room)
        if channel is None:
            return
        batch.add(channel, self._system(hand_line(news)))
        if news.state is HandState.TURN:
            by = news.by if isinstance(news.by, str) else "a moderator"
            self.app.notify(
                f"{by} is taking your question in {channel.label}.",
                title="Your turn",
                timeout=self.ui.notify_timeout,
                markup=False,
            )
            batch.ring = True  # once: the bell of the batch

    def _hand_queue(self, queue: HandQueue, request: Request | None, batch: Batch) -> None:
        channel = self._room(queue.room)
        if channel is None:
            return
        if request is not None and request.id in self._hands_shown:
            self._hands_shown.discard(request.id)
            for line in queue_lines(channel.title, queue.queue, self.clock):
                batch.add(channel, self._system(line))

    def _seen_count(self, count: SeenCount) -> None:
        channel = self._room(count.room)
        if channel is not None:
            self._announcement_note(channel, count.seq)

    def _code(self, info: CodeInfo, batch: Batch) -> None:
        channel = self._room(info.room) or self.current
        line = (
            f"the join code of #{info.room} is {info.code}: "
            f"/join {info.room} {info.code} enters it without an invitation"
        )
        batch.add(channel, self._system(line))

    def _audit(self, log: AuditLog) -> None:
        session = self.client.session
        where = f"#{log.room}" if isinstance(log.room, str) else "the server"
        count = len(log.entries)
        title = f"Audit · {where} · {count} entr{'y' if count == 1 else 'ies'}"
        lines = [audit_line(entry, session.is_me, self.clock) for entry in log.entries]
        self.app.push_screen(AuditDialog(title, lines))

    def _moderation_refused(self, request: Request, why: str, batch: Batch) -> bool:
        """The server refused a moderation or classroom request: say so in
        its room. False for a request that is none of those."""
        channel = self._room(request.room) if request.room else None
        words = {
            RequestKind.MOD: f"cannot {request.action} {request.name}",
            RequestKind.MODE: "cannot change the settings",
            RequestKind.CODE: "no join code",
            RequestKind.AUDIT: "no audit log",
            RequestKind.DELETE: "cannot delete that message",
            RequestKind.HAND: "hand not changed",
            RequestKind.HANDS: "no hands queue",
        }.get(request.kind)
        if words is None:
            return False
        batch.add(channel or self.current, self._error(f"{words}: {why}"))
        return True

    # -- announcements -------------------------------------------------------------

    def _announced(self, channel: Channel, entry: Entry, *, prompt: bool) -> None:
        """An announcement shown in `channel`: its count for staff, and
        (`prompt`) a request to acknowledge it."""
        seq = entry.seq
        if seq is None:
            return
        channel.announced[seq] = entry
        if prompt and not entry.own and seq not in channel.acked and seq not in channel.unseen:
            channel.unseen.append(seq)
        self._announcement_note(channel, seq, touch=False)

    def _own_announcement(self, channel: Channel, out: Outgoing, entry: Entry) -> None:
        """Our announcement was accepted: count from the others here now."""
        if out.seq is None:
            return
        channel.announced_to[out.seq] = max(0, channel.roster.count - 1)
        self._announced(channel, entry, prompt=False)

    def _announcement_note(self, channel: Channel, seq: int, *, touch: bool = True) -> None:
        entry = channel.announced.get(seq)
        if entry is None:
            return
        parts: list[str] = []
        if not entry.own:
            parts.append("seen ✓" if seq in channel.acked else f"{SEEN_KEY}: seen")
        counted = self.client.session.standing(channel.title).seen.get(seq)
        if counted is not None:
            parts.append(seen_words(*counted))
        elif entry.own and seq in channel.announced_to:
            parts.append(seen_words(0, channel.announced_to[seq]))
        note = " · ".join(parts)
        if note != entry.note:
            entry.note = note
            if touch:
                channel.log.touch(entry)

    def _refused_send(self, out: Outgoing) -> None:
        """A message refused for our standing (muted, moderated, slow mode):
        its text goes back in the box, if the box is empty, to try again."""
        if out.error_code not in KEEP_DRAFT or out.to is not None:
            return
        channel = self._room(out.room)
        if channel is None:
            return
        if channel is self.current:
            box = self.query_one("#input", ChatInput)
            if not box.text:
                box.load_text(out.text)
                box.move_cursor(box.document.end)
        elif not channel.draft:
            channel.draft = out.text

    # -- the palette -----------------------------------------------------------------

    def moderation_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """The palette's entries for the room shown, those our rank may use
        (hiding the rest is only a courtesy: the server checks)."""
        entries: list[tuple[str, str, Callable[[], object]]] = []
        room = self.current.room and self.current.gone is None
        standing = self.standing_here()

        def typed(text: str) -> Callable[[], object]:
            return lambda: self.prefill(text)

        if room:
            if standing.hand is HandState.UP:
                entries.append(("Lower my hand", "/hand down", self.action_lower_my_hand))
            else:
                entries.append(("Raise hand…", "/hand [QUESTION]", typed("/hand ")))
            entries.append(
                ("Delete a message…", "Yours, or as staff anyone's", self.action_delete_message)
            )
            if self.current.unseen:
                entries.append(
                    ("Seen", f"Acknowledge the announcements ({SEEN_KEY})", self.action_seen)
                )
        if room and self.may(Rank.STAFF):
            mode = standing.mode
            if standing.queue:
                first = standing.queue[0].name
                entries.append(
                    (f"Take the next hand ({first})", f"/next ({NEXT_KEY})", self.action_next_hand)
                )
                entries.extend(
                    (f"Lower {hand.name}'s hand", "/lower NAME", lambda n=hand.name: self._lower(n))
                    for hand in standing.queue
                )
            entries += [
                ("Announce…", "/announce TEXT: each member acknowledges it", typed("/announce ")),
                ("Kick…", "/kick NAME [REASON]", typed("/kick ")),
                ("Mute…", "/mute NAME [DURATION] [REASON]", typed("/mute ")),
                ("Unmute…", "/unmute NAME", typed("/unmute ")),
                ("Ban…", "/ban NAME [DURATION] [REASON]", typed("/ban ")),
                ("Unban…", "/unban NAME", typed("/unban ")),
                ("Make moderator…", "/op NAME [owner]", typed("/op ")),
                ("Take role away…", "/deop NAME", typed("/deop ")),
                ("Invite…", "/invite NAME (a private room)", typed("/invite ")),
                ("Raised hands in the log", "/hands", self._list_hands),
                (
                    f"Moderated {'off' if mode.moderated else 'on'}",
                    "/moderated on|off: only staff speak",
                    lambda: self._set_mode(SetMode("moderated", not mode.moderated)),
                ),
                (
                    "Slow mode off" if mode.slow else "Slow mode…",
                    "/slow SECONDS|off",
                    (lambda: self._set_mode(SetMode("slow", 0))) if mode.slow else typed("/slow "),
                ),
                (
                    f"Private {'off' if mode.private else 'on'}",
                    "/private on|off: invitation or join code",
                    lambda: self._set_mode(SetMode("private", not mode.private)),
                ),
                (
                    f"Topic lock {'off' if mode.topic_lock else 'on'}",
                    "/topiclock on|off: only staff set the topic",
                    lambda: self._set_mode(SetMode("topic_lock", not mode.topic_lock)),
                ),
            ]
        if room and self.may(Rank.OWNER):
            entries += [
                (
                    "Join code",
                    "/code: the private room's code",
                    lambda: self._show_code(ShowCode()),
                ),
                ("New join code", "/code new", lambda: self._show_code(ShowCode(rotate=True))),
                ("Audit log", "/audit: what staff did here", lambda: self._show_audit(ShowAudit())),
            ]
        if self.may(Rank.ADMIN):
            entries += [
                ("Server ban…", "/serverban NAME [DURATION] [REASON]", typed("/serverban ")),
                ("Lift a server ban…", "/serverunban NAME", typed("/serverunban ")),
                (
                    "Server audit log",
                    "/audit server",
                    lambda: self._show_audit(ShowAudit(server=True)),
                ),
            ]
        entries.append(("Join private room…", "/join ROOM CODE", typed("/join ")))
        return entries

    def prefill(self, text: str) -> None:
        """Put a command in the message box, ready for its arguments (Tab completes)."""
        box = self.query_one("#input", ChatInput)
        box.load_text(text)
        box.move_cursor(box.document.end)
        box.focus()


__all__ = ["KEEP_DRAFT", "ModerationActions"]
