"""Conexion TUI: the full-screen Textual chat client (see docs/client.md). Only the version and
the client id sent in `hello` live here.
"""

from __future__ import annotations

__version__ = "0.1.0"
CLIENT_ID = f"conexion-tui/{__version__}"
