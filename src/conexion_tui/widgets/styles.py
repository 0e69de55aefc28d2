"""Component styles from `app.tcss` as Rich styles, translucent colours blended over the widget's
background. Reading styles only: no widget here.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


def component_style(widget: Widget, name: str) -> Style:
    """Only what the `name` component sets (colour, background, text style),
    with translucent colours blended over the widget's background."""
    # Textual's partial component styles drop the alpha of colours such as
    # `$text-muted` (it would come out as plain white), hence the blending.
    styles = widget.get_component_styles(name)
    base = widget.background_colors[1]
    color = None
    bgcolor = None
    if styles.has_rule("color"):
        color = (base + styles.color).rich_color
    if styles.has_rule("background"):
        bgcolor = (base + styles.background).rich_color
    return Style(color=color, bgcolor=bgcolor) + styles.text_style
