"""Generate src/conexion_protocol/unicode_tables.py: the Unicode facts the
name rules need and Python's `unicodedata` lacks (default-ignorable code
points, script extensions, UTS #39 look-alike prototypes).

Run by hand when the data changes, never by CI; the generated module is
committed. Inputs:

- a Unicode Character Database folder with Scripts.txt, ScriptExtensions.txt,
  DerivedCoreProperties.txt and PropertyValueAliases.txt (Debian's
  `unicode-data` package puts them in /usr/share/unicode);
- confusables.json from the `confusable-homoglyphs` package: Unicode's
  confusables.txt (UTS #39) turned into undirected look-alike pairs, of which
  this script recovers the direction (below).

    python tools/gen_unicode_tables.py /usr/share/unicode path/to/confusables.json

The skeleton map is computed with this interpreter's `unicodedata`; the
module records its version, and `name_key` is only as stable as both.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "conexion_protocol" / "unicode_tables.py"
MAX_CP = 0x10FFFF
CHUNK = 90  # characters of data per source line, so each line stays under 100
LRM = "\u200e"  # confusables.txt's comments wrap right-to-left characters in it

_RANGE = re.compile(r"^([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*([^#]+?)\s*(?:#|$)")


def ranges(path: Path) -> list[tuple[int, int, str]]:
    """(first, last, value) for every data line of a UCD file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _RANGE.match(line)
        if m:
            first = int(m.group(1), 16)
            out.append((first, int(m.group(2) or m.group(1), 16), m.group(3)))
    return out


def ucd_version(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]  # "# Scripts-15.0.0.txt"
    found = re.search(r"-(\d+\.\d+\.\d+)\.txt", first)
    if not found:
        sys.exit(f"{path}: no version on its first line")
    return found.group(1)


def script_aliases(ucd: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Every alias of a script (Latin, Latn) -> its code (Latn); code -> long name."""
    aliases: dict[str, str] = {}
    names: dict[str, str] = {}
    for line in (ucd / "PropertyValueAliases.txt").read_text(encoding="utf-8").splitlines():
        fields = [f.strip() for f in line.split("#")[0].split(";")]
        if len(fields) >= 3 and fields[0] == "sc":
            names[fields[1]] = fields[2]
            for name in fields[1:]:
                aliases[name] = fields[1]
    return aliases, names


def script_extensions(ucd: Path) -> tuple[list[tuple[int, tuple[str, ...]]], dict[str, str]]:
    """Runs of code points with the same Script_Extensions, as (first, codes),
    covering 0..10FFFF (Zzzz, Unknown, in the gaps); and code -> long name."""
    aliases, names = script_aliases(ucd)
    scx: dict[int, tuple[str, ...]] = {}
    for first, last, value in ranges(ucd / "Scripts.txt"):
        for cp in range(first, last + 1):
            scx[cp] = (aliases[value],)
    for first, last, value in ranges(ucd / "ScriptExtensions.txt"):
        codes = tuple(sorted(aliases[v] for v in value.split()))
        for cp in range(first, last + 1):
            scx[cp] = codes
    runs: list[tuple[int, tuple[str, ...]]] = []
    for cp in range(MAX_CP + 1):
        codes = scx.get(cp, ("Zzzz",))
        if not runs or runs[-1][1] != codes:
            runs.append((cp, codes))
    used = {code for _, codes in runs for code in codes}
    return runs, {code: names[code].replace("_", " ") for code in sorted(used)}


def default_ignorables(ucd: Path) -> list[tuple[int, int]]:
    found = [
        (first, last)
        for first, last, value in ranges(ucd / "DerivedCoreProperties.txt")
        if value == "Default_Ignorable_Code_Point"
    ]
    merged: list[tuple[int, int]] = []
    for first, last in sorted(found):
        if merged and first == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def prototypes(path: Path) -> dict[str, str]:
    """Each look-alike source character -> its prototype, the direction of
    confusables.txt. The JSON holds every (source, prototype) line both ways.
    A source has one line, so it is linked to one string; a prototype
    stands for all of its sources. A pair whose two ends are linked to
    nothing else is a prototype with one source: the longer string, or the
    lower code point, is taken as the prototype (either choice makes the same
    two characters one)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    pairs: set[tuple[str, str]] = set()
    for key, entries in data.items():
        for entry in entries:
            a, b = key.strip(LRM), entry["c"].strip(LRM)
            if a != b:
                pairs.add((min(a, b), max(a, b)))
    degree: dict[str, int] = {}
    for pair in pairs:
        for end in pair:
            degree[end] = degree.get(end, 0) + 1
    proto: dict[str, str] = {}
    for a, b in sorted(pairs):
        if degree[a] > 1 and degree[b] > 1:
            sys.exit(f"{path}: {a!r} and {b!r} are both prototypes")
        if degree[a] > 1 or len(a) > 1:
            source, target = b, a
        elif degree[b] > 1 or len(b) > 1:
            source, target = a, b
        else:
            source, target = max(a, b), min(a, b)
        if len(source) != 1 or source in proto:
            sys.exit(f"{path}: cannot tell source from prototype in {a!r}, {b!r}")
        proto[source] = target
    return proto


class Skeletons:
    """The key, defined by iteration, from which the per-character table is taken."""

    def __init__(self, proto: dict[str, str], ignorable: re.Pattern[str]) -> None:
        self.proto = proto
        self.ignorable = ignorable

    def fold(self, s: str) -> str:
        """Case folding and compatibility decomposition, until stable."""
        while True:
            folded = unicodedata.normalize("NFKD", s.casefold())
            if folded == s:
                return s
            s = folded

    def skeleton(self, s: str) -> str:
        """UTS #39's skeleton: NFD, ignorables removed, prototypes, NFD."""
        for _ in range(10):
            t = self.ignorable.sub("", unicodedata.normalize("NFD", s))
            t = unicodedata.normalize("NFD", "".join(self.proto.get(c, c) for c in t))
            if t == s:
                return s
            s = t
        raise SystemExit(f"the skeleton of {s!r} does not settle")

    def one_step(self, c: str) -> str:
        """What a folded character is keyed as: the look-alike of its
        capital when the capital has one (Greek ν by Ν, N; Latin i by I,
        l; Cherokee Ꭺ by A), else its own; folded again."""
        upper = c.upper()
        if len(upper) == 1 and self.fold(upper) == c and self.skeleton(upper) != upper:
            return self.fold(self.skeleton(upper))
        return self.fold(self.skeleton(c))


def build_table(sk: Skeletons) -> dict[int, str]:
    step: dict[str, str] = {}
    for cp in range(MAX_CP + 1):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or unicodedata.category(c) == "Cn":
            continue
        if sk.fold(c) == c and not sk.ignorable.match(c):
            target = sk.one_step(c)
            if target != c:
                step[c] = target

    def settle(s: str) -> str:
        for _ in range(20):
            t = unicodedata.normalize("NFD", "".join(step.get(c, c) for c in s))
            t = sk.ignorable.sub("", t)
            if t == s:
                return s
            s = t
        raise SystemExit(f"the key of {s!r} does not settle")

    return {ord(c): settle(c) for c in sorted(step) if settle(c) != c}


# Keys are joined with ':' into conversation names (`dm:<key>:<key>`), and a
# room's key is its conversation: a key holding ':' could name a DM
# conversation (a room `dmːanaːbob`, with U+02D0, would read ana's and bob's
# DMs). The prototype ':' is therefore keyed as another member of its class.
COLON_STAND_IN = "\ua789"  # MODIFIER LETTER COLON
RESERVED = ":{}"  # never in the key of a name: ':' as above, braces are Redis hash tags


def reserve_colon(table: dict[int, str]) -> None:
    for cp, value in table.items():
        table[cp] = value.replace(":", COLON_STAND_IN)
    table[ord(":")] = COLON_STAND_IN
    table.pop(ord(COLON_STAND_IN), None)


def check(table: dict[int, str], sk: Skeletons) -> None:
    """The runtime's one pass equals the iterated definition for every
    assigned character, and a key is its own key."""

    def fold_twice(s: str) -> str:  # what names.name_key does
        return unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", s.casefold()).casefold())

    def key(s: str) -> str:
        return unicodedata.normalize("NFC", sk.ignorable.sub("", fold_twice(s)).translate(table))

    bad = 0
    for cp in range(MAX_CP + 1):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or unicodedata.category(c) == "Cn":
            continue
        if fold_twice(c) != sk.fold(c):
            raise SystemExit(f"U+{cp:04X} needs more than two rounds of folding")
        k = key(c)
        if (unicodedata.category(c)[0] in "LMN" or c in "_-.") and set(k) & set(RESERVED):
            raise SystemExit(f"the key of U+{cp:04X}, {k!r}, holds one of {RESERVED}")
        if key(k) != k:
            bad += 1
            if bad < 10:
                print(f"not idempotent: U+{cp:04X} -> {k!r} -> {key(k)!r}", file=sys.stderr)
    if bad:
        raise SystemExit(f"{bad} characters whose key is not its own key")


def encode_runs(values: list[str]) -> list[str]:
    """Space-separated tokens cut into source lines of at most CHUNK characters."""
    lines, line = [], ""
    for token in values:
        if line and len(line) + len(token) + 1 > CHUNK:
            lines.append(line + " ")
            line = ""
        line = f"{line} {token}" if line else token
    lines.append(line)
    return lines


def literal(name: str, lines: list[str]) -> str:
    body = "\n".join(f'    "{line}"' for line in lines)
    return f"{name} = (\n{body}\n)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ucd", type=Path, help="folder with the UCD files (/usr/share/unicode)")
    parser.add_argument("confusables", type=Path, help="confusable-homoglyphs' confusables.json")
    parser.add_argument(
        "--source", default="confusable-homoglyphs 3.3.1", help="said in the module"
    )
    args = parser.parse_args()

    version = ucd_version(args.ucd / "Scripts.txt")
    dicp = default_ignorables(args.ucd)
    ignorable = re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in dicp) + "]"
    )
    runs, names = script_extensions(args.ucd)
    sets = sorted({codes for _, codes in runs})
    index = {codes: i for i, codes in enumerate(sets)}
    sk = Skeletons(prototypes(args.confusables), ignorable)
    table = build_table(sk)
    reserve_colon(table)
    check(table, sk)

    dicp_tokens = [f"{a:X}-{b:X}" for a, b in dicp]
    set_tokens = ["".join(codes) for codes in sets]  # four letters a code
    run_tokens = [f"{first:X}:{index[codes]:X}" for first, codes in runs]
    name_tokens = [f"{code}={name.replace(' ', '_')}" for code, name in names.items()]
    key_tokens = [
        f"{cp:X}={'.'.join(f'{ord(c):X}' for c in value)}" for cp, value in sorted(table.items())
    ]
    digest = zlib.crc32(" ".join(dicp_tokens + key_tokens).encode())  # what keys depend on

    OUT.write_text(
        '"""Unicode facts for the name rules in names.py, generated by\n'
        "tools/gen_unicode_tables.py: do not edit.\n\n"
        f"- Default_Ignorable_Code_Point and Script_Extensions: the Unicode\n"
        f"  Character Database {version};\n"
        f"- the look-alike keys: UTS #39's confusables.txt as shipped in\n"
        f"  {args.source}, folded for case-insensitive names with\n"
        f"  Python's unicodedata {unicodedata.unidata_version}.\n"
        '"""\n\n'
        f'UCD_VERSION = "{version}"\n'
        f'CONFUSABLES_SOURCE = "{args.source}"\n'
        f'FOLDED_WITH = "{unicodedata.unidata_version}"\n'
        f"DIGEST = 0x{digest:08X}  # of the keys: stored keys are rebuilt when it changes\n\n"
        "# Ranges of default-ignorable code points: FIRST-LAST in hex.\n"
        + literal("DEFAULT_IGNORABLE", encode_runs(dicp_tokens))
        + "\n# Script codes and their names.\n"
        + literal("SCRIPT_NAMES", encode_runs(name_tokens))
        + "\n# The distinct Script_Extensions values (four-letter codes), numbered from 0.\n"
        + literal("SCRIPT_SETS", encode_runs(set_tokens))
        + "\n# Runs of code points: FIRST:SET (hex), each run up to the next FIRST.\n"
        + literal("SCRIPT_RUNS", encode_runs(run_tokens))
        + "\n# Folded character -> its key (hex code points joined by '.').\n"
        + literal("KEYS", encode_runs(key_tokens)),
        encoding="utf-8",
    )
    print(
        f"{OUT}: {len(dicp)} ignorable ranges, {len(runs)} script runs, "
        f"{len(sets)} script sets, {len(table)} keys; digest {digest:08X}"
    )


if __name__ == "__main__":
    main()
