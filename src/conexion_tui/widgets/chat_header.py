"""The chat screen's top line: the conversation shown and its topic, your name, account badge
and role in the room shown, the connection state, round-trip time and address. It only shows
what the screen sets; it must not read the client.
"""

from __future__ import annotations

from rich.cells import cell_len
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
_SEPARATOR = " │ "
_TOPIC_SEPARATOR = " · "
_MIN_TOPIC = 8  # cells; a topic cut shorter than this says nothing, so it is left out
# What the badge after your name can say: your account as the server knows it.
BADGES = ("guest", "registered", "admin")
TLS_MARK = "🔒 TLS"
# Your role in the room shown, after the badge (an admin's is the badge already).
ROLES = ("owner", "moderator")


class ChatHeader(Widget):
    COMPONENT_CLASSES = frozenset(
        {
            "chat-header--brand",
            "chat-header--address",
            "chat-header--room",
            "chat-header--topic",
            "chat-header--elsewhere",
            "chat-header--name",
            "chat-header--online",
            "chat-header--connecting",
            "chat-header--offline",
            "chat-header--detail",
            "chat-header--rtt",
            "chat-header--separator",
            "chat-header--tls",
            *(f"chat-header--badge-{badge}" for badge in BADGES),
            *(f"chat-header--role-{role}" for role in ROLES),
        }
    )

    address: reactive[str] = reactive("")
    name_shown: reactive[str] = reactive("")
    badge: reactive[str] = reactive("")  # one of BADGES, or "" (a server without accounts)
    role: reactive[str] = reactive("")  # one of ROLES in the room shown, or ""
    state: reactive[State] = reactive(State.CONNECTING)
    secure: reactive[bool] = reactive(False)  # the link is TLS
    detail: reactive[str] = reactive("")
    rtt: reactive[float | None] = reactive(None)
    room: reactive[str] = reactive("")  # "#lab", or a person's name for a DM
    topic: reactive[str] = reactive("")
    # Unread messages in the other conversations: shown while the sidebar is
    # collapsed, so that a narrow terminal still tells you something is waiting.
    elsewhere: reactive[str] = reactive("")

    def render(self) -> Text:
        style = self._style
        state_part = {
            State.ONLINE: "online",
            State.CONNECTING: "connecting",
            State.OFFLINE: "offline",
            State.CLOSED: "offline",
        }[self.state]
        state = f"{_DOTS[self.state]} {self.state.value}"
        if self.state is not State.ONLINE and self.detail:
            state += f" · {clean(self.detail, single_line=True)}"
        # (key, text, style) per field, the room's topic and your badge kept
        # apart: they give way, in that order, when the line is too long,
        # since the state matters more.
        name = clean(self.name_shown, single_line=True)
        fields: list[tuple[str, str, Style]] = [("brand", "Conexion", style("brand"))]
        if self.room:
            fields.append(("room", clean(self.room, single_line=True), style("room")))
        if self.elsewhere:
            fields.append(("elsewhere", self.elsewhere, style("elsewhere")))
        fields.append(("name", name, style("name")))
        badge = self.badge if self.badge in BADGES else ""
        role = self.role if self.role in ROLES else ""
        fields.append(("state", state, style(state_part)))
        if self.secure:
            # Kept with the state when the line is short: whether what you
            # type is encrypted matters as much as whether it is sent.
            fields.append(("tls", TLS_MARK, style("tls")))
        if self.state is State.ONLINE:
            fields.append(("rtt", self.rtt_text(), style("rtt")))
        fields.append(("address", self.address, style("address")))
        topic = clean(self.topic, single_line=True) if self.room else ""
        width = self.size.width

        def cells() -> int:
            return 1 + sum(cell_len(t) for _, t, _ in fields) + len(_SEPARATOR) * (len(fields) - 1)

        # Too long even without the topic and badges: the address goes first,
        # then the round-trip time, then the brand; the state stays.
        for part in ("address", "rtt", "brand"):
            if not 0 < width < cells():
                break
            fields = [f for f in fields if f[0] != part]
        used = cells()
        badge_cells = len(_TOPIC_SEPARATOR) + len(badge) if badge else 0
        badge_cells += len(_TOPIC_SEPARATOR) + len(role) if role else 0
        if topic and width > 0:
            room = width - used - badge_cells - len(_TOPIC_SEPARATOR)
            if room < _MIN_TOPIC:
                topic = ""
            elif cell_len(topic) > room:
                cut = Text(topic)
                cut.truncate(room - 1)
                topic = cut.plain + "…"
        if (badge or role) and not topic and 0 < width < used + badge_cells:
            # The topic gave way first; the connection's state matters more.
            # Your role in the room outlasts the badge: it says what you may do.
            badge = ""
            if 0 < width < used + len(_TOPIC_SEPARATOR) + len(role):
                role = ""
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(" ")
        for index, (key, field, field_style) in enumerate(fields):
            if index:
                text.append(_SEPARATOR, style("separator"))
            text.append(field, field_style)
            if key == "name" and badge:
                text.append(_TOPIC_SEPARATOR, style("separator"))
                text.append(badge, style(f"badge-{badge}"))
            if key == "name" and role:
                text.append(_TOPIC_SEPARATOR, style("separator"))
                text.append(role, style(f"role-{role}"))
            if key == "room" and topic:
                text.append(_TOPIC_SEPARATOR, style("separator"))
                text.append(topic, style("topic"))
        return text

    def _style(self, part: str) -> Style:
        return component_style(self, f"chat-header--{part}")

    def rtt_text(self) -> str:
        if self.rtt is None:
            return "rtt –"
        ms = self.rtt * 1000
        return "rtt <1 ms" if ms < 1 else f"rtt {ms:.0f} ms"
