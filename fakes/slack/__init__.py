"""A fake Slack: the Web API (`server`, its methods grouped in mixins `chat` and `directory`),
its limits (`limits`), what it shows (`messages`), signed Events API deliveries (`events`) and a
Socket Mode server (`socket_mode`). Tests, benchmarks and the demo drive the real SDKs at it.
At the bottom, `wire`: SlackError and how a call's arguments are read; every module builds on it."""

from fakes.slack.limits import CHANNEL_POST_LIMIT, SLACK_BURSTS, SLACK_LIMITS
from fakes.slack.messages import Call, Message, StatusUpdate, Visible
from fakes.slack.server import FakeSlack
from fakes.slack.wire import SlackError

__all__ = [
    "CHANNEL_POST_LIMIT",
    "SLACK_BURSTS",
    "SLACK_LIMITS",
    "Call",
    "FakeSlack",
    "Message",
    "SlackError",
    "StatusUpdate",
    "Visible",
]
