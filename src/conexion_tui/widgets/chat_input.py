"""The message box: Enter sends, ctrl+j or shift+enter a new line, Tab completes, Up/Down walk
the sent lines (never a command that takes a password). It posts `Submitted`; it must not
interpret commands or send anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from ..commands import Completion, complete, keeps_secret, redact
from ..compose import shortcode_completion


@dataclass(slots=True)
class _Cycle:
    """A Tab completion in progress: pressing Tab again picks the next candidate."""

    row: int
    start: int
    candidates: tuple[str, ...]
    index: int
    expect: str  # the whole text right after the last completion


class ChatInput(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history_back", "History", show=False),
        Binding("down", "history_forward", "History", show=False),
        Binding("tab", "complete", "Complete", show=True),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-blank text. A command that takes
        a password arrives without what followed it (`redacted` says
        something did): passwords are typed in a masked dialog."""

        text: str
        redacted: bool = False

    @dataclass
    class Walked(Message):
        """Up or Down brought back another of the sent lines."""

    def __init__(
        self,
        *,
        names: Callable[[], Iterable[str]],
        rooms: Callable[[], Iterable[str]] = tuple,
        hands: Callable[[], Iterable[str]] = tuple,
        history_size: int,
        placeholder: str = "",
        id: str | None = None,
        edit_last: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            compact=True,
            placeholder=placeholder,
            id=id,
        )
        self._names = names
        self._rooms = rooms
        self._hands = hands  # whose hands are up, for /lower
        self.sent_history: list[str] = []
        self._history_size = history_size
        self._history_at = 0  # == len(history) when editing a new line
        self._draft = ""
        self._cycle: _Cycle | None = None
        # A command that takes a password was just sent to the screen: what
        # is typed until the screen releases the box (its dialog is open, or
        # nothing opened) is dropped, so a password typed or auto-typed right
        # behind the command never lands here, where Enter would send it.
        self.held = False
        # Up on an empty box asks this for a text to edit (your last message);
        # None, or no such message, walks the sent lines as usual.
        self.edit_last = edit_last

    # -- keys ------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        if self.held:
            event.stop()
            event.prevent_default()
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key != "tab":
            self._cycle = None
        await super()._on_key(event)

    def _submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if keeps_secret(text):
            self.held = True  # and Up must never bring back what may be a password
        elif not self.sent_history or self.sent_history[-1] != text:
            self.sent_history.append(text)
            del self.sent_history[: -self._history_size]
        self._history_at = len(self.sent_history)
        self._draft = ""
        self.load_text("")  # which forgets the undo history too
        shown, redacted = redact(text)
        self.post_message(self.Submitted(shown, redacted))

    async def _on_paste(self, event: events.Paste) -> None:
        if self.held:
            event.stop()
            event.prevent_default()
            return
        await super()._on_paste(event)

    def release(self) -> None:
        """Take keys again, after the ones already on their way here (sent
        while the box was held) have been dropped."""
        self.call_later(self._release)

    def _release(self) -> None:
        self.held = False

    # -- history -----------------------------------------------------------

    def action_history_back(self) -> None:
        at_end = self._history_at == len(self.sent_history)
        if not self.text and at_end and self.edit_last is not None:
            text = self.edit_last()
            if text is not None:
                if self.sent_history and self.sent_history[-1] == text:
                    self._history_at -= 1  # the next Up goes on to the line before it
                self._show(text)
                return
        if self.cursor_location[0] > 0 or not self.sent_history or self._history_at == 0:
            if self.cursor_location[0] > 0:
                self.action_cursor_up()
            return
        if self._history_at == len(self.sent_history):
            self._draft = self.text
        self._history_at -= 1
        self._show(self.sent_history[self._history_at])
        self.post_message(self.Walked())

    def action_history_forward(self) -> None:
        last_row = self.document.line_count - 1
        if self.cursor_location[0] < last_row:
            self.action_cursor_down()
            return
        if self._history_at >= len(self.sent_history):
            return
        self._history_at += 1
        if self._history_at == len(self.sent_history):
            self._show(self._draft)
        else:
            self._show(self.sent_history[self._history_at])
        self.post_message(self.Walked())

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    # -- completion ----------------------------------------------------------

    def action_complete(self) -> None:
        cycle = self._cycle
        if cycle is not None and cycle.expect == self.text:
            old = cycle.candidates[cycle.index]
            cycle.index = (cycle.index + 1) % len(cycle.candidates)
            self._replace(cycle.row, cycle.start, cycle.start + len(old), cycle)
            return
        row, column = self.cursor_location
        line = self.document.get_line(row)
        found = complete(line, column, self._names(), self._rooms(), self._hands())
        if found is None and (emoji := shortcode_completion(line, column)) is not None:
            found = Completion(emoji[0], column, emoji[1])
        if found is None:
            self._cycle = None
            self.app.bell()
            return
        self._cycle = _Cycle(row, found.start, found.candidates, 0, "")
        self._replace(row, found.start, found.end, self._cycle)

    def _replace(self, row: int, start: int, end: int, cycle: _Cycle) -> None:
        word = cycle.candidates[cycle.index]
        self.replace(word, (row, start), (row, end))
        self.move_cursor((row, start + len(word)))
        cycle.expect = self.text
