"""Conexion server: an asyncio relay for protocol v1 (see docs/protocol.md)."""

from __future__ import annotations

__version__ = "0.1.0"
SERVER_ID = f"conexion/{__version__}"
