"""Property-based tests of the codec: whatever the bytes, the codec answers with a
frame or a precise protocol error, and framing does not depend on chunking."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conexion_protocol import (
    MAX_NAME_LEN,
    MAX_TEXT_LEN,
    Ack,
    Bye,
    Dm,
    ErrorCode,
    FrameTooLong,
    Hello,
    History,
    Joined,
    Left,
    LineFramer,
    Message,
    Nick,
    Ping,
    Pong,
    ProtocolError,
    Say,
    Who,
    clean_text,
    decode_client,
    decode_server,
    encode,
    normalize_name,
)

# Derandomized: the same examples on every run, so CI never flakes on a new one;
# run with --hypothesis-seed=random (or raise max_examples) to explore.
PROPS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

FRAME_TYPES = ["hello", "say", "dm", "nick", "who", "join", "part", "history", "ping", "pong"]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["type", "name", "proto", "id", "text", "to", "room", "action", "before", "limit", "t"]


@st.composite
def frame_like_objects(draw: st.DrawFn) -> dict:
    """Objects that look like frames: a known or unknown type, fields of any type."""
    obj = draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
    if draw(st.booleans()):
        obj["type"] = draw(st.sampled_from([*FRAME_TYPES, "bye", "dance"]))
    return obj


def outcome(call: Callable[[Any], Any], arg: Any) -> tuple[Any, ProtocolError | None]:
    """(result, None) or (None, the ProtocolError); any other exception escapes."""
    try:
        return call(arg), None
    except ProtocolError as exc:
        return None, exc


def _decodes_or_precise_error(line: bytes) -> None:
    frame, error = outcome(decode_client, line)
    if error is None:
        assert frame is not None
        return
    assert error.code in (ErrorCode.BAD_FRAME, ErrorCode.UNKNOWN_TYPE)
    assert error.message
    assert error.id is None or 1 <= len(error.id) <= 64


@PROPS
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_fail_precisely(line: bytes) -> None:
    _decodes_or_precise_error(line)


@PROPS
@given(frame_like_objects())
def test_any_frame_like_object_decodes_or_fails_precisely(obj: dict) -> None:
    _decodes_or_precise_error(json.dumps(obj).encode())


@PROPS
@given(frame_like_objects(), st.data())
def test_mangled_frames_decode_or_fail_precisely(obj: dict, data: st.DataObject) -> None:
    line = bytearray(json.dumps(obj).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        if not line:
            break
        i = data.draw(st.integers(0, len(line) - 1))
        line[i] = data.draw(st.integers(0, 255))
    _decodes_or_precise_error(bytes(line))


# -- framing -------------------------------------------------------------------------

MAX_LINE = 16


def reference_split(stream: bytes, max_line: int) -> tuple[list[bytes], bool]:
    """The lines a framer must return, and whether it must then refuse a line."""
    *complete, tail = stream.split(b"\n")
    lines: list[bytes] = []
    for line in complete:
        if len(line) + 1 > max_line:
            return lines, True
        lines.append(line)
    return lines, len(tail) >= max_line


@st.composite
def streams_and_chunkings(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    pieces = draw(
        st.lists(
            st.binary(max_size=MAX_LINE + 4).map(lambda b: b.replace(b"\n", b"")),
            max_size=8,
        )
    )
    stream = b"\n".join(pieces) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return stream, chunks


@PROPS
@given(streams_and_chunkings())
def test_framer_is_bounded_and_independent_of_chunking(case: tuple[bytes, list[bytes]]) -> None:
    stream, chunks = case
    expected, refused = reference_split(stream, MAX_LINE)
    framer = LineFramer(MAX_LINE)
    got: list[bytes] = []
    too_long = False
    for chunk in chunks:
        try:
            got.extend(framer.feed(chunk))
        except FrameTooLong as exc:
            got.extend(exc.lines)
            too_long = True
            break
        assert framer.pending < MAX_LINE  # never holds a line that could not fit
    assert got == expected
    assert too_long == refused


# -- round trips -----------------------------------------------------------------------

texts = st.text(min_size=1, max_size=50)
ids = st.text(min_size=1, max_size=64)
ints = st.integers(min_value=0, max_value=2**63 - 1)
timestamps = st.just("2026-11-24T12:00:00.123Z")

client_frames = st.one_of(
    st.builds(Hello, name=texts, proto=st.integers(-(2**63), 2**63 - 1), client=texts),
    st.builds(Say, id=ids, text=texts, room=texts, action=st.booleans()),
    st.builds(Dm, id=ids, to=texts, text=texts),
    st.builds(Nick, name=texts),
    st.builds(Who, room=texts),
    st.builds(History, room=texts, before=ints, limit=st.integers(1, 200)),
    st.builds(Ping, t=json_values),
    st.builds(Pong, t=json_values),
    st.builds(Bye, reason=texts),
)
server_frames = st.one_of(
    st.builds(
        Message,
        seq=ints,
        ts=timestamps,
        room=texts,
        from_=texts,
        text=texts,
        action=st.booleans(),
    ),
    st.builds(Ack, id=ids, seq=ints, ts=timestamps),
    st.builds(Joined, name=texts, ts=timestamps, room=texts),
    st.builds(Left, name=texts, ts=timestamps, reason=st.sampled_from(["quit", "slow"])),
)


@PROPS
@given(client_frames)
def test_client_frames_round_trip(frame: object) -> None:
    line = encode(frame)  # type: ignore[arg-type]
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert decode_client(line[:-1]) == frame


@PROPS
@given(server_frames)
def test_server_frames_round_trip(frame: object) -> None:
    line = encode(frame)  # type: ignore[arg-type]
    assert b"\n" not in line[:-1]
    assert decode_server(line[:-1]) == frame


# -- names and text --------------------------------------------------------------------

name_chars = st.characters(categories=["L", "M", "Nd", "Zs", "Cc", "P"]) | st.sampled_from("_-.")


def _obeys_name_rules(name: str) -> bool:
    if not 1 <= len(name) <= MAX_NAME_LEN or unicodedata.normalize("NFC", name) != name:
        return False
    first = unicodedata.category(name[0])
    if not (first[0] == "L" or first == "Nd"):
        return False
    if not all(
        unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) == "Nd" or ch in "_-."
        for ch in name
    ):
        return False
    # Letters of at most one of the scripts that look alike (Latin, Greek,
    # Cyrillic), judged by each letter's name (fullwidth Ａ is Latin; the
    # micro sign belongs to no script, though it decomposes to a Greek mu).
    scripts = set()
    for ch in unicodedata.normalize("NFD", name):
        if ch.isalpha():
            words = unicodedata.name(ch, "").split()[:2]
            scripts.update(w for w in words if w in ("LATIN", "GREEK", "CYRILLIC"))
    return len(scripts) <= 1


UTS39_REASONS = ("cannot hold invisible characters", "cannot mix", "digits of different systems")


@PROPS
@given(st.text(name_chars, max_size=30) | st.text(max_size=30))
def test_normalize_name_is_idempotent_and_sound(raw: str) -> None:
    name, error = outcome(normalize_name, raw)
    if error is not None:
        assert error.code is ErrorCode.BAD_NAME
        # Beyond the rules above, UTS #39's (test_names.py): invisible
        # characters, one script of any, one digit system.
        assert not _obeys_name_rules(unicodedata.normalize("NFC", raw)) or any(
            reason in error.message for reason in UTS39_REASONS
        ), error.message
        return
    assert _obeys_name_rules(name)
    assert normalize_name(name) == name
    assert name == unicodedata.normalize("NFC", raw)


def _is_removed_control(ch: str) -> bool:
    return ch not in "\n\t" and (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0)


@PROPS
@given(st.text(st.characters(min_codepoint=0, max_codepoint=0xFF) | st.characters(), max_size=200))
def test_clean_text_leaves_no_controls_but_newline_and_tab(raw: str) -> None:
    text, error = outcome(clean_text, raw)
    if error is not None:
        assert error.code is ErrorCode.BAD_TEXT
        assert len(raw) > MAX_TEXT_LEN or all(_is_removed_control(ch) for ch in raw)
        return
    assert not any(_is_removed_control(ch) for ch in text)
    assert text == "".join(ch for ch in raw if not _is_removed_control(ch))
    assert 1 <= len(text) <= MAX_TEXT_LEN
