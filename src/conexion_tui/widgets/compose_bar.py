"""The line above the message box that says what Enter will do instead of sending a new message
("replying to ana: …", "editing your message"). Display only: the screen sets and clears it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ComposeBar(Static):
    DEFAULT_CSS = """
    ComposeBar {
        display: none;
        height: 1;
        padding: 0 1;
        background: $accent 25%;
        color: $text;
    }
    ComposeBar.-visible {
        display: block;
    }
    """

    def say(self, text: Text | None) -> None:
        """Show `text` (plain `Text`, never markup); None hides the bar."""
        if text is not None:
            self.update(text)
        self.set_class(text is not None, "-visible")


__all__ = ["ComposeBar"]
