"""Local stand-ins for Slack and Claude that speak the real wire formats (tests, bench, demo)."""
