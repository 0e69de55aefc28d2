"""The conversation sidebar: rooms you are in, then direct messages, each with its number, unread
count and mention marker, the current one highlighted. It shows what the screen sets and posts
`Selected` on a click; it must not decide what is unread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ..entries import clean
from .styles import component_style

MENTION_MARK = "@"  # before the count of a conversation that mentions you
GONE_MARK = "✗"  # after a room we could not join again
NUMBERED = 9  # alt+1 … alt+9 reach the first nine


@dataclass(slots=True, frozen=True)
class SidebarItem:
    """One line of the sidebar, as the screen describes it."""

    key: str
    label: str  # a room name without "#", or a person's name; untrusted
    room: bool
    unread: int = 0
    mentions: int = 0
    joining: bool = False  # a room asked for, not answered yet
    gone: bool = False  # a room we could not join again: shown struck through, marked ✗


class _Lines(Static):
    """The drawn lines; a click picks the conversation on that line."""

    def on_click(self, event: events.Click) -> None:
        sidebar = self.parent
        if isinstance(sidebar, Sidebar):
            sidebar.clicked(event.y)


class Sidebar(VerticalScroll, can_focus=False):
    COMPONENT_CLASSES = frozenset(
        {
            "sidebar--heading",
            "sidebar--number",
            "sidebar--current",
            "sidebar--unread",
            "sidebar--count",
            "sidebar--mention",
            "sidebar--quiet",
            "sidebar--gone",
        }
    )

    @dataclass
    class Selected(Message):
        """The user clicked a conversation."""

        key: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[SidebarItem] = []
        self.current = ""
        self._line_keys: list[str | None] = []  # what each drawn line is
        self._drawn_width = 0
        self._redraw_pending = False

    def compose(self) -> ComposeResult:
        yield _Lines(id="sidebar-lines", markup=False)

    def on_mount(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        self._changed()

    def show(self, items: Sequence[SidebarItem], current: str) -> None:
        """Draw these conversations (in order) with `current` highlighted.
        Several calls in one batch draw once."""
        self.items = list(items)
        self.current = current
        self._changed()

    def keys(self) -> list[str]:
        return [item.key for item in self.items]

    def clicked(self, line: int) -> None:
        if 0 <= line < len(self._line_keys) and (key := self._line_keys[line]) is not None:
            self.post_message(self.Selected(key))

    def _changed(self) -> None:
        if not self._redraw_pending and self.is_mounted:
            self._redraw_pending = True
            self.call_next(self._redraw)

    def _style(self, part: str) -> Style:
        return component_style(self, f"sidebar--{part}")

    def _redraw(self) -> None:
        self._redraw_pending = False
        if not self.is_mounted:
            return
        width = max(8, self.scrollable_content_region.width)
        text = Text(no_wrap=True, overflow="ellipsis")
        keys: list[str | None] = []
        rooms = [item for item in self.items if item.room]
        people = [item for item in self.items if not item.room]
        number = 0
        for heading, group in (("Rooms", rooms), ("Direct messages", people)):
            if not group:
                continue
            if keys:
                text.append("\n")
            text.append(heading, self._style("heading"))
            keys.append(None)
            for item in group:
                number += 1
                text.append("\n")
                text.append_text(self._line(item, number, width))
                keys.append(item.key)
        # The same lines at the same width (an unread count changed, as it
        # does on every batch of a busy room not shown): no layout, which
        # would arrange the whole screen again.
        same_shape = len(keys) == len(self._line_keys) and width == self._drawn_width
        self._line_keys, self._drawn_width = keys, width
        self.query_one("#sidebar-lines", _Lines).update(text, layout=not same_shape)

    def _line(self, item: SidebarItem, number: int, width: int) -> Text:
        current = item.key == self.current
        base = self._style("current") if current else Style()
        shown = number <= NUMBERED
        line = Text(style=base, no_wrap=True, end="")
        line.append(f"{number} " if shown else "  ", self._style("number"))
        name = clean(item.label, single_line=True)
        label = f"#{name}" if item.room else name
        if item.unread and not current:
            name_style = self._style("unread")
        elif item.gone:
            name_style = self._style("gone")
        elif item.joining:
            name_style = self._style("quiet")
        else:
            name_style = Style()
        # "3" unread; "3 @1": one of them names you; "@2": all of them do (DMs).
        count = Text(end="")
        if item.gone:
            count.append(GONE_MARK, self._style("gone"))
        elif item.unread and not current:
            if item.mentions != item.unread:
                count.append(str(item.unread), self._style("count"))
            if item.mentions:
                if count:
                    count.append(" ")
                count.append(f"{MENTION_MARK}{item.mentions}", self._style("mention"))
        room = width - 2 - (count.cell_len + 1 if count else 0)
        label_text = Text(label, name_style, no_wrap=True, overflow="ellipsis", end="")
        label_text.truncate(max(1, room), overflow="ellipsis", pad=True)
        line.append_text(label_text)
        if count:
            line.append(" ")
            line.append_text(count)
        if current:
            line.pad_right(max(0, width - line.cell_len))
            line.stylize(base)
        return line


__all__ = ["GONE_MARK", "MENTION_MARK", "Sidebar", "SidebarItem"]
