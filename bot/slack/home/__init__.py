"""Slack's App Home tab for ShopMate: data (storage → plain values), view (pure Block Kit),
publisher (background, coalesced, paced), listeners (opening it, its buttons)."""

from bot.slack.home.listeners import Home, register_home

__all__ = ["Home", "register_home"]
