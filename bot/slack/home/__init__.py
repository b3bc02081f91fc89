"""Slack's App Home tab for ShopMate: data (storage → plain values), view (pure Block Kit),
publisher (background, coalesced, paced), tab (opening it, what its buttons do; the buttons'
listeners are registered with all the others in bot/slack/listeners/)."""

from bot.slack.home.tab import Home

__all__ = ["Home"]
