"""Writing a long message in the user's own editor (`$VISUAL`, `$EDITOR`, else `vi`): the text
goes to a temporary file, the editor runs on it, what was saved comes back. Blocking I/O, run
while the app is suspended; it must not touch Textual.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

FALLBACK_EDITOR = "vi"


class EditorFailed(RuntimeError):
    """The editor could not be started, or it exited with an error (the text is unchanged)."""


def editor_command(env: Mapping[str, str] = os.environ) -> list[str]:
    """The editor to run, as `git` chooses one: VISUAL, then EDITOR, then vi."""
    chosen = env.get("VISUAL") or env.get("EDITOR") or FALLBACK_EDITOR
    return shlex.split(chosen) or [FALLBACK_EDITOR]


def edit_text(text: str, command: list[str] | None = None) -> str:
    """`text` as the user left it in their editor, trailing line breaks cut."""
    command = command if command is not None else editor_command()
    with tempfile.TemporaryDirectory(prefix="conexion-") as folder:
        path = Path(folder) / "message.md"  # .md: editors highlight the Markdown
        path.write_text(text, encoding="utf-8")
        try:
            result = subprocess.run([*command, str(path)], check=False)
        except OSError as exc:
            raise EditorFailed(f"cannot run {command[0]}: {exc.strerror or exc}") from None
        if result.returncode != 0:
            raise EditorFailed(f"{command[0]} exited with status {result.returncode}")
        try:
            return path.read_text(encoding="utf-8").rstrip("\n")
        except UnicodeDecodeError:
            raise EditorFailed("the editor saved text that is not UTF-8") from None


__all__ = ["EditorFailed", "edit_text", "editor_command"]
