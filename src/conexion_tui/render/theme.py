"""Style names to Rich styles, and lines of runs to `rich.text.Text`. No Textual: the message
log fills a `Theme` from `app.tcss` the way it fills `LogStyles`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Span, Text

from .model import Line, Part

DEFAULT_STYLES: dict[str, Style] = {
    Part.EM: Style(italic=True),
    Part.STRONG: Style(bold=True),
    Part.CODE: Style(color="bright_cyan"),
    Part.LINK: Style(underline=True),
    Part.URL: Style(color="bright_blue", underline=True),
    Part.MENTION: Style(color="yellow", bold=True),
    Part.MENTION_SELF: Style(color="black", bgcolor="yellow", bold=True),
    Part.QUOTE: Style(italic=True, dim=True),
    Part.QUOTE_BAR: Style(dim=True),
    Part.MARKER: Style(bold=True),
    Part.GUTTER: Style(dim=True),
    Part.LABEL: Style(dim=True, italic=True),
    Part.FOLD: Style(dim=True, italic=True),
    Part.KEYWORD: Style(color="magenta", bold=True),
    Part.NAME: Style(color="bright_green"),
    Part.BUILTIN: Style(color="cyan"),
    Part.STRING: Style(color="green"),
    Part.NUMBER: Style(color="bright_magenta"),
    Part.COMMENT: Style(color="bright_black", italic=True),
    Part.OPERATOR: Style(color="bright_white"),
    Part.INSERTED: Style(color="green"),
    Part.DELETED: Style(color="red"),
    Part.ERROR: Style(color="red"),
}


@dataclass(slots=True, frozen=True, eq=False)
class Theme:
    """Rich styles by style name. Compared by identity: a new theme (after a
    style change) is a new cache key, so nothing drawn in the old one is reused."""

    styles: Mapping[str, Style] = field(default_factory=lambda: dict(DEFAULT_STYLES))
    _combined: dict[tuple[str, ...], Style] = field(default_factory=dict, repr=False)

    @classmethod
    def over_defaults(cls, styles: Mapping[str, Style]) -> Theme:
        """The default styles with `styles` in place of some (what a widget
        read from its CSS, say)."""
        return cls({**DEFAULT_STYLES, **styles})

    def style(self, names: Iterable[str]) -> Style:
        """The styles of `names` combined, later names over earlier ones."""
        key = tuple(names)
        style = self._combined.get(key)
        if style is None:
            style = Style.combine([Style(), *(self.styles.get(name, Style()) for name in key)])
            self._combined[key] = style
        return style

    def text(self, line: Line) -> Text:
        """One line as Rich text: each run's text in its style, with an OSC 8
        hyperlink where the run carries a (checked http/https) link."""
        # One Text built from its spans: appending run by run would have Rich
        # scan each run for control codes again (the renderer removed them).
        spans = []
        at = 0
        for run in line:
            end = at + len(run.text)
            style = self.style(run.names)
            if run.link is not None:
                style = style + Style(link=run.link)
            if style:
                spans.append(Span(at, end, style))
            at = end
        return Text("".join(run.text for run in line), end="", no_wrap=True, spans=spans)


DEFAULT_THEME = Theme()
