"""$EDITOR for a long message: the helper runs a real program on a temporary file."""

from __future__ import annotations

import sys

import pytest

from conexion_tui.editor import EditorFailed, edit_text, editor_command

APPEND = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(' and more\\n\\n')"]


def test_the_editor_changes_the_text() -> None:
    assert edit_text("first draft", APPEND) == "first draft and more"


def test_a_failing_or_missing_editor_changes_nothing() -> None:
    with pytest.raises(EditorFailed, match="status 3"):
        edit_text("x", [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(EditorFailed, match="cannot run"):
        edit_text("x", ["/nonexistent/editor-of-nobody"])


def test_which_editor() -> None:
    assert editor_command({"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert editor_command({"EDITOR": "nano -R"}) == ["nano", "-R"]
    assert editor_command({}) == ["vi"]
