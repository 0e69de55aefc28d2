"""The rich look of a log entry (`MessageView`): its text through `render_message` (Markdown,
code, emoji), a one-line quote above a reply, `(edited)`, a tombstone, the reactions below.
Pure over Rich text: no Textual; what a message is now comes from `actions.MessageState`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from .actions import MessageBook, MessageState, reaction_counts
from .entries import (
    DELETED_TEXT,
    Entry,
    LogStyles,
    clean,
    entry_prefix,
    entry_suffix,
    prefix_cells,
    suffix_plain,
    text_indent,
)
from .render import DEFAULT_THEME, Mode, RenderedMessage, Theme, render_message

EDITED_MARK = " (edited)"
TOMBSTONE = DELETED_TEXT  # a deleted message's words (the line may add by whom)
QUOTE_MARK = "↪ "
REACTION_GAP = "  "
_WHO_SHOWN = 5  # names listed after a selected message's reaction, then "+N"
_QUOTE_WIDTH = 400  # a quote is cut to the screen's width; this only bounds the work
_MARKUP = re.compile(r"[`*_\[\]<@:\\\n]")  # `render.has_markup`'s characters, and a line break
_BLOCK_START = re.compile(r"\s{0,3}(?:>|[-+] |\d{1,9}[.)] |~~~)")


def needs_view(text: str, state: MessageState | None = None) -> bool:
    """Whether a message needs more than the log's plain look: Markdown that
    could apply, several lines, or anything to show beside its text. Most
    chat lines need none, and keep the plain (fast) path."""
    if state is not None and not state.plain:
        return True
    # Two regexes: three times faster than `has_markup` plus the rest, and it
    # runs for every message of a flood. It finds at least what `has_markup`
    # finds (a test holds it to that).
    return _MARKUP.search(text) is not None or _BLOCK_START.match(text) is not None


@dataclass(slots=True)
class ViewContext:
    """What every view of one screen shares: who reads (their @name stands
    out), and the theme. Changed in place, e.g. on a rename."""

    viewer: str = ""
    theme: Theme = DEFAULT_THEME


@dataclass(slots=True, eq=False)
class MessageView:
    """One entry's rich look. `state` is None for a DM (Markdown only: DMs
    take no actions); `book` finds the original a reply quotes."""

    context: ViewContext
    state: MessageState | None = None
    book: MessageBook | None = None
    expanded: bool = False  # long code blocks shown whole
    detailed: bool = False  # who reacted, not only how many (while selected)
    folded: int = field(default=0)  # code blocks folded at the latest width drawn

    # -- EntryView ---------------------------------------------------------------

    def height(self, entry: Entry, width: int) -> int:
        rendered, suffix_cells, prefix_cells = self._layout(entry, width)
        indent = text_indent(prefix_cells, width)
        lines = rendered.height + self._quote_rows()
        if suffix_cells and not self._suffix_fits(rendered, suffix_cells, prefix_cells, width):
            lines += 1
        return lines + len(self._reaction_rows(max(1, width - indent)))

    def render(self, entry: Entry, styles: LogStyles, width: int) -> list[Text]:
        rendered, suffix_cells, prefix_cells = self._layout(entry, width)
        prefix = entry_prefix(entry, styles)
        indent = text_indent(prefix_cells, width)
        lines: list[Text] = []
        quote = self._quote(entry, styles, width)
        if quote is not None:
            lines.append(quote)
        state = self.state
        if state is not None and state.deleted:
            # The line's own words when it has them ("message deleted by Teacher").
            words = entry.text if entry.deleted else TOMBSTONE
            body = [Text(words, styles.system + Style(italic=True))]
        else:
            body = [text.copy() for text in rendered.texts]
        for number, text in enumerate(body):
            line = prefix.copy() if number == 0 else Text(" " * indent)
            line.append_text(text)
            lines.append(line)
        if suffix_cells:
            suffix = self._suffix_text(entry, styles)
            if self._suffix_fits(rendered, suffix_cells, prefix_cells, width):
                lines[-1].append_text(suffix)
            else:
                lines.append(Text(" " * indent) + suffix)
        for row in self._reaction_rows(max(1, width - indent)):
            line = Text(" " * indent)
            for number, (label, mine) in enumerate(row):
                if number:
                    line.append(REACTION_GAP)
                line.append(label, styles.own if mine else styles.time)
            lines.append(line)
        if entry.mention:
            for line in lines:
                line.stylize(styles.mention)
        return lines

    # -- parts ---------------------------------------------------------------------

    def _layout(self, entry: Entry, width: int) -> tuple[RenderedMessage, int, int]:
        """The text laid out, the cells of what follows it, the prefix's cells."""
        cells = prefix_cells(entry)
        indent = text_indent(cells, width)
        state = self.state
        text = entry.text if state is None or state.deleted else state.text
        if state is not None and state.deleted:
            text = entry.text if entry.deleted else TOMBSTONE
        rendered = render_message(
            text,
            width=max(1, width - indent),
            first_width=max(1, width - cells),
            viewer=self.context.viewer,
            expanded=self.expanded,
            mode=Mode.MARKDOWN,
            theme=self.context.theme,
        )
        self.folded = rendered.folded_blocks
        return rendered, cell_len(self._suffix_plain(entry)), cells

    def _suffix_plain(self, entry: Entry) -> str:
        state = self.state
        edited = EDITED_MARK if state is not None and state.edited and not state.deleted else ""
        return edited + suffix_plain(entry)

    def _suffix_text(self, entry: Entry, styles: LogStyles) -> Text:
        text = Text()
        state = self.state
        if state is not None and state.edited and not state.deleted:
            text.append(EDITED_MARK, styles.time)
        text.append_text(entry_suffix(entry, styles))
        return text

    @staticmethod
    def _suffix_fits(
        rendered: RenderedMessage, suffix_cells: int, prefix_cells: int, width: int
    ) -> bool:
        last = rendered.lines[-1] if rendered.lines else ()
        used = sum(cell_len(run.text) for run in last)
        if rendered.height <= 1:
            used += prefix_cells
        else:
            used += text_indent(prefix_cells, width)
        return used + suffix_cells <= width

    def _quote_rows(self) -> int:
        return 1 if self.state is not None and self.state.reply_to is not None else 0

    def _quote(self, entry: Entry, styles: LogStyles, width: int) -> Text | None:
        state = self.state
        if state is None or state.reply_to is None:
            return None
        original = self.book.get(state.reply_to) if self.book is not None else None
        author = original.author if original is not None else (state.reply_from or "…")
        if original is None:
            snippet = "(not loaded · Enter on it jumps there)"
        elif original.deleted:
            snippet = TOMBSTONE
        else:
            snippet = self._first_line(original.text)
        line = Text(" " * (len(entry.time) + 1 if entry.time else 0), no_wrap=True)
        line.append(QUOTE_MARK, styles.time)
        line.append(clean(author, single_line=True), styles.name(author))
        line.append(": " + snippet, styles.time + Style(italic=True))
        if line.cell_len > width:
            line.truncate(max(1, width - 1))
            line.append("…", styles.time)
        return line

    def _first_line(self, text: str) -> str:
        """What the original's first line shows (its Markdown applied, never markup)."""
        if not needs_view(text):
            return clean(text, single_line=True).strip()
        shown = render_message(text, width=_QUOTE_WIDTH, theme=self.context.theme)
        first = shown.lines[0] if shown.lines else ()
        return "".join(run.text for run in first).strip()

    def _reaction_rows(self, room: int) -> list[list[tuple[str, bool]]]:
        """Each reaction's label (`👍 2`, or selected `👍 2 (ana, cleo)`) and
        whether it is ours, in rows that fit `room` cells."""
        state = self.state
        if state is None or state.deleted or not state.reactions:
            return []
        rows: list[list[tuple[str, bool]]] = [[]]
        used = 0
        for emoji, count, mine in reaction_counts(state, self.context.viewer):
            label = f"{emoji} {count}"
            if self.detailed:
                label += f" ({_who(state.reactions[emoji])})"
            item = (label, mine)
            cells = cell_len(label)
            gap = len(REACTION_GAP) if rows[-1] else 0
            if rows[-1] and used + gap + cells > room:
                rows.append([])
                used, gap = 0, 0
            rows[-1].append(item)
            used += gap + cells
        return [row for row in rows if row]


def _who(names: list[str]) -> str:
    shown = ", ".join(clean(n, single_line=True) for n in names[:_WHO_SHOWN])
    more = len(names) - _WHO_SHOWN
    return f"{shown} +{more}" if more > 0 else shown


__all__ = ["EDITED_MARK", "TOMBSTONE", "MessageView", "ViewContext", "needs_view"]
