"""Who is in the conversation shown: names sorted, yours marked, each role's badge (admin,
owner, moderator), the count in the title, drawn as plain `Text`. It must not decide who is there
or who holds which role: it draws the `Roster` the screen gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from conexion_protocol import name_key

from ..conversation import Roster
from ..entries import NAME_COLOURS, clean, name_colour
from ..standing import RANKS
from .styles import component_style

# Columns around the names: the border (2), the padding (2), the scrollbar (1).
FRAME = 5
# The badge after a name, by role.
BADGES = {"admin": "admin", "owner": "owner", "moderator": "moderator"}


class UserList(VerticalScroll, can_focus=False):
    COMPONENT_CLASSES = frozenset(
        {"user-list--me"}
        | {f"user-list--nick-{n}" for n in range(NAME_COLOURS)}
        | {f"user-list--{role}" for role in RANKS}
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.roster = Roster()
        self.me = ""
        self.online = True
        self._redraw_pending = False
        self.wanted = 0  # columns its widest line and title need, border included

    @dataclass
    class WidthChanged(Message):
        """The list's widest line changed: the screen sizes its column."""

        width: int

    @property
    def names(self) -> list[str]:
        """Everyone listed, sorted the way the server sorts (casefolded)."""
        return self.roster.names

    def compose(self) -> ComposeResult:
        yield Static(id="user-names", markup=False)

    def on_mount(self) -> None:
        self._redraw()

    def show(self, roster: Roster, me: str) -> None:
        """Draw `roster` from now on (the screen changes it in place and
        calls `changed()`)."""
        self.roster = roster
        self.me = me
        self.changed()

    def set_online(self, online: bool) -> None:
        self.online = online
        self.set_class(not online, "-offline")
        self.changed()

    def changed(self) -> None:
        # A burst of joins in one batch redraws the list once, not once each.
        if not self._redraw_pending and self.is_mounted:
            self._redraw_pending = True
            self.call_next(self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        if not self.is_mounted:
            return
        count = self.roster.count
        self.border_title = f"users · {count}" if self.online else f"users · {count} · offline"
        me = name_key(self.me)
        widest = cell_len(self.border_title or "") + 2  # the title sits in the border
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, name in enumerate(self.names):
            if index:
                text.append("\n")
            style = component_style(self, f"user-list--nick-{name_colour(name)}")
            mine = name_key(name) == me
            if mine:
                style += component_style(self, "user-list--me")
            text.append(clean(name, single_line=True) + (" (you)" if mine else ""), style)
            role = self.roster.role_of(name)
            line = cell_len(clean(name, single_line=True)) + (len(" (you)") if mine else 0)
            if role is not None:
                text.append(" ")
                text.append(BADGES[role], component_style(self, f"user-list--{role}"))
                line += 1 + len(BADGES[role])
            widest = max(widest, line)
        if not self.roster.complete:
            more = f"… and {self.roster.count - len(self.roster)} more"
            text.append("\n" + more)
            widest = max(widest, len(more))
        self.query_one("#user-names", Static).update(text)
        wanted = widest + FRAME
        if wanted != self.wanted:
            self.wanted = wanted
            self.post_message(self.WidthChanged(wanted))
