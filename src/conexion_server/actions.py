"""Message actions: what a reply, a reaction or an edit does to a stored
message, and what may be reacted with. Pure functions of messages; the hub
decides who may, the stores keep the result, a cluster carries the changes
below between instances.
"""

from __future__ import annotations

import unicodedata

import msgspec

from conexion_protocol import (
    MAX_EMOJI_LEN,
    ErrorCode,
    Message,
    ProtocolError,
    Reaction,
    name_key,
)
from conexion_protocol.frames import UNSET

# Joiners and modifiers that belong inside one emoji: zero-width joiner,
# variation selectors, the keycap mark, skin tones (So already), tags.
_JOINERS = {0x200D, 0xFE0E, 0xFE0F, 0x20E3}
_TAGS = range(0xE0020, 0xE0080)
_KEYCAP_BASES = set("0123456789#*")


def clean_emoji(raw: str) -> str:
    """The reaction as given, if it is one emoji (or one emoji sequence:
    flags, skin tones, ZWJ families, keycaps); else `bad_frame`.

    Letters, digits, spaces, controls and markup never pass, so a reaction
    cannot carry text, whatever a client shows it as.
    """
    emoji = unicodedata.normalize("NFC", raw)
    if not emoji or len(emoji) > MAX_EMOJI_LEN:
        raise _bad_emoji(raw)
    pictographs = 0
    for i, char in enumerate(emoji):
        code = ord(char)
        category = unicodedata.category(char)
        if category == "So" or 0x1F1E6 <= code <= 0x1F1FF:
            pictographs += 1
        elif code in _JOINERS or code in _TAGS or category in ("Mn", "Me", "Sk"):
            if i == 0 and code != 0x20E3:
                raise _bad_emoji(raw)  # a modifier alone
        elif char in _KEYCAP_BASES and emoji[i + 1 : i + 2] in ("\ufe0f", "\u20e3"):
            pictographs += 1
        else:
            raise _bad_emoji(raw)
    if pictographs == 0:
        raise _bad_emoji(raw)
    return emoji


def _bad_emoji(raw: str) -> ProtocolError:
    shown = raw if len(raw) <= MAX_EMOJI_LEN else raw[:MAX_EMOJI_LEN] + "..."
    return ProtocolError(
        ErrorCode.BAD_FRAME, f"a reaction is one emoji, such as 👍; {shown!r} is not"
    )


def reactors(message: Message, emoji: str) -> list[str]:
    """Who has reacted to `message` with `emoji`, first first."""
    if message.reactions is UNSET:
        return []
    for reaction in message.reactions:
        if reaction.emoji == emoji:
            return list(reaction.names)
    return []


def has_reacted(names: list[str], key: str) -> bool:
    return any(name_key(name) == key for name in names)


def toggled(names: list[str], key: str, name: str, on: bool) -> list[str]:
    """`names` with `name` (by its key) added or taken out; the same list
    when that is already so."""
    if on:
        return names if has_reacted(names, key) else [*names, name]
    return [n for n in names if name_key(n) != key]


def with_reactors(message: Message, emoji: str, names: list[str]) -> Message:
    """`message` with `emoji` given by exactly `names` (none: the emoji
    goes); a new emoji goes last, where it was first given."""
    current = list(message.reactions) if message.reactions is not UNSET else []
    for i, reaction in enumerate(current):
        if reaction.emoji == emoji:
            if names:
                current[i] = Reaction(emoji, names)
            else:
                del current[i]
            break
    else:
        if names:
            current.append(Reaction(emoji, names))
    return msgspec.structs.replace(message, reactions=current or UNSET)


def with_text(message: Message, text: str) -> Message:
    return msgspec.structs.replace(message, text=text, edited=True)


class EditChange(msgspec.Struct, omit_defaults=True):
    """A message's new text, as decided (and, in a cluster, logged)."""

    room: str  # key
    seq: int
    text: str
    by: str
    author: str  # who wrote the message
    ts: str


class ReactChange(msgspec.Struct, omit_defaults=True):
    """A reaction given or taken back, with everyone's for that emoji after
    it (`names`); `changed` is false for a resend that found it so."""

    room: str  # key
    seq: int
    emoji: str
    by: str
    key: str  # the reactor's name key
    on: bool
    author: str
    names: list[str] = []
    changed: bool = True
