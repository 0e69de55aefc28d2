"""The two screens: choosing a name, and the chat itself."""

from __future__ import annotations

from .chat import ChatScreen
from .start import StartScreen

__all__ = ["ChatScreen", "StartScreen"]
