"""The two screens: choosing a name, and the chat itself. Nothing else lives here."""

from __future__ import annotations

from .chat import ChatScreen
from .start import StartScreen

__all__ = ["ChatScreen", "StartScreen"]
