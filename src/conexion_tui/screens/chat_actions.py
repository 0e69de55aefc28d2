"""The chat screen's message actions: each room's `MessageBook` and the log entries it dresses
(Markdown, quotes, reactions, edits, tombstones), the selected message's keys (reply, react,
edit, delete, expand, go to the original), replying and editing in the message box, search, and
`/paste`. A mixin of `ChatScreen`; it sends only the requests those keys ask for.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual.app import SuspendNotSupported

from conexion_protocol import (
    UNSET,
    Delete,
    Deleted,
    DirectMessage,
    Edit,
    Edited,
    Found,
    Message,
    ProtocolError,
    React,
    Reacted,
    Search,
    Stored,
    clean_text,
)

from ..actions import MessageBook, MessageState
from ..client import Outgoing, Request, RequestKind
from ..commands import keeps_secret
from ..compose import (
    MAX_PASTE_BYTES,
    ComposeError,
    OpenEditor,
    PasteError,
    PasteFile,
    ReactToLatest,
    SearchFor,
    code_block,
    expand_shortcodes,
    parse_action_line,
)
from ..conversation import Paging, dm_key, partner
from ..editor import EditorFailed, edit_text
from ..entries import Entry, clean
from ..message_view import MessageView, ViewContext, needs_view
from ..widgets import ChatInput
from ..widgets.action_log import ActionLog
from ..widgets.compose_bar import ComposeBar
from .channel import Batch, Channel
from .confirm_delete import ConfirmDelete
from .react_picker import ReactPicker
from .search import SearchScreen

# Pages of history asked for at most to find a message to jump to: a reply's
# original or a search hit (at most 200 messages a page).
JUMP_PAGES = 10
JUMP_PAGE_SIZE = 200
_SNIPPET = 60  # characters of a message quoted in the bar above the box


@dataclass(slots=True, eq=False)
class RoomMessages:
    """A room's messages now, and the log entry showing each (by seq)."""

    book: MessageBook
    entries: dict[int, Entry] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Replying:
    channel: Channel
    seq: int
    author: str


@dataclass(slots=True, frozen=True)
class Editing:
    channel: Channel
    seq: int
    text: str  # as it was: sending it unchanged sends nothing


@dataclass(slots=True)
class Jump:
    seq: int
    pages: int = JUMP_PAGES  # pages still to ask for before giving up


class MessageActions:
    """Uses the screen's channels, client, clock, log views and entry
    builders. (Not typed as `ChatScreen`: that import would be a cycle.)"""

    def _init_actions(self) -> None:
        self._rooms_messages: weakref.WeakKeyDictionary[Channel, RoomMessages] = (
            weakref.WeakKeyDictionary()
        )
        self._view_context = ViewContext(self.me)
        self._composing: Replying | Editing | None = None
        self._jumps: weakref.WeakKeyDictionary[Channel, Jump] = weakref.WeakKeyDictionary()
        self._search_screen: SearchScreen | None = None
        # DM entries by seq, for going to a search hit (DMs take no actions,
        # so their entries carry no seq and cannot be selected).
        self._dm_entries: weakref.WeakKeyDictionary[Channel, dict[int, Entry]] = (
            weakref.WeakKeyDictionary()
        )

    def _messages_of(self, channel: Channel) -> RoomMessages:
        found = self._rooms_messages.get(channel)
        if found is None:
            found = self._rooms_messages[channel] = RoomMessages(MessageBook(self.ui.scrollback))
        return found

    def _entry_of(self, channel: Channel, seq: int) -> Entry | None:
        """The entry showing message `seq`, if it is still in the log."""
        entry = self._messages_of(channel).entries.get(seq)
        if entry is None or not _in_log(channel.log, entry):
            return None
        return entry

    # -- dressing entries -----------------------------------------------------------

    def _dressed(self, message: Stored, entry: Entry) -> Entry:
        """A message's entry, with its state kept and its rich look when it needs one."""
        context = self._view_context
        context.viewer = self.me
        if isinstance(message, DirectMessage):
            if needs_view(message.text):
                entry.view = MessageView(context)
            channel = self.channels.get(dm_key(partner(message, self.me)))
            if channel is not None:
                seqs = self._dm_entries.setdefault(channel, {})
                seqs[message.seq] = entry
                if len(seqs) > 2 * self.ui.scrollback:  # what scrolled out of the log
                    for seq in sorted(seqs)[: len(seqs) - self.ui.scrollback]:
                        del seqs[seq]
            return entry
        channel = self._room(message.room)
        if channel is None:
            return entry
        messages = self._messages_of(channel)
        book = messages.book
        plain = book.keep(message)
        entry.seq = message.seq
        messages.entries[message.seq] = entry
        self._forget_pruned(messages)
        if not plain or needs_view(message.text):
            entry.view = MessageView(context, book.get(message.seq), book)
        if book.has_replies(message.seq):  # an original loaded after its replies
            for reply in book.replies_to(message.seq):
                shown = messages.entries.get(reply.seq)
                if shown is not None:
                    channel.log.touch(shown)
        return entry

    def _forget_pruned(self, messages: RoomMessages) -> None:
        # The entries of what the book pruned, and only those: no sweep. (One
        # pruned and kept again since, by a history page, stays.)
        entries, book = messages.entries, messages.book
        for seq in book.take_dropped():
            if seq not in book:
                entries.pop(seq, None)

    def _redress(self, channel: Channel, entry: Entry, state: MessageState) -> None:
        """A message changed: its entry shows it as it is now."""
        entry.text = clean(state.text)
        entry.text_cells = -1
        if isinstance(entry.view, MessageView):
            entry.view.state = state
        else:
            book = self._messages_of(channel).book
            entry.view = MessageView(self._view_context, state, book)
        channel.log.touch(entry)

    def _own_sent(self, channel: Channel, entry: Entry, out: Outgoing) -> None:
        """Our own message, just typed: its look before the server has it."""
        if out.reply_to is not None:
            book = self._messages_of(channel).book
            original = book.get(out.reply_to)
            author = original.author if original is not None else None
            state = MessageState(
                0, self.me, out.text, out.action, reply_to=out.reply_to, reply_from=author
            )
            entry.view = MessageView(self._view_context, state, book)
        elif needs_view(out.text):
            entry.view = MessageView(self._view_context)

    def _own_acked(self, out: Outgoing) -> None:
        """Our message got its seq: from now on it can be acted on."""
        own = self._own.get(out.id)
        if own is None or out.seq is None or out.to is not None:
            return
        channel, entry = own
        if not channel.room:
            return
        messages = self._messages_of(channel)
        state = messages.book.add_own(
            out.seq, self.me, out.text, action=out.action, reply_to=out.reply_to
        )
        entry.seq = out.seq
        messages.entries[out.seq] = entry
        if isinstance(entry.view, MessageView):
            entry.view.state, entry.view.book = state, messages.book

    # -- news about messages -------------------------------------------------------

    def _message_changed(self, frame: Edited | Reacted | Deleted, batch: Batch) -> None:
        channel = self._room(frame.room)
        if channel is None:
            return
        messages = self._messages_of(channel)
        book = messages.book
        match frame:
            case Edited():
                state = book.edited(frame)
            case Reacted():
                state = book.reacted(frame)
            case Deleted():
                state = book.deleted(frame.seq)
        if state is None:
            return  # not loaded: a page of history brings it as it is now
        entry = messages.entries.get(frame.seq)
        if entry is not None:
            self._redress(channel, entry, state)
        if isinstance(frame, Edited | Deleted):
            for reply in book.replies_to(frame.seq):  # their quote line shows it
                reply_entry = messages.entries.get(reply.seq)
                if reply_entry is not None:
                    channel.log.touch(reply_entry)
        composing = self._composing
        if (
            isinstance(frame, Deleted)
            and composing is not None
            and (composing.channel, composing.seq) == (channel, frame.seq)
        ):
            self._compose_mode(None)
            batch.add(channel, self._error("the message you were answering was deleted"))

    def _refresh_known(self, channel: Channel, history: list[Stored]) -> None:
        """A reconnect's history: messages already shown may have changed meanwhile."""
        messages = self._messages_of(channel)
        for message in history:
            if isinstance(message, Message) and message.seq in messages.book:
                entry = messages.entries.get(message.seq)
                state = messages.book.add(message)
                if entry is not None and _in_log(channel.log, entry):
                    self._redress(channel, entry, state)

    # -- selecting ---------------------------------------------------------------------

    def action_select_message(self, step: int) -> None:
        log = self.log_view
        if not isinstance(log, ActionLog) or log.move(step) is None:
            self.app.bell()
            return
        # At once, not deferred as `focus()` is: a focus event for the input
        # still on its way must find the log focused and keep the selection.
        self.set_focus(log)

    def on_action_log_typed(self, event: ActionLog.Typed) -> None:
        box = self.query_one("#input", ChatInput)
        box.focus()
        box.insert(event.character)

    def on_descendant_focus(self, event: object) -> None:
        widget = getattr(event, "widget", None)
        log = self.log_view
        # Only if the input still has the focus: the event may be older than a
        # selection made since, which moved the focus to the log.
        if (
            isinstance(widget, ChatInput)
            and widget is self.focused
            and isinstance(log, ActionLog)
            and log.selected
        ):
            log.select(None)

    def _cancel_action(self) -> bool:
        """Esc: end a reply or an edit, else a selection; False if there was neither."""
        composing = self._composing
        if composing is not None:
            self._compose_mode(None)
            if isinstance(composing, Editing):
                self.query_one("#input", ChatInput).load_text("")
            return True
        log = self.log_view
        if isinstance(log, ActionLog) and log.selected is not None:
            log.select(None)
            self.query_one("#input", ChatInput).focus()
            return True
        return False

    def on_action_log_act(self, event: ActionLog.Act) -> None:
        channel = next((c for c in self.channels.values() if c.log is event.log), None)
        entry = event.entry
        if channel is None or entry.seq is None:
            return
        state = self._messages_of(channel).book.get(entry.seq)
        view = entry.view if isinstance(entry.view, MessageView) else None
        if state is None:
            self.app.bell()
            return
        match event.what:
            case "reply":
                self._start_reply(channel, state)
            case "react":
                self._pick_reaction(channel, state)
            case "edit":
                if view is not None and view.folded and not view.expanded:
                    view.expanded = True
                    channel.log.touch(entry)
                elif state.by(self.me) and not state.deleted:
                    self._start_edit(channel, state)
                elif view is not None and view.expanded:
                    view.expanded = False
                    channel.log.touch(entry)
                else:
                    self._refuse("you can edit your own messages only")
            case "delete":
                if state.deleted:
                    self._refuse("that message is deleted already")
                elif not state.by(self.me):
                    self._refuse("you can delete your own messages only")
                else:
                    self._confirm_delete(channel, state)
            case "open":
                if state.reply_to is None:
                    self.app.bell()
                else:
                    self._go_to_message(channel, state.reply_to)

    def _refuse(self, why: str) -> None:
        self.log_view.add(self._error(why))

    # -- the message box: replying and editing ------------------------------------------

    def _compose_bar(self) -> ComposeBar:
        found = self.query(ComposeBar)
        if found:
            return found.first()
        bar = ComposeBar(id="compose-mode")
        self.mount(bar, before=self.query_one("#input", ChatInput))
        return bar

    def _compose_mode(self, mode: Replying | Editing | None) -> None:
        self._composing = mode
        match mode:
            case Replying(author=author, seq=seq, channel=channel):
                state = self._messages_of(channel).book.get(seq)
                line = Text("↪ replying to ")
                line.append(clean(author, single_line=True), "bold")
                line.append(f" in {clean(channel.label, single_line=True)}")
                line.append(": " + _snippet(state.text if state else ""))
                line.append(" · Esc cancels", "dim")
                self._compose_bar().say(line)
            case Editing():
                line = Text("✎ editing your message · Enter saves · Esc cancels")
                self._compose_bar().say(line)
            case None:
                if self.query(ComposeBar):
                    self._compose_bar().say(None)

    def _start_reply(self, channel: Channel, state: MessageState) -> None:
        if state.deleted:
            self._refuse("a deleted message cannot be answered")
            return
        self._compose_mode(Replying(channel, state.seq, state.author))
        self.query_one("#input", ChatInput).focus()

    def _start_edit(self, channel: Channel, state: MessageState) -> None:
        self._compose_mode(Editing(channel, state.seq, state.text))
        box = self.query_one("#input", ChatInput)
        box.load_text(state.text)
        box.move_cursor(box.document.end)
        box.focus()

    def _edit_last(self) -> str | None:
        """Up on an empty box: edit our latest message in the room shown."""
        channel = self.current
        if not channel.room:
            return None
        state = self._messages_of(channel).book.latest(by=self.me)
        if state is None:
            return None
        self._compose_mode(Editing(channel, state.seq, state.text))
        return state.text

    def on_chat_input_walked(self, _event: ChatInput.Walked) -> None:
        if isinstance(self._composing, Editing):
            self._compose_mode(None)  # another line came back: that is a new message

    def _leaving_conversation(self) -> None:
        """Another conversation is shown: a reply or an edit in progress ends
        (an edit's text is not kept as a draft, where Enter would send it anew)."""
        composing = self._composing
        if composing is None:
            return
        self._compose_mode(None)
        if isinstance(composing, Editing):
            self.query_one("#input", ChatInput).load_text("")

    def _renamed_in_reactions(self, old: str, new: str) -> None:
        for messages in self._rooms_messages.values():
            messages.book.renamed(old, new)
        self._view_context.viewer = self.me

    def _take_reply(self, channel: Channel) -> int | None:
        """The seq a `say` in `channel` answers (the reply is then sent)."""
        composing = self._composing
        if isinstance(composing, Replying) and composing.channel is channel:
            self._compose_mode(None)
            return composing.seq
        return None

    def _action_submit(self, text: str) -> str | None:
        """A typed line before the commands see it: an edit being saved, a
        message action line, or shortcodes to turn into emoji. None when
        handled here; otherwise the line to go on with."""
        composing = self._composing
        command = text.lstrip().startswith("/") and not text.lstrip().startswith("//")
        if isinstance(composing, Editing) and not command:
            self._compose_mode(None)
            self._save_edit(composing, expand_shortcodes(text.strip("\n")))
            return None
        match parse_action_line(text):
            case SearchFor(text=query):
                self.action_search(query)
                return None
            case PasteFile(path=path):
                self._paste(path)
                return None
            case OpenEditor():
                self.action_editor()
                return None
            case ReactToLatest(emoji=emoji):
                self._react_to_latest(emoji)
                return None
            case ComposeError(message=message):
                self._refuse(message)
                return None
        return text if keeps_secret(text) else expand_shortcodes(text)

    def _save_edit(self, editing: Editing, text: str) -> None:
        if text == editing.text:
            return  # nothing changed: nothing to send
        try:
            clean_text(text)
        except ProtocolError as exc:
            self._refuse(f"not saved: {exc.message} ({exc.code})")
            return
        room = editing.channel.title
        seq = editing.seq
        asked = self.client.request(
            RequestKind.EDIT, lambda i: Edit(room=room, seq=seq, text=text, id=i), room=room
        )
        if asked is None:
            self._refuse("you are offline; the edit was not sent")

    # -- reacting and deleting ---------------------------------------------------------

    def _pick_reaction(self, channel: Channel, state: MessageState) -> None:
        if state.deleted:
            self._refuse("a deleted message takes no reactions")
            return
        held = frozenset(e for e in state.reactions if state.holds(e, self.me))

        def picked(emoji: str | None) -> None:
            if emoji:
                self._react(channel, state, emoji)

        self.app.push_screen(ReactPicker(held), picked)

    def _react(self, channel: Channel, state: MessageState, emoji: str) -> None:
        """Give `emoji`, or take it back when we hold it: with an explicit `on`,
        so sending it twice is the same as once."""
        on = not state.holds(emoji, self.me)
        room, seq = channel.title, state.seq
        asked = self.client.request(
            RequestKind.REACT,
            lambda i: React(room=room, seq=seq, emoji=emoji, on=on, id=i),
            room=room,
        )
        if asked is None:
            self._refuse("you are offline; the reaction was not sent")

    def _react_to_latest(self, emoji: str) -> None:
        channel = self.current
        state = self._messages_of(channel).book.latest() if channel.room else None
        if state is None:
            self._refuse("no message here to react to")
            return
        self._react(channel, state, emoji)

    def _confirm_delete(self, channel: Channel, state: MessageState) -> None:
        room, seq = channel.title, state.seq

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            asked = self.client.request(
                RequestKind.DELETE, lambda i: Delete(room=room, seq=seq, id=i), room=room
            )
            if asked is None:
                self._refuse("you are offline; nothing was deleted")

        self.app.push_screen(ConfirmDelete(state.text), answered)

    # -- going to a message ---------------------------------------------------------------

    def _go_to_message(self, channel: Channel, seq: int) -> None:
        """Select message `seq` of `channel`, loading older pages until it is there."""
        if channel is not self.current:
            self.switch_to(channel)
        entry = self._entry_of(channel, seq) if channel.room else self._dm_entry(channel, seq)
        if entry is not None:
            self._show_found(channel, entry)
            return
        oldest = channel.conversation.oldest
        if oldest is not None and seq >= oldest:
            self._refuse("that message is not in this log any more")
            return
        self._jumps[channel] = Jump(seq)
        self._ask_jump_page(channel)

    def _ask_jump_page(self, channel: Channel) -> None:
        jump = self._jumps.get(channel)
        conversation = channel.conversation
        if jump is None or conversation.paging is Paging.ASKED:
            return  # a page is on its way: its answer carries on
        request = conversation.next_page()
        if request is None or jump.pages <= 0:
            del self._jumps[channel]
            self._refuse("that message is no longer in the history")
            return
        jump.pages -= 1
        before = request.before
        limit = JUMP_PAGE_SIZE if before is None else max(1, min(JUMP_PAGE_SIZE, before - jump.seq))
        if channel.room:
            asked = self.client.history(before, limit, room=channel.title)
        else:
            asked = self.client.history(before, limit, with_=channel.title)
        if asked:
            conversation.page_asked()
            channel.log.add(self._system("loading older messages to find it…"))
        else:
            del self._jumps[channel]
            self._refuse("you are offline; it cannot be loaded now")

    def _jump_progress(self, channel: Channel) -> None:
        """A page of older messages arrived: the one we look for may be in it."""
        jump = self._jumps.get(channel)
        if jump is None:
            return
        entry = (
            self._entry_of(channel, jump.seq) if channel.room else self._dm_entry(channel, jump.seq)
        )
        if entry is not None:
            del self._jumps[channel]
            if channel is self.current:
                self._show_found(channel, entry)
            return
        self._ask_jump_page(channel)

    def _dm_entry(self, channel: Channel, seq: int) -> Entry | None:
        entry = self._dm_entries.get(channel, {}).get(seq)
        return entry if entry is not None and _in_log(channel.log, entry) else None

    def _show_found(self, channel: Channel, entry: Entry) -> None:
        log = channel.log
        if isinstance(log, ActionLog):
            if entry.seq is not None:
                log.select(entry)
                self.set_focus(log)
                if self.focused is not log:  # not shown yet: once it is
                    log.focus()
            else:
                log.show_entry(entry)

    # -- search -----------------------------------------------------------------------------

    def action_search(self, text: str = "") -> None:
        if self._search_screen is not None:
            return

        def ask(query: str, before: str | None) -> str | None:
            cursor = UNSET if before is None else before
            return self.client.request(
                RequestKind.SEARCH, lambda i: Search(text=query, before=cursor, id=i)
            )

        self._search_screen = SearchScreen(ask, self.me, self.clock, text)
        self.app.push_screen(self._search_screen, self._search_closed)

    def _found(self, frame: Found, request: Request | None) -> None:
        search = self._search_screen
        if search is not None and request is not None and search.is_mounted:
            search.show(frame, request.id)

    def _search_failed(self, request: Request, why: str) -> bool:
        search = self._search_screen
        if search is None or not search.is_mounted:
            return False
        search.failed(request.id, why)
        return True

    def _search_closed(self, hit: Stored | None) -> None:
        self._search_screen = None
        if hit is None:
            return
        if isinstance(hit, DirectMessage):
            channel = self._dm(partner(hit, self.me))
        else:
            channel = self._room(hit.room)
        if channel is None:
            self._refuse(f"you are not in #{hit.room} any more")
            return
        self._go_to_message(channel, hit.seq)

    # -- $EDITOR -------------------------------------------------------------------------

    def action_editor(self) -> None:
        """Write the message in $EDITOR (the app is suspended meanwhile); the
        text comes back into the box, for Enter to send."""
        box = self.query_one("#input", ChatInput)
        try:
            with self.app.suspend():
                text = edit_text(box.text)
        except SuspendNotSupported:
            self._refuse("the editor needs a real terminal (this one cannot be suspended)")
            return
        except EditorFailed as exc:
            self._refuse(f"{exc}; the message is unchanged")
            return
        box.load_text(text)
        box.move_cursor(box.document.end)
        box.focus()

    # -- /paste ---------------------------------------------------------------------------

    def _paste(self, path: str) -> None:
        file = Path(path).expanduser()
        try:
            with file.open("rb") as handle:
                data = handle.read(MAX_PASTE_BYTES + 1)
            block = code_block(file.name, data)
        except PasteError as exc:
            self._refuse(f"not sent: {exc}")
            return
        except OSError as exc:
            self._refuse(f"cannot read {path}: {exc.strerror or exc}")
            return
        self._send(block)


def _in_log(log: object, entry: Entry) -> bool:
    return isinstance(log, ActionLog) and log.holds(entry)


def _snippet(text: str) -> str:
    line = clean(text.split("\n", 1)[0], single_line=True).strip()
    return line if len(line) <= _SNIPPET else line[: _SNIPPET - 1] + "…"


__all__ = ["MessageActions"]
