"""The chat log: a line-API `ScrollView` that renders only the visible rows of its `Entry` list.
It must not talk to the network or know about conversations: the screen feeds it entries.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..clock import Clock
from ..config import UiConfig
from ..entries import (
    NAME_COLOURS,
    Entry,
    Kind,
    LogStyles,
    entry_height,
    render_entry,
    row_style,
)
from .styles import component_style

_STYLE_PARTS = (
    "time",
    "text",
    "own",
    "system",
    "error",
    "dm",
    "action",
    "separator",
    "mention",
    "pending",
    "sent",
    "failed",
    "announcement",
    "note",
)
_COUNTED = frozenset({Kind.CHAT, Kind.ACTION, Kind.DM_IN, Kind.DM_OUT, Kind.ANNOUNCEMENT})


class MessageLog(ScrollView, can_focus=False):
    """A scrolling log of `Entry` objects, at most `scrollback` of them.

    Entries are kept in a list with the height (in lines) of each at the
    current width and the first line of each, so the row under any scroll
    position is a binary search away. Rendered entries sit in an LRU cache of
    strips keyed by the entry's identity and version.
    """

    COMPONENT_CLASSES = frozenset(
        {f"message-log--{part}" for part in _STYLE_PARTS}
        | {f"message-log--nick-{n}" for n in range(NAME_COLOURS)}
    )

    @dataclass
    class UnreadChanged(Message):
        """The count of messages below the visible part changed."""

        log: MessageLog
        count: int

        @property
        def control(self) -> MessageLog:
            return self.log

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MessageLog.UnreadChanged) and message.log is self.log

    @dataclass
    class ReachedTop(Message):
        """The user scrolled to the first line: time to ask for older ones."""

        log: MessageLog

        @property
        def control(self) -> MessageLog:
            return self.log

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MessageLog.ReachedTop) and message.log is self.log

    def __init__(
        self,
        *,
        scrollback: int,
        cache_size: int,
        prune_share: int = UiConfig().prune_share,
        clock: Clock | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.scrollback = scrollback
        # With a clock, a day separator (`── Yesterday ──`) goes before the
        # first entry of each day (none before today's first, if it opens the
        # log), and the tooltip of a line gives its full date and time.
        self.clock = clock
        self._first_day: str | None = None  # the day of the oldest dated entry
        self._first_marked = False  # whether a separator names that day
        self._last_day: str | None = None  # the day of the newest dated entry
        self.entries: list[Entry] = []
        self._heights: list[int] = []
        self._starts: list[int] = []
        self._total = 0
        self._width = 0
        self._styles: LogStyles | None = None
        self._cache: LRUCache[tuple[int, int], list[Strip]] = LRUCache(cache_size)
        self.unread = 0
        # Whether new entries scroll into view. Kept as state rather than
        # worked out from the scroll position, which is stale until the
        # first layout and right after the content grows.
        self._follow = True
        # Pruning is done in chunks so that a full log does not pay for a list
        # shift on every new message.
        self._prune_slack = max(1, scrollback // prune_share)

    # -- content -----------------------------------------------------------

    @property
    def line_count(self) -> int:
        return self._total

    def add(self, entry: Entry) -> None:
        self.extend((entry,))

    def _dated(self, entries: Iterable[Entry], last: str | None) -> tuple[list[Entry], str | None]:
        """`entries` with a day separator wherever the day changes after
        `last` (the day of the entry above them), and the day of the last."""
        clock = self.clock
        if clock is None:
            return list(entries), last
        today = clock.day_key(clock.now())
        out: list[Entry] = []
        for entry in entries:
            if entry.at is not None and entry.kind is not Kind.SEPARATOR:
                day = clock.day_key(entry.at)
                if day != last and (last is not None or day != today):
                    out.append(self.day_separator(day))
                if self._first_day is None:
                    self._first_day, self._first_marked = day, bool(out) and out[-1].day == day
                last = day
            out.append(entry)
        return out, last

    def day_separator(self, day: str) -> Entry:
        assert self.clock is not None
        return Entry(Kind.SEPARATOR, "", self.clock.day_words(day), day=day)

    def relabel_days(self) -> None:
        """The date changed (midnight): `Today` is `Yesterday` now."""
        if self.clock is None:
            return
        for entry in self.entries:
            if entry.day:
                words = self.clock.day_words(entry.day)
                if words != entry.text:
                    entry.text = words
                    self.touch(entry)

    def extend(self, entries: Iterable[Entry]) -> None:
        """Append entries; follow them if the view was at the bottom."""
        entries, self._last_day = self._dated(entries, self._last_day)
        follow = self._follow
        added = 0
        counted = 0
        width = self._width
        for entry in entries:
            height = entry_height(entry, width) if width > 0 else 1
            self.entries.append(entry)
            self._heights.append(height)
            self._starts.append(self._total)
            self._total += height
            added += 1
            counted += entry.kind in _COUNTED
        if not added:
            return
        removed_lines = self._prune()
        self._update_virtual_size()
        if follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)
        else:
            if removed_lines:
                self.scroll_to(y=max(0, self.scroll_y - removed_lines), animate=False, force=True)
            if counted:
                self.unread += counted
                self.post_message(self.UnreadChanged(self, self.unread))
        self.refresh()

    def prepend(self, entries: Iterable[Entry]) -> None:
        """Insert older entries above the rest without moving what is shown:
        the scroll position grows by the lines added."""
        first_day, first_marked = self._first_day, self._first_marked
        self._first_day = None  # the page's oldest is the log's oldest now
        new, page_last = self._dated(entries, None)
        if not new:
            self._first_day, self._first_marked = first_day, first_marked
            return
        if self._first_day is None:
            self._first_day, self._first_marked = first_day, first_marked
        elif first_day is not None and first_day != page_last and not first_marked:
            # The page ends on an older day than the entries below it, whose
            # day nothing named yet (today's, opening the log).
            new.append(self.day_separator(first_day))
        dropped = 0
        if first_marked and first_day == page_last:
            # The page ends on the day the log began with: its separator
            # moves up, above the page.
            for index, entry in enumerate(self.entries):
                if entry.kind is not Kind.SEPARATOR:
                    break
                if entry.day == first_day:
                    dropped = self._heights.pop(index)
                    del self.entries[index]
                    self._total -= dropped
                    break
        width = self._width
        heights = [entry_height(entry, width) if width > 0 else 1 for entry in new]
        added = sum(heights)
        at_top_follow = self._follow and self.max_scroll_y == 0
        self.entries[:0] = new
        self._heights[:0] = heights
        self._starts = list(itertools.accumulate(self._heights, initial=0))[:-1]
        self._total += added
        self._update_virtual_size()
        if at_top_follow:
            # Everything fitted on screen and followed the bottom: keep doing so.
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)
        else:
            self.scroll_to(y=self.scroll_y + added - dropped, animate=False, force=True)
        self.refresh()

    def touch(self, entry: Entry) -> None:
        """Redraw an entry whose look changed (say pending -> sent)."""
        entry.version += 1
        index = self._index_of(entry)
        if index is None:
            return  # already scrolled out of the scrollback
        if self._width > 0:
            height = entry_height(entry, self._width)
            if height != self._heights[index]:
                self._heights[index] = height
                self._restart_from(index)
                self._update_virtual_size()
        self.refresh()

    def clear(self) -> None:
        self._first_day = self._last_day = None
        self._first_marked = False
        self.entries.clear()
        self._heights.clear()
        self._starts.clear()
        self._total = 0
        self._cache.clear()
        self._update_virtual_size()
        self.scroll_to(y=0, animate=False, force=True)
        self._set_unread(0)
        self.refresh()

    def rendered_lines(self, width: int | None = None) -> list[str]:
        """Every line of the log as plain text, as it is drawn (for tests and
        debugging; this renders the whole log). A log that was never shown
        has no width yet: `width` says which to draw it at."""
        if width is None or width == self._width:
            return [strip.text for entry in self.entries for strip in self._strips(entry)]
        styles = self._log_styles()
        return [line.plain for entry in self.entries for line in render_entry(entry, styles, width)]

    def page_down(self) -> None:
        self.scroll_page_down(animate=False, force=True)

    def scroll_to_live(self) -> None:
        self._follow = True
        self.scroll_to(y=self.max_scroll_y, animate=False, force=True)

    # -- geometry ------------------------------------------------------------

    def _at_bottom(self) -> bool:
        return self.scroll_offset.y >= self.max_scroll_y

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._width, self._total)

    def _restart_from(self, index: int) -> None:
        starts = self._starts
        total = starts[index] if index < len(starts) else self._total
        for i in range(index, len(self._heights)):
            starts[i] = total
            total += self._heights[i]
        self._total = total

    def _remeasure(self, width: int) -> None:
        follow = self._follow
        old_total = self._total
        # Keep the same entry at the top of the view after re-wrapping.
        top_entry = self._entry_at(self.scroll_offset.y) if self.entries and not follow else None
        self._width = width
        self._cache.clear()
        self._heights = [entry_height(entry, width) for entry in self.entries]
        self._starts = list(itertools.accumulate(self._heights, initial=0))[:-1]
        self._total = sum(self._heights)
        self._update_virtual_size()
        if follow or not old_total:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)
        elif top_entry is not None:
            self.scroll_to(y=self._starts[top_entry], animate=False, force=True)
        self.refresh()

    def _prune(self) -> int:
        """Drop the oldest entries past the scrollback; the lines removed."""
        excess = len(self.entries) - self.scrollback
        if excess < self._prune_slack:
            return 0
        removed = self._starts[excess] if excess < len(self._starts) else self._total
        del self.entries[:excess]
        del self._heights[:excess]
        self._starts = list(itertools.accumulate(self._heights, initial=0))[:-1]
        self._total -= removed
        return removed

    def _entry_at(self, line: int) -> int:
        return bisect_right(self._starts, line) - 1

    def _index_of(self, entry: Entry) -> int | None:
        # Entries are appended in creation order, so uids ascend.
        index = bisect_left(self.entries, entry.uid, key=lambda e: e.uid)
        if index < len(self.entries) and self.entries[index] is entry:
            return index
        for index, candidate in enumerate(self.entries):  # out-of-order add
            if candidate is entry:
                return index
        return None

    # -- unread ---------------------------------------------------------------

    def _set_unread(self, count: int) -> None:
        if count != self.unread:
            self.unread = count
            self.post_message(self.UnreadChanged(self, count))

    @property
    def following(self) -> bool:
        """True while new entries scroll into view (the view is at the bottom)."""
        return self._follow

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._follow = self._at_bottom()
        if self.unread and self._follow:
            self._set_unread(0)

    # Only the user's own scrolling asks for older entries: layout changes
    # (a resize, the first render) also move the view to the top.

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        if self.scroll_y <= 0 and self.entries:
            self.post_message(self.ReachedTop(self))

    def page_up(self) -> None:
        """Scroll a page up; on reaching the top, ask for older entries.
        Forced: until the next layout Textual thinks a log that just grew past
        the view cannot scroll, and a key pressed then would be lost."""
        self.scroll_page_up(animate=False, force=True)
        if self.scroll_y <= 0 and self.entries:
            self.post_message(self.ReachedTop(self))

    # -- rendering --------------------------------------------------------------

    def on_resize(self) -> None:
        width = self._content_width()
        if width != self._width and width > 0:
            self._remeasure(width)
        elif self._follow:
            # Shorter (a notice appeared below): the newest lines stay in view.
            self.call_after_refresh(self._keep_bottom)

    def _keep_bottom(self) -> None:
        if self._follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _log_styles(self) -> LogStyles:
        if self._styles is None:
            part = {name: component_style(self, f"message-log--{name}") for name in _STYLE_PARTS}
            names = tuple(
                component_style(self, f"message-log--nick-{n}") for n in range(NAME_COLOURS)
            )
            self._styles = LogStyles(**part, names=names)
        return self._styles

    def _strips(self, entry: Entry) -> list[Strip]:
        key = (entry.uid, entry.version)
        strips = self._cache.get(key)
        if strips is None:
            console = self.app.console
            width = max(1, self._width)
            styles = self._log_styles()
            strips = [
                Strip(list(line.render(console, end="")), line.cell_len)
                for line in render_entry(entry, styles, width)
            ]
            highlight = row_style(entry, styles)
            if highlight is not None:  # the highlight spans the whole row, not just the text
                strips = [strip.extend_cell_length(width, highlight) for strip in strips]
            self._cache[key] = strips
        return strips

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """The tooltip of the line under the mouse: its full date and time
        (the log shows only `HH:MM`, and a day only at its separators)."""
        if self.clock is None:
            return
        line = self.scroll_offset.y + event.y - self._pad()
        tip: str | None = None
        if 0 <= line < self._total:
            entry = self.entries[self._entry_at(line)]
            if entry.at is not None:
                tip = self.clock.full(entry.at)
        if tip != self.tooltip:
            self.tooltip = tip

    def _pad(self) -> int:
        """Blank rows above a log shorter than the view: it sits on the
        input, as chats do, instead of hanging from the top."""
        return max(0, self.scrollable_content_region.height - self._total)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y - self._pad()
        width = self.size.width
        base = self.rich_style
        if not 0 <= line < self._total:
            return Strip.blank(width, base)
        index = self._entry_at(line)
        strips = self._strips(self.entries[index])
        offset = line - self._starts[index]
        if offset >= len(strips):  # cannot happen unless heights drifted
            return Strip.blank(width, base)
        return strips[offset].crop_extend(scroll_x, scroll_x + width, None).apply_style(base)


__all__ = ["MessageLog"]
