"""The help overlay (F1, /help): the keys and every command, grouped by who may use them, over
the chat; Esc, F1 or q close it. It shows `commands.help_lines()`; it must not run anything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..commands import NOTES, help_lines, help_sections


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            with VerticalScroll(id="help-lines"):
                for heading, rows in help_sections():
                    yield Static(Text(heading, "bold"), classes="help-heading")
                    table = Table.grid(padding=(0, 2))
                    table.add_column(no_wrap=True)
                    table.add_column(ratio=1)
                    for usage, what in rows:
                        table.add_row(Text(usage, "bold"), Text(what))
                    yield Static(table, classes="help-table")
                yield Static(Text("\n".join(NOTES)), classes="help-notes")
            yield Static("↑/↓ PgUp/PgDn scroll · Esc closes", id="help-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = Content("Conexion · keys and commands")
        self.query_one("#help-lines", VerticalScroll).focus()

    @property
    def text(self) -> str:
        return "\n".join(help_lines())

    def action_close(self) -> None:
        self.dismiss(None)
