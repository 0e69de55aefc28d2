"""`conexion-tui` placeholder: the Textual client is being built (issue 3)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("conexion-tui is not built yet; use `nc 127.0.0.1 8000` meanwhile.", file=sys.stderr)
    return 2
