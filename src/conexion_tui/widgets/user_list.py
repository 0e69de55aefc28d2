"""Who is online: names sorted, yours marked, the count in the title, drawn as plain `Text`. It
must not decide who is online: the screen tells it.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from conexion_protocol import name_key

from ..entries import NAME_COLOURS, clean, name_colour
from .styles import component_style


class UserList(VerticalScroll, can_focus=False):
    COMPONENT_CLASSES = frozenset(
        {"user-list--me"} | {f"user-list--nick-{n}" for n in range(NAME_COLOURS)}
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._users: dict[str, str] = {}  # name_key -> name as shown
        self._sorted: list[str] | None = []
        self.me = ""
        self.online = True
        self._redraw_pending = False

    @property
    def names(self) -> list[str]:
        """Everyone online, sorted the way the server sorts (casefolded)."""
        if self._sorted is None:
            self._sorted = sorted(self._users.values(), key=name_key)
        return self._sorted

    def compose(self) -> ComposeResult:
        yield Static(id="user-names", markup=False)

    def on_mount(self) -> None:
        self._redraw()

    def set_users(self, names: Iterable[str], me: str) -> None:
        self._users = {name_key(n): n for n in names}
        self.me = me
        self._changed()

    def add(self, name: str) -> None:
        self._users[name_key(name)] = name
        self._changed()

    def remove(self, name: str) -> None:
        self._users.pop(name_key(name), None)
        self._changed()

    def rename(self, old: str, new: str) -> None:
        key = name_key(old)
        self._users.pop(key, None)
        self._users[name_key(new)] = new
        if name_key(self.me) == key:
            self.me = new
        self._changed()

    def set_online(self, online: bool) -> None:
        self.online = online
        self.set_class(not online, "-offline")
        self._changed()

    def _changed(self) -> None:
        # A burst of joins in one batch redraws the list once, not once each.
        self._sorted = None
        if not self._redraw_pending and self.is_mounted:
            self._redraw_pending = True
            self.call_next(self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        if not self.is_mounted:
            return
        count = len(self.names)
        self.border_title = f"users · {count}" if self.online else f"users · {count} · offline"
        me = name_key(self.me)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, name in enumerate(self.names):
            if index:
                text.append("\n")
            style = component_style(self, f"user-list--nick-{name_colour(name)}")
            if name_key(name) == me:
                style += component_style(self, "user-list--me")
                text.append(clean(name, single_line=True) + " (you)", style)
            else:
                text.append(clean(name, single_line=True), style)
        self.query_one("#user-names", Static).update(text)
