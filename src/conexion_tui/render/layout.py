"""Blocks laid out as lines of runs at a width: quote bars, list markers, code blocks with their
language line, gutter and fold marker. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .blocks import Block, CodeBlock, Item, Paragraph, Quote
from .highlight import guess_language, highlight, lexer_alias
from .inline import Mentions, inline_runs
from .limits import RenderConfig
from .model import Line, Part, Run
from .wrap import cell_breaks, cells, split_runs, word_breaks

QUOTE_BAR = "┃ "
GUTTER = "│ "
FOLD_HINT = "press e to expand"


@dataclass(slots=True)
class Layout:
    """Lines being built; the first one may be narrower (it follows the
    sender's name)."""

    width: int
    first_width: int
    lines: list[Line] = field(default_factory=list)
    folded_blocks: int = 0
    hidden_lines: int = 0

    def room(self) -> int:
        return self.width if self.lines else self.first_width

    def add(self, runs: list[Run], first: list[Run], rest: list[Run], *, code: bool) -> None:
        """`runs` on as many lines as they need, after `first` on the first
        line and `rest` on the others."""
        lead, follow = _runs_cells(first), _runs_cells(rest)
        text = "".join(run.text for run in runs)
        if code:
            breaks = cell_breaks(text, self.room() - lead, self.width - follow)
        else:
            breaks = word_breaks(text, max(1, self.room() - lead), max(1, self.width - follow))
        for number, piece in enumerate(split_runs(runs, breaks, trim=not code)):
            self.lines.append(tuple((first if number == 0 else rest) + piece))


def _runs_cells(runs: list[Run]) -> int:
    return sum(cells(run.text) for run in runs)


def _code(block: CodeBlock, layout: Layout, expanded: bool, config: RenderConfig) -> None:
    language = block.language
    alias = lexer_alias(language) if language else None
    label = language[: config.max_label]
    source = "\n".join(block.lines)
    if not language:
        alias = guess_language(source, config.guess_chars)
        label = f"{alias} (guessed)" if alias else "code"
    lines = block.lines
    hidden = 0
    if not expanded and len(lines) > config.fold_after + 1:
        hidden = len(lines) - config.fold_after
        lines = lines[: config.fold_after]
        # Tokens run left to right, so the shown lines alone lex as they
        # would in the whole block: no need to lex what is folded away.
        source = "\n".join(lines)
    runs: tuple[tuple[Run, ...], ...] | list[list[Run]] | None = None
    if (
        alias is not None
        and len(source) <= config.max_highlight
        and max(map(len, lines), default=0) <= config.max_highlight_line
    ):
        runs = highlight(source, alias)
    if runs is None:
        runs = [[Run(line, (Part.CODE,))] if line else [] for line in lines]
    gutter = [Run(GUTTER, (Part.GUTTER,))]
    layout.add([Run(label, (Part.LABEL,))], [], [], code=True)
    for line in runs:
        layout.add(list(line), gutter, gutter, code=True)
    if hidden:
        layout.folded_blocks += 1
        layout.hidden_lines += hidden
        noun = "line" if hidden == 1 else "lines"
        marker = [Run(f"… {hidden} more {noun} ({FOLD_HINT})", (Part.FOLD,))]
        layout.add(marker, gutter, gutter, code=False)


def lay_out(
    blocks: list[Block],
    *,
    width: int,
    first_width: int,
    expanded: bool,
    mentions: Mentions,
    config: RenderConfig,
) -> Layout:
    layout = Layout(max(1, width), max(1, first_width))
    for block in blocks:
        if isinstance(block, Paragraph):
            layout.add(inline_runs(block.text, mentions, config), [], [], code=False)
        elif isinstance(block, Quote):
            bar = [Run(QUOTE_BAR * min(block.depth, config.max_quote_depth), (Part.QUOTE_BAR,))]
            runs = inline_runs(block.text, mentions, config, (Part.QUOTE,))
            layout.add(runs, bar, bar, code=False)
        elif isinstance(block, Item):
            indent = "  " * min(block.level, config.max_list_depth)
            marker = ([Run(indent)] if indent else []) + [Run(block.marker + " ", (Part.MARKER,))]
            hang = [Run(" " * _runs_cells(marker))]
            layout.add(inline_runs(block.text, mentions, config), marker, hang, code=False)
        else:
            _code(block, layout, expanded, config)
    return layout
