"""The rooms file: per server, atomic, bounded, and never an error for the chat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conexion_tui import saved
from conexion_tui.saved import FILE_NAME, SavedRooms


def test_nothing_saved_reads_as_none(tmp_path: Path) -> None:
    assert SavedRooms(tmp_path).load("127.0.0.1:8000") is None
    assert SavedRooms(tmp_path / "not" / "there").load("127.0.0.1:8000") is None


def test_rooms_are_kept_per_server_in_order(tmp_path: Path) -> None:
    rooms = SavedRooms(tmp_path / "new-folder")
    rooms.save("127.0.0.1:8000", ["general", "Lab", "dev"])
    rooms.save("[::1]:9000", ["general"])
    rooms.save("127.0.0.1:8000", ["general", "Lab"])
    again = SavedRooms(tmp_path / "new-folder")
    assert again.load("127.0.0.1:8000") == ["general", "Lab"]
    assert again.load("[::1]:9000") == ["general"]
    assert again.load("127.0.0.1:8001") is None
    data = json.loads((tmp_path / "new-folder" / FILE_NAME).read_text())
    assert data["version"] == 1
    assert list(data["servers"]) == ["[::1]:9000", "127.0.0.1:8000"]  # the latest last
    assert not [p for p in (tmp_path / "new-folder").iterdir() if p.name != FILE_NAME]


def test_an_empty_list_is_remembered_as_empty(tmp_path: Path) -> None:
    rooms = SavedRooms(tmp_path)
    rooms.save("h:1", [])
    assert rooms.load("h:1") == []


def test_limits_on_servers_and_rooms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saved, "MAX_SERVERS", 3)
    monkeypatch.setattr(saved, "MAX_ROOMS", 2)
    rooms = SavedRooms(tmp_path)
    for n in range(5):
        rooms.save(f"h:{n}", ["a", "b", "c"])
    assert [rooms.load(f"h:{n}") for n in range(5)] == [
        None,
        None,
        ["a", "b"],
        ["a", "b"],
        ["a", "b"],
    ]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 2, "servers": {"h:1": {"rooms": ["x"]}}}',
        '{"version": 1, "servers": []}',
        '{"version": 1, "servers": {"h:1": {"rooms": "x"}}}',
        '{"version": 1, "servers": {"h:1": "x"}}',
    ],
)
def test_a_malformed_file_reads_as_nothing(tmp_path: Path, content: str) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    assert SavedRooms(tmp_path).load("h:1") is None


def test_names_that_are_not_text_are_dropped(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text(
        '{"version": 1, "servers": {"h:1": {"rooms": ["a", 3, null]}}}'
    )
    assert SavedRooms(tmp_path).load("h:1") == ["a"]


def test_a_folder_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    rooms = SavedRooms(blocker / "below")  # a folder under a file cannot exist
    rooms.save("h:1", ["general"])
    assert "cannot remember the rooms" in caplog.text
    assert rooms.load("h:1") is None
