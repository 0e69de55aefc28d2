"""`make run`'s launcher (tools/run_local.py) as a real process: when its
server cannot start, it says why and fails, and never opens a client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conexion_server.sqlite_store import SqliteStore

LAUNCHER = Path(__file__).parents[2] / "tools" / "run_local.py"

pytestmark = pytest.mark.single_server("about one server process")


def test_a_server_that_cannot_start_fails_the_run_loudly(tmp_path: Path) -> None:
    db = tmp_path / "held.db"
    holder = SqliteStore(db, 600.0, 10)  # another server holds the database
    try:
        env = {**os.environ, "CONEXION_DB": str(db)}
        ran = subprocess.run(
            [sys.executable, str(LAUNCHER), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    finally:
        holder.close()
    assert ran.returncode == 3
    assert "in use by another conexion-server" in ran.stderr
    assert "the server did not start (exit status 3)" in ran.stderr
    assert "opening the client" not in ran.stdout
