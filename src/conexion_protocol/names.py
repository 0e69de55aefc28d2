"""The rules for names, room names and message texts, and the look-alike
key that makes names unique. Pure functions over strings: the server
enforces them, clients use them to check input before sending.

The rules follow Unicode's security mechanisms (UTS #39): no
default-ignorable (invisible) characters, letters of one script (the
"Highly Restrictive" level: Latin may go with Han and the Japanese and Korean
scripts), one system of digits, and uniqueness by a look-alike key built
from Unicode's confusables. The facts they need and Python's `unicodedata`
lacks are generated into `unicode_tables` (tools/gen_unicode_tables.py), so
the rules need no third-party package at run time and read no file.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
import zlib
from functools import lru_cache

from . import unicode_tables as _tables
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
# What the server removes from every text and topic before anything else:
# control characters, and the bidi controls, so that no text reorders what
# a plain-text user (or any client) shows after it.
TEXT_STRIP: dict[int, None] = {**CONTROLS, **BIDI_CONTROLS}


# -- the tables, read once ---------------------------------------------------------


def _tokens(chunks: str) -> list[str]:
    return chunks.split()


def _ignorable_pattern() -> re.Pattern[str]:
    spans = []
    for token in _tokens(_tables.DEFAULT_IGNORABLE):
        first, last = (chr(int(end, 16)) for end in token.split("-"))
        spans.append(f"{re.escape(first)}-{re.escape(last)}")
    return re.compile(f"[{''.join(spans)}]")


def _keys() -> dict[int, str]:
    keys = {}
    for token in _tokens(_tables.KEYS):
        source, _, target = token.partition("=")
        keys[int(source, 16)] = "".join(chr(int(cp, 16)) for cp in target.split(".") if cp)
    return keys


# Default_Ignorable_Code_Point: characters that draw nothing (Hangul
# fillers, variation selectors, zero-width joiners, the Khmer inherent
# vowels, ...), so `copa` and `copa` + U+3164 look the same.
_IGNORABLE = _ignorable_pattern()
_KEYS = _keys()
_SCRIPT_NAMES = dict(token.split("=") for token in _tokens(_tables.SCRIPT_NAMES))
_SCRIPT_SETS = [
    frozenset(token[i : i + 4] for i in range(0, len(token), 4))
    for token in _tokens(_tables.SCRIPT_SETS)
]


def _runs() -> tuple[list[int], list[int]]:
    starts, sets = [], []
    for token in _tokens(_tables.SCRIPT_RUNS):
        start, _, index = token.partition(":")
        starts.append(int(start, 16))
        sets.append(int(index, 16))
    return starts, sets


_RUN_STARTS, _RUN_SETS = _runs()

# Names (and rooms) are stored by key: a store that kept keys made under
# other tables, or another Unicode version of `unicodedata`, must rebuild them.
NAME_KEY_VERSION = zlib.crc32(f"{_tables.DIGEST:08X} {unicodedata.unidata_version}".encode())

# Common and Inherited characters (digits, `_`, combining accents) go with
# any script.
_ANY_SCRIPT = (frozenset({"Zyyy"}), frozenset({"Zinh"}))
# UTS #39 5.1: Han is written with Hiragana and Katakana (Japanese, Jpan),
# with Hangul (Korean, Kore) and with Bopomofo (Hanb); a set that holds
# one of these scripts holds the writing systems it belongs to.
_WRITING_SYSTEMS = {
    "Hani": {"Hanb", "Jpan", "Kore"},
    "Hira": {"Jpan"},
    "Kana": {"Jpan"},
    "Hang": {"Kore"},
    "Bopo": {"Hanb"},
}
# UTS #39 5.2, Highly Restrictive: besides one script, Latin with one of these.
_LATIN_WITH = (
    frozenset({"Latn", "Jpan"}),
    frozenset({"Latn", "Hanb"}),
    frozenset({"Latn", "Kore"}),
)


def _augmented(codes: frozenset[str]) -> frozenset[str]:
    extra = set()
    for code in codes:
        extra |= _WRITING_SYSTEMS.get(code, set())
    return codes | extra if extra else codes


_AUGMENTED_SETS = [_augmented(codes) for codes in _SCRIPT_SETS]


def _script_set(ch: str) -> int:
    """The index of `ch`'s Script_Extensions in the tables."""
    return _RUN_SETS[bisect.bisect_right(_RUN_STARTS, ord(ch)) - 1]


# -- the rules ------------------------------------------------------------------------


@lru_cache(maxsize=65_536)  # checked on every frame that names one
def normalize_name(raw: str) -> str:
    """The NFC form of a valid name, or `ProtocolError(bad_name)` saying why."""
    name = unicodedata.normalize("NFC", raw)
    if not name:
        raise ProtocolError(ErrorCode.BAD_NAME, "a name cannot be empty")
    if len(name) > MAX_NAME_LEN:
        raise ProtocolError(ErrorCode.BAD_NAME, f"a name has at most {MAX_NAME_LEN} characters")
    _refuse_invisible(name, ErrorCode.BAD_NAME, "a name")
    first = unicodedata.category(name[0])
    if not (first[0] == "L" or first == "Nd"):
        raise ProtocolError(ErrorCode.BAD_NAME, "a name must start with a letter or a digit")
    for ch in name:
        cat = unicodedata.category(ch)
        if cat[0] in "LM" or cat == "Nd" or ch in _NAME_PUNCTUATION:
            continue
        if ch.isspace():
            raise ProtocolError(ErrorCode.BAD_NAME, "a name cannot hold spaces")
        shown = f"{ch} (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"
        raise ProtocolError(
            ErrorCode.BAD_NAME,
            f"a name may hold only letters, digits, marks and _ - . (not {shown})",
        )
    _refuse_mixed_scripts(name, ErrorCode.BAD_NAME, "a name")
    _refuse_mixed_digits(name, ErrorCode.BAD_NAME, "a name")
    return name


def _refuse_invisible(text: str, code: ErrorCode, what: str) -> None:
    found = _IGNORABLE.search(text)
    if found:
        ch = found.group()
        label = unicodedata.name(ch, "")
        shown = f"U+{ord(ch):04X} {label}" if label else f"U+{ord(ch):04X}"
        raise ProtocolError(code, f"{what} cannot hold invisible characters ({shown})")


def _refuse_mixed_scripts(text: str, code: ErrorCode, what: str) -> None:
    """UTS #39's mixed-script detection at its Highly Restrictive level."""
    indexes = {_script_set(ch) for ch in text}
    sets = [_AUGMENTED_SETS[i] for i in indexes if _SCRIPT_SETS[i] not in _ANY_SCRIPT]
    if not sets or frozenset.intersection(*sets):
        return
    if any(all(s & allowed for s in sets) for allowed in _LATIN_WITH):
        return
    # One Cyrillic `а` in a Latin name is the classic impersonation; the key
    # catches whole-script look-alikes, this catches the mixes.
    scripts = sorted(
        {_SCRIPT_NAMES[min(_SCRIPT_SETS[i])] for i in indexes if _SCRIPT_SETS[i] not in _ANY_SCRIPT}
    )
    mixed = " and ".join([", ".join(scripts[:-1]), scripts[-1]])
    raise ProtocolError(code, f"{what} cannot mix {mixed} letters (they look alike)")


def _refuse_mixed_digits(text: str, code: ErrorCode, what: str) -> None:
    """UTS #39 5.3: digits of one decimal system only (Bengali `০` is a 0,
    but not of the system `1` is from)."""
    systems: dict[int, str] = {}  # each system's zero -> the first digit of it
    for ch in text:
        if unicodedata.category(ch) == "Nd":
            systems.setdefault(ord(ch) - unicodedata.decimal(ch), ch)
    if len(systems) > 1:
        shown = " and ".join(systems.values())
        raise ProtocolError(code, f"{what} cannot mix digits of different systems ({shown})")


@lru_cache(maxsize=65_536)  # the same few names, again and again
def name_key(name: str) -> str:
    """The key that makes names unique: UTS #39's skeleton of the name
    folded for case, so that names that look alike or differ only in case
    or width have the same key. Never raises; any text has a key.

    1. case folding and compatibility decomposition (`ＡＮＡ`, `Ana`, `ana`
       are one; so are `ﬁ` and `fi`);
    2. default-ignorable characters removed;
    3. every character replaced by its prototype in Unicode's confusables
       (Cyrillic `а` and Cherokee `Ꭺ` by `a`, `0` by `o`, `m` by `rn`), a
       folded letter by its capital's when the capital has one, since the
       case is not part of the name (Greek `ν` as `Ν`, N; Latin `i` as `I`, l);
    4. NFC, so that the key of a key is itself.

    Two names with the same key cannot both be online, and a DM to any
    spelling with the same key reaches the one holder.
    """
    return text_key(name)


def text_key(text: str) -> str:
    """`name_key` of any text: a message's, searched for a mention."""
    if text.isascii():
        # Folding and both normalisations leave ASCII as it is and no ASCII
        # character is default-ignorable, so only the prototypes are left to
        # apply (a test checks this against `_skeleton`).
        return text.lower().translate(_KEYS)
    # Word by word through a cache: words repeat, texts do not. The same key
    # as the whole text's, because every step works character by character
    # except the normalisations, and those never reach across a space (a
    # starter that composes with nothing, and its own key).
    return " ".join(map(_piece_key, text.split(" ")))


def _skeleton(text: str) -> str:
    folded = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", text.casefold()).casefold()
    )
    return unicodedata.normalize("NFC", _IGNORABLE.sub("", folded).translate(_KEYS))


@lru_cache(maxsize=16_384)
def _piece_key(piece: str) -> str:
    return _skeleton(piece)


@lru_cache(maxsize=65_536)  # checked on every frame that names one
def parse_room(raw: str) -> tuple[str, str]:
    """A valid room name as shown (NFC) and its key, or `bad_frame`.

    Rooms are one by their key, as names are: the same skeleton (case,
    width and look-alike letters folded) is the same room.
    """
    name = unicodedata.normalize("NFC", raw)
    if 0 < len(name) <= MAX_ROOM_LEN:
        _refuse_invisible(name, ErrorCode.BAD_FRAME, "a room name")
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
    _refuse_mixed_digits(name, ErrorCode.BAD_FRAME, "a room name")
    return name, name_key(name)


def normalize_room(raw: str) -> str:
    """A room name's key (see `parse_room`), or `bad_frame`."""
    return parse_room(raw)[1]


def clean_topic(raw: str, max_len: int = MAX_TOPIC_LEN) -> str:
    """A topic on one line, controls removed and ends trimmed; "" clears it.
    Over `max_len` code points is `bad_text`."""
    topic = " ".join(raw.translate(TEXT_STRIP).split("\n")).strip()
    if len(topic) > max_len:
        raise ProtocolError(
            ErrorCode.BAD_TEXT,
            f"the topic is {len(topic)} characters long; the limit is {max_len}",
        )
    return topic


def clean_text(raw: str, max_len: int = MAX_TEXT_LEN) -> str:
    """A message text with control characters (and bidi controls) removed,
    or `ProtocolError(bad_text)`."""
    # Everything TEXT_STRIP holds is unprintable: a printable text (most are)
    # has nothing to remove.
    text = raw if raw.isprintable() else raw.translate(TEXT_STRIP)
    if not text:
        raise ProtocolError(ErrorCode.BAD_TEXT, "the message is empty")
    if len(text) > max_len:
        raise ProtocolError(
            ErrorCode.BAD_TEXT,
            f"the message is {len(text)} characters long; the limit is {max_len}",
        )
    return text
