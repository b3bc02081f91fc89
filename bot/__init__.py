"""ShopMate: ThreadCo's Claude-powered support bot for Slack."""

__version__ = "0.1.0"
