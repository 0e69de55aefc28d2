"""The renderer's limits and defaults, in one place. Data only."""

from __future__ import annotations

from dataclasses import dataclass

from conexion_protocol.frames import MAX_NAME_LEN


@dataclass(slots=True, frozen=True, eq=False)
class RenderConfig:
    """Bounds that keep rendering cheap whatever the text; tests shrink them.
    Compared by identity: it is part of every cache key, and hashing eleven
    fields on every lookup would cost more than the rest of the key."""

    # Code blocks longer than this many lines (plus one: hiding a single line
    # would save nothing) are shown folded until expanded.
    fold_after: int = 8
    # Quote levels and list levels drawn; deeper ones are drawn at this depth,
    # so `>>>>…` cannot push the text off the screen.
    max_quote_depth: int = 4
    max_list_depth: int = 4
    # Characters of an unlabelled code block looked at to guess its language.
    guess_chars: int = 2_000
    # Characters of a code block highlighted; the rest is shown plain. A message
    # is at most 4,000 characters, so this only bounds texts made locally.
    max_highlight: int = 8_000
    # Some lexers try a pattern at every character that scans to the end of
    # the line (quadratic in its length): a block with a longer line than this
    # (minified code, a pasted blob) is shown plain.
    max_highlight_line: int = 400
    max_url: int = 2_048  # a longer link destination is not a link
    max_label: int = 24  # characters of a fence's language shown
    max_shortcode: int = 48  # characters between the colons of :emoji:
    max_name: int = MAX_NAME_LEN  # characters of an @mention


DEFAULT_CONFIG = RenderConfig()
