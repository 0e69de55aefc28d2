"""What may reach the terminal: untrusted text with control characters, escape sequences and
bidi overrides removed. Pure functions over strings.
"""

from __future__ import annotations

import re

from conexion_protocol import BIDI_CONTROLS, CONTROLS

TAB_SIZE = 4

# C0 (but newline and tab), DEL and C1, so no escape sequence can start; bidi
# embeddings, overrides and isolates, so nothing reorders what follows; the
# Unicode line and paragraph separators become the line breaks they mean.
_STRIP: dict[int, str | None] = {**CONTROLS, **BIDI_CONTROLS, 0x2028: "\n", 0x2029: "\n"}
# Most texts hold none of them: finding that out is much cheaper than translating.
_PRINTABLE_ASCII = re.compile(r"[!-~]+")
_NEEDS_WORK = re.compile("[" + "".join(re.escape(chr(c)) for c in [*_STRIP, 0x09]) + "]")


def safe_text(text: str) -> str:
    """`text` with nothing a terminal would interpret, tabs as spaces."""
    if _NEEDS_WORK.search(text) is None:
        return text
    text = text.translate(_STRIP)
    if "\t" in text:
        text = text.expandtabs(TAB_SIZE)
    return text


def is_safe_url(url: str) -> bool:
    """Whether `url` may become an OSC 8 hyperlink: http or https, printable
    ASCII only (no space, no control that could end the escape sequence)."""
    lowered = url[:8].lower()
    if lowered.startswith("https://"):
        scheme = 8
    elif lowered.startswith("http://"):
        scheme = 7
    else:
        return False
    return len(url) > scheme and _PRINTABLE_ASCII.fullmatch(url) is not None
