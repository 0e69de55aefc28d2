"""Conexion TUI: the full-screen Textual chat client (see docs/client.md)."""

from __future__ import annotations

__version__ = "0.1.0"
CLIENT_ID = f"conexion-tui/{__version__}"
