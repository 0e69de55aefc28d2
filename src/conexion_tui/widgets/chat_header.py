"""The chat screen's top line: address, your name, connection state and round-trip time. It only
shows what the screen sets; it must not read the client.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..client import State
from ..entries import clean
from .styles import component_style

_DOTS = {
    State.ONLINE: "●",
    State.CONNECTING: "◌",
    State.OFFLINE: "○",
    State.CLOSED: "○",
}


class ChatHeader(Widget):
    COMPONENT_CLASSES = frozenset(
        {
            "chat-header--brand",
            "chat-header--address",
            "chat-header--name",
            "chat-header--online",
            "chat-header--connecting",
            "chat-header--offline",
            "chat-header--detail",
            "chat-header--rtt",
            "chat-header--separator",
        }
    )

    address: reactive[str] = reactive("")
    name_shown: reactive[str] = reactive("")
    state: reactive[State] = reactive(State.CONNECTING)
    detail: reactive[str] = reactive("")
    rtt: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        style = self._style
        sep = (" │ ", style("separator"))
        state_part = {
            State.ONLINE: "online",
            State.CONNECTING: "connecting",
            State.OFFLINE: "offline",
            State.CLOSED: "offline",
        }[self.state]
        parts: list[tuple[str, Style]] = [
            ("Conexion", style("brand")),
            sep,
            (self.address, style("address")),
            sep,
            (clean(self.name_shown, single_line=True), style("name")),
            sep,
            (f"{_DOTS[self.state]} {self.state.value}", style(state_part)),
        ]
        if self.state is not State.ONLINE and self.detail:
            parts.append((f" · {clean(self.detail, single_line=True)}", style("detail")))
        if self.state is State.ONLINE:
            parts.append(sep)
            parts.append((self.rtt_text(), style("rtt")))
        text = Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
        text.pad_left(1)
        return text

    def _style(self, part: str) -> Style:
        return component_style(self, f"chat-header--{part}")

    def rtt_text(self) -> str:
        if self.rtt is None:
            return "rtt –"
        ms = self.rtt * 1000
        return "rtt <1 ms" if ms < 1 else f"rtt {ms:.0f} ms"
