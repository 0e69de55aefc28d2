"""The chat log with a selected message: moved with the keys or a click, drawn highlighted, and
keys that ask the screen to act on it (reply, react, edit, delete, expand, go to the original).
It must not send anything or know what a message is now: it posts `Act` and the screen decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip

from ..entries import Entry
from ..message_view import MessageView
from .message_log import MessageLog
from .styles import component_style


class ActionLog(MessageLog, can_focus=True):
    """A `MessageLog` in which a message (an entry with a seq) can be
    selected; focused while one is, so its keys reach it."""

    DEFAULT_CSS = """
    ActionLog > .action-log--selected {
        background: $accent 35%;
    }
    """
    COMPONENT_CLASSES: ClassVar[frozenset[str]] = MessageLog.COMPONENT_CLASSES | {
        "action-log--selected"
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Previous", show=False),
        Binding("down,j", "move(1)", "Next", show=False),
        Binding("r", "act('reply')", "Reply"),
        Binding("plus", "act('react')", "React"),
        Binding("e", "act('edit')", "Edit / expand"),
        Binding("d,delete", "act('delete')", "Delete"),
        Binding("enter,o", "act('open')", "Original"),
    ]

    @dataclass
    class Act(Message):
        """A key asked for `what` on the selected entry."""

        log: ActionLog
        entry: Entry
        what: str

        @property
        def control(self) -> ActionLog:
            return self.log

    @dataclass
    class Typed(Message):
        """A printable key the log has no use for: the message box should take it."""

        log: ActionLog
        character: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.selected: Entry | None = None

    # -- selection -------------------------------------------------------------

    def select(self, entry: Entry | None) -> None:
        """Select `entry` (None: nothing) and bring it into view. A selected
        message lists who reacted, not only how many."""
        previous, self.selected = self.selected, entry
        if previous is not entry:
            for changed, detailed in ((previous, False), (entry, True)):
                if changed is not None and isinstance(changed.view, MessageView):
                    changed.view.detailed = detailed
                    if changed.view.state is not None and changed.view.state.reactions:
                        self.touch(changed)
        if entry is not None:
            self.show_entry(entry)
        self.refresh()

    def move(self, step: int) -> Entry | None:
        """Select the message `step` messages from the selected one (from
        the bottom when none is); the selection stays at either end. It walks
        from the selection, not over the whole log: a log holds 100,000."""
        entries = self.entries
        current = self._index_of(self.selected) if self.selected is not None else None
        direction = 1 if step > 0 else -1
        if current is None:
            index, remaining, at = None, 1, (len(entries) - 1 if step < 0 else 0)
        else:
            index, remaining, at = current, abs(step), current + direction
        while 0 <= at < len(entries) and remaining:
            if entries[at].seq is not None:
                index, remaining = at, remaining - 1
            at += direction
        if index is None:
            return None
        self.select(entries[index])
        return self.selected

    def show_entry(self, entry: Entry) -> None:
        """Scroll the least needed for the whole entry (or its top) to show."""
        index = self._index_of(entry)
        if index is None:
            return
        start, height = self._starts[index], self._heights[index]
        view = max(1, self.scrollable_content_region.height)
        y = self.scroll_y
        if start < y or height > view:
            y = start
        elif start + height > y + view:
            y = start + height - view
        if y != self.scroll_y:
            self.scroll_to(y=y, animate=False, force=True)

    def holds(self, entry: Entry) -> bool:
        """Whether `entry` is still in the log (not scrolled out or cleared)."""
        return self._index_of(entry) is not None

    def action_move(self, step: int) -> None:
        self.move(step)

    def action_act(self, what: str) -> None:
        if self.selected is not None:
            self.post_message(self.Act(self, self.selected, what))

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and event.key not in _BOUND:
            event.stop()
            self.post_message(self.Typed(self, event.character))

    def on_click(self, event: events.Click) -> None:
        line = self.scroll_offset.y + event.y
        if not 0 <= line < self.line_count:
            return
        entry = self.entries[self._entry_at(line)]
        if entry.seq is not None:
            self.select(entry)
            self.focus()

    # -- drawing -----------------------------------------------------------------

    def _strips(self, entry: Entry) -> list[Strip]:
        strips = super()._strips(entry)
        if entry is not self.selected:
            return strips
        style = component_style(self, "action-log--selected")
        width = max(1, self._width)
        return [strip.extend_cell_length(width).apply_style(style) for strip in strips]


_BOUND = frozenset(
    key
    for binding in ActionLog.BINDINGS
    if isinstance(binding, Binding)
    for key in binding.key.split(",")
) | {"+"}


__all__ = ["ActionLog"]
