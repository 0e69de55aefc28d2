"""The raised hands of the room shown, first come first, for its staff: who, since when, the
question. It draws the queue the screen gives it (None hides it); it must not take or lower a
hand itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from conexion_protocol import RaisedHand

from ..clock import Clock
from ..entries import NAME_COLOURS, clean, name_colour
from ..news import NEXT_KEY
from .styles import component_style


class HandsPanel(VerticalScroll, can_focus=False):
    COMPONENT_CLASSES = frozenset(
        {"hands-panel--question", "hands-panel--quiet", "hands-panel--time"}
        | {f"hands-panel--nick-{n}" for n in range(NAME_COLOURS)}
    )

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.queue: tuple[RaisedHand, ...] | None = None
        self.plain = ""  # what it shows, as plain text (for tests and screen readers)

    def compose(self) -> ComposeResult:
        yield Static(id="hands-lines", markup=False)

    def show(self, queue: Sequence[RaisedHand] | None) -> None:
        """Draw `queue` (None: we are not staff here, so nothing is shown)."""
        self.queue = None if queue is None else tuple(queue)
        self.set_class(queue is not None, "-visible")
        if self.is_mounted:
            self._redraw()

    def on_mount(self) -> None:
        self._redraw()

    @property
    def names(self) -> list[str]:
        return [hand.name for hand in self.queue or ()]

    def _redraw(self) -> None:
        queue = self.queue or ()
        self.border_title = f"hands · {len(queue)}"
        self.border_subtitle = f"{NEXT_KEY} next" if queue else ""
        lines = self.query_one("#hands-lines", Static)
        if not queue:
            self.plain = "No hands up."
            lines.update(Text(self.plain, self._style("quiet")))
            return
        # A grid, so a long question wraps under the name, not under the number.
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(ratio=1)
        for position, hand in enumerate(queue, 1):
            who = Text()
            who.append(
                clean(hand.name, single_line=True), self._style(f"nick-{name_colour(hand.name)}")
            )
            who.append(f" {self.clock.hhmm(hand.ts)}", self._style("time"))
            if isinstance(hand.question, str) and hand.question:
                who.append("\n")
                who.append(clean(hand.question, single_line=True), self._style("question"))
            grid.add_row(Text(f"{position}."), who)
        self.plain = "\n".join(
            f"{n}. {line}" for n, hand in enumerate(queue, 1) for line in [self._plain(hand)]
        )
        lines.update(grid)

    def _plain(self, hand: RaisedHand) -> str:
        text = f"{clean(hand.name, single_line=True)} {self.clock.hhmm(hand.ts)}"
        if isinstance(hand.question, str) and hand.question:
            text += "\n   " + clean(hand.question, single_line=True)
        return text

    def _style(self, part: str) -> Style:
        return component_style(self, f"hands-panel--{part}")
