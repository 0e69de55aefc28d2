"""The chat screen's widgets: message log, sidebar, user list, header, input. Nothing else lives
here."""

from __future__ import annotations

from .chat_header import ChatHeader
from .chat_input import ChatInput
from .hands_panel import HandsPanel
from .message_log import MessageLog
from .room_notice import RoomNotice
from .sidebar import Sidebar, SidebarItem
from .user_list import UserList

__all__ = [
    "ChatHeader",
    "ChatInput",
    "HandsPanel",
    "MessageLog",
    "RoomNotice",
    "Sidebar",
    "SidebarItem",
    "UserList",
]
