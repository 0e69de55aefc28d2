"""The lines above the message box about the room shown: a mute on you (until when), the
settings that hold you back (moderated, slow mode), your raised hand, an announcement to
acknowledge. It draws the `Notice`s the screen gives it; it must not work out what they say.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from ..entries import clean
from ..news import Notice
from .styles import component_style

KINDS = ("muted", "moderated", "slow", "mode", "hand", "turn", "announcement", "hands")


class RoomNotice(Static):
    COMPONENT_CLASSES = frozenset(f"room-notice--{kind}" for kind in KINDS)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.notices: tuple[Notice, ...] = ()

    def show(self, notices: Sequence[Notice]) -> None:
        notices = tuple(notices)
        if notices == self.notices and self.has_class("-visible") == bool(notices):
            return
        self.notices = notices
        text = Text()
        for index, notice in enumerate(notices):
            if index:
                text.append("\n")
            kind = notice.kind if notice.kind in KINDS else "mode"
            # Names and reasons come from the network: text, never markup.
            text.append(clean(notice.text, single_line=True), self._style(kind))
        self.update(text)
        self.set_class(bool(notices), "-visible")

    @property
    def plain(self) -> str:
        return "\n".join(notice.text for notice in self.notices)

    def _style(self, kind: str) -> Style:
        return component_style(self, f"room-notice--{kind}")
