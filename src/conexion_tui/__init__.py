"""Conexion TUI: the full-screen Textual chat client."""
