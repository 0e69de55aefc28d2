"""The rules for names, room names and message texts, and the look-alike
key that makes names unique. Pure functions over strings: the server
enforces them, clients use them to check input before sending.
"""

from __future__ import annotations

import unicodedata

from .frames import (
    MAX_NAME_LEN,
    MAX_ROOM_LEN,
    MAX_TEXT_LEN,
    MAX_TOPIC_LEN,
    ErrorCode,
    ProtocolError,
)

_NAME_PUNCTUATION = frozenset("_-.")

# C0 and C1 controls (and DEL) except newline and tab: removed from every
# text before it is relayed or stored.
CONTROLS: dict[int, None] = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A)] + list(range(0x7F, 0xA0))
)
# Bidi embedding, override and isolate controls: they can reorder what is
# shown around them.
BIDI_CONTROLS: dict[int, None] = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def normalize_name(raw: str) -> str:
    """The NFC form of a valid name, or `ProtocolError(bad_name)` saying why."""
    name = unicodedata.normalize("NFC", raw)
    if not name:
        raise ProtocolError(ErrorCode.BAD_NAME, "a name cannot be empty")
    if len(name) > MAX_NAME_LEN:
        raise ProtocolError(ErrorCode.BAD_NAME, f"a name has at most {MAX_NAME_LEN} characters")
    first = unicodedata.category(name[0])
    if not (first[0] == "L" or first == "Nd"):
        raise ProtocolError(ErrorCode.BAD_NAME, "a name must start with a letter or a digit")
    for ch in name:
        cat = unicodedata.category(ch)
        if cat[0] in "LM" or cat == "Nd" or ch in _NAME_PUNCTUATION:
            continue
        what = "a space" if ch.isspace() else f"the character U+{ord(ch):04X}"
        raise ProtocolError(
            ErrorCode.BAD_NAME,
            f"a name may hold only letters, digits, marks and _ - . (not {what})",
        )
    _refuse_mixed_scripts(name, ErrorCode.BAD_NAME, "a name")
    return name


def _refuse_mixed_scripts(text: str, code: ErrorCode, what: str) -> None:
    scripts = {_confusable_script(ch) for ch in text if ch.isalpha()} - {None}
    if len(scripts) > 1:
        # One Cyrillic `а` in a Latin name is the classic impersonation; the
        # skeleton catches the known look-alikes, this catches the rest.
        mixed = " and ".join(sorted(s.title() for s in scripts if s is not None))
        raise ProtocolError(code, f"{what} cannot mix {mixed} letters (they look alike)")


# Look-alike letters of the Greek and Cyrillic scripts (and a few Latin
# oddities), mapped to the Latin letter they are mistaken for. Applied after
# NFKD + casefold, so only lowercase forms appear; where a letter's capital
# and small forms resemble different Latin letters (Greek Ν/ν: N/v), the
# capital wins, because names are shown as typed and capitals are where the
# scripts overlap most. A compact, hand-checked subset of Unicode's
# confusables.txt (UTS #39) for the scripts our users mix up; see
# docs/protocol.md for the rule and its limits.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "г": "r", "е": "e", "з": "3", "і": "i", "ј": "j",
        "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q",
        "ԝ": "w", "ӏ": "l", "ь": "b", "ү": "y", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "γ": "y", "ε": "e", "ζ": "z", "η": "h", "ι": "i",
        "κ": "k", "μ": "m", "ν": "n", "ο": "o", "ρ": "p", "τ": "t", "υ": "y",
        "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
        # Latin letters that pass for plain ones
        "ı": "i", "ȷ": "j", "ɑ": "a",
    }
)  # fmt: skip

# Marks that draw nothing (grapheme joiner, variation selectors): a name
# that differs from another only by them looks the same.
_INVISIBLE_MARKS = dict.fromkeys(
    [0x034F, *range(0x180B, 0x180E), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)

_CONFUSABLE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def name_key(name: str) -> str:
    """The key that makes names unique, the name's "skeleton": NFKC (so a
    fullwidth Ａ is A), casefold, look-alike letters of other scripts mapped
    to the Latin letter they resemble, invisible marks dropped.

    Two names with the same key cannot both be online, and a DM to any
    spelling with the same key reaches the one holder.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    return unicodedata.normalize("NFC", decomposed.translate(_LOOKALIKES)).translate(
        _INVISIBLE_MARKS
    )


def _confusable_script(ch: str) -> str | None:
    """LATIN, GREEK or CYRILLIC for a letter of those scripts (fullwidth
    forms included), else None."""
    base = unicodedata.normalize("NFKD", ch)[:1] or ch
    label = unicodedata.name(base, "")
    for script in _CONFUSABLE_SCRIPTS:
        if label.startswith(script):
            return script
    return None


def parse_room(raw: str) -> tuple[str, str]:
    """A valid room name as shown (NFC) and its key, or `bad_frame`.

    Rooms are one by their key, as names are: the same skeleton (case,
    width and look-alike letters folded) is the same room.
    """
    name = unicodedata.normalize("NFC", raw)
    if not 0 < len(name) <= MAX_ROOM_LEN or not all(
        unicodedata.category(ch)[0] == "L"
        or unicodedata.category(ch) == "Nd"
        or ch in _NAME_PUNCTUATION
        for ch in name
    ):
        raise ProtocolError(
            ErrorCode.BAD_FRAME,
            f"a room name is 1 to {MAX_ROOM_LEN} letters, digits, _ - or .",
        )
    _refuse_mixed_scripts(name, ErrorCode.BAD_FRAME, "a room name")
    return name, name_key(name)


def normalize_room(raw: str) -> str:
    """A room name's key (see `parse_room`), or `bad_frame`."""
    return parse_room(raw)[1]


def clean_topic(raw: str, max_len: int = MAX_TOPIC_LEN) -> str:
    """A topic on one line, controls removed and ends trimmed; "" clears it.
    Over `max_len` code points is `bad_text`."""
    topic = " ".join(raw.translate(CONTROLS).split("\n")).strip()
    if len(topic) > max_len:
        raise ProtocolError(
            ErrorCode.BAD_TEXT,
            f"the topic is {len(topic)} characters long; the limit is {max_len}",
        )
    return topic


def clean_text(raw: str, max_len: int = MAX_TEXT_LEN) -> str:
    """A message text with control characters removed, or `ProtocolError(bad_text)`."""
    text = raw.translate(CONTROLS)
    if not text:
        raise ProtocolError(ErrorCode.BAD_TEXT, "the message is empty")
    if len(text) > max_len:
        raise ProtocolError(
            ErrorCode.BAD_TEXT,
            f"the message is {len(text)} characters long; the limit is {max_len}",
        )
    return text
