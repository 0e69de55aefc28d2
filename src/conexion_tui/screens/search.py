"""The search screen (ctrl+f, `/search TEXT`): a query, its hits newest first with a "more" line
while the server has more, Enter on a hit goes to it. It dismisses with the hit; asking goes
through `ask` (the chat screen sends it) and answers come back through `show`/`failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from conexion_protocol import DirectMessage, Found, Stored, name_key

from ..clock import Clock
from ..entries import clean

# (text, before) -> the request's id, or None when it could not be sent (offline).
Ask = Callable[[str, str | None], str | None]
MORE = "more"  # the id of the option that asks for the next page
HINT = "whole words; end a word with * for a prefix (depl*) · Enter searches or opens · Esc closes"


def hit_line(hit: Stored, me: str, clock: Clock) -> Text:
    """One hit as plain text: `[2026-11-03 10:31] #lab ana: the slides are up`."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"[{hit.ts[:10]} {clock.hhmm(hit.ts)}] ", "dim")
    if isinstance(hit, DirectMessage):
        other = hit.to if name_key(hit.from_) == name_key(me) else hit.from_
        line.append(f"@{clean(other, single_line=True)} ", "bold")
    else:
        line.append(f"#{clean(hit.room, single_line=True)} ", "bold")
    line.append(clean(hit.from_, single_line=True), "cyan")
    line.append(": " + clean(hit.text, single_line=True))
    return line


class SearchScreen(ModalScreen[Stored | None]):
    DEFAULT_CSS = """
    SearchScreen { align: center top; background: $background 60%; }
    #search-box {
        width: 90; max-width: 100%; height: auto; max-height: 90%; margin-top: 1;
        border: round $accent; border-title-align: center; background: $surface; padding: 0 1;
    }
    #search-query { border: none; height: 1; padding: 0; margin-bottom: 1; }
    #search-hits { height: auto; max-height: 20; border: none; padding: 0; }
    #search-status, #search-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Close", show=False),
        Binding("down", "focus_hits", "Hits", show=False),
    ]

    def __init__(self, ask: Ask, me: str, clock: Clock, text: str = "") -> None:
        super().__init__()
        self.ask = ask
        self.me = me
        self.clock = clock
        self.text = text
        self.hits: list[Stored] = []
        self.next: str | None = None
        self.request: str | None = None  # the id of the search whose answer we wait for

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Input(self.text, placeholder="search words", id="search-query")
            yield Static("", id="search-status", markup=False)
            yield OptionList(id="search-hits")
            yield Static(HINT, id="search-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#search-box").border_title = "Search"
        self.query_one("#search-query", Input).focus()
        if self.text.strip():
            self._search(self.text)

    # -- asking and answers ------------------------------------------------------

    def _search(self, text: str, before: str | None = None) -> None:
        self.text = text
        if before is None:
            self.hits, self.next = [], None
            self.query_one("#search-hits", OptionList).clear_options()
        self.request = self.ask(text, before)
        self._status("searching…" if self.request else "you are offline; search once reconnected")

    def show(self, found: Found, request_id: str) -> None:
        """The answer to one of our searches (older answers are dropped)."""
        if request_id != self.request:
            return
        self.request = None
        options = self.query_one("#search-hits", OptionList)
        if options.option_count and options.get_option_at_index(-1).id == MORE:
            options.remove_option(MORE)
        first_new = len(self.hits)
        self.hits.extend(found.hits)
        options.add_options(
            Option(hit_line(hit, self.me, self.clock), id=f"hit-{n}")
            for n, hit in enumerate(found.hits, first_new)
        )
        self.next = found.next if isinstance(found.next, str) else None
        if self.next is not None:
            options.add_option(Option(Text("more…", "italic"), id=MORE))
        count = len(self.hits)
        more = " (more below)" if self.next else ""
        self._status(f"{count} found{more}" if count else "nothing found")
        if count and options.highlighted is None:
            options.highlighted = 0
        elif first_new:
            options.highlighted = first_new

    def failed(self, request_id: str, message: str) -> None:
        if request_id == self.request:
            self.request = None
            self._status(message)

    def _status(self, text: str) -> None:
        self.query_one("#search-status", Static).update(text)

    # -- keys -----------------------------------------------------------------------

    @on(Input.Submitted, "#search-query")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self._search(text)
        else:
            self.app.bell()

    @on(OptionList.OptionSelected, "#search-hits")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == MORE:
            if self.next is not None and self.request is None:
                self._search(self.text, self.next)
            return
        self.dismiss(self.hits[event.option_index])

    def action_focus_hits(self) -> None:
        options = self.query_one("#search-hits", OptionList)
        if options.option_count:
            options.focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
