"""How a message's untrusted text is shown: a Markdown subset, code highlighting, emoji and
@mentions, made safe and cached. Pure functions over Rich text: no Textual in this package.
"""

from __future__ import annotations

from .emoji import SHORTCODES, complete_shortcode, emoji_for
from .limits import DEFAULT_CONFIG, RenderConfig
from .message import (
    DEFAULT_CACHE,
    Mentioned,
    Mode,
    RenderCache,
    RenderedMessage,
    has_markup,
    mentions_in,
    render_message,
)
from .model import Line, Part, Run
from .sanitize import is_safe_url, safe_text
from .theme import DEFAULT_STYLES, DEFAULT_THEME, Theme

__all__ = [
    "DEFAULT_CACHE",
    "DEFAULT_CONFIG",
    "DEFAULT_STYLES",
    "DEFAULT_THEME",
    "SHORTCODES",
    "Line",
    "Mentioned",
    "Mode",
    "Part",
    "RenderCache",
    "RenderConfig",
    "RenderedMessage",
    "Run",
    "Theme",
    "complete_shortcode",
    "emoji_for",
    "has_markup",
    "is_safe_url",
    "mentions_in",
    "render_message",
    "safe_text",
]
