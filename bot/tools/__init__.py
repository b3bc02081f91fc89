"""Tools Claude may call while answering."""

from bot.tools.orders import get_order_tool
from bot.tools.registry import Tool, ToolContext, ToolRegistry, ToolResult

__all__ = ["Tool", "ToolContext", "ToolRegistry", "ToolResult", "get_order_tool"]
