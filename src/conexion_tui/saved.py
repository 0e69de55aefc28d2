"""The rooms you were in, remembered per server in a small JSON file in the user's data folder,
so a restarted client joins them again. File I/O only: what the rooms mean is the session's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

from platformdirs import user_data_path

log = logging.getLogger(__name__)

FILE_NAME = "rooms.json"
FORMAT = 1  # the file's "version"; a file of another version reads as empty
MAX_SERVERS = 100  # servers remembered; the least recently used is forgotten first
MAX_ROOMS = 200  # rooms remembered per server (the server's own limit is lower)


class SavedRooms:
    """`{"version": 1, "servers": {"host:port": {"rooms": [...]}}}` in `folder`.

    Reading never fails: a missing, unreadable or malformed file means
    nothing is remembered. Writing replaces the file atomically, and a
    failure is logged, never raised: the chat matters more than the memory.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME

    def load(self, address: str) -> list[str] | None:
        """The rooms remembered for `address`; None when it was never saved."""
        servers = self._read()
        entry = servers.get(address)
        if not isinstance(entry, dict):
            return None
        rooms = entry.get("rooms")
        if not isinstance(rooms, list):
            return None
        return [room for room in rooms if isinstance(room, str)][:MAX_ROOMS]

    def save(self, address: str, rooms: list[str]) -> None:
        servers = self._read()
        servers.pop(address, None)
        servers[address] = {"rooms": rooms[:MAX_ROOMS]}  # last: the most recent
        while len(servers) > MAX_SERVERS:
            servers.pop(next(iter(servers)))
        data = json.dumps({"version": FORMAT, "servers": servers}, ensure_ascii=False, indent=1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".rooms-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(data + "\n")
                os.replace(temp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            log.warning("cannot remember the rooms in %s: %s", self.path, exc)

    def _read(self) -> dict[str, object]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", self.path, exc)
            return {}
        if not isinstance(raw, dict) or raw.get("version") != FORMAT:
            return {}
        servers = raw.get("servers")
        return dict(servers) if isinstance(servers, dict) else {}


def default_folder() -> Path:
    """The user data folder for this client (platformdirs: ~/.local/share/conexion-tui
    on Linux, ~/Library/Application Support/conexion-tui on macOS, %LOCALAPPDATA% on Windows)."""
    return user_data_path("conexion-tui", appauthor=False)
