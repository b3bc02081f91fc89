"""Slack's error codes, grouped by what they mean for a call that must land (and for a reply).

Read by `SlackCalls` (bot/slack/calls.py: which failures are worth another try) and by the
reply (bot/slack/reply.py and its paths: which ones end a message or native streaming).
"""

from __future__ import annotations

RATE_LIMITED = frozenset({"ratelimited"})
STOPPED_BY_USER = "stopped_by_user"  # the person pressed Stop: show nothing more
# The message exists but can take no more: what is left goes in a new message.
UNEDITABLE = frozenset(
    {
        "message_not_in_streaming_state",
        "cant_update_message",
        "msg_too_long",
        "message_not_found",
        "edit_window_closed",
        "streaming_state_conflict",
        "streaming_mode_mismatch",
        "stopped_by_user",
    }
)
# Slack refused the blocks themselves: the call is made again without them.
BAD_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format"})
# About where the message is: this channel's type has no native streaming.
CHANNEL_NO_STREAMING = frozenset(
    {"method_not_supported_for_channel_type", "channel_type_not_supported"}
)
# About the whole workspace (or the app's installation in it).
TEAM_NO_STREAMING = frozenset(
    {
        "not_allowed",
        "missing_scope",
        "unknown_method",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)
# Retrying cannot help: the post itself is refused.
HOPELESS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "restricted_action",
        "no_permission",
        "invalid_arguments",
        "missing_scope",
        "not_allowed",
    }
)
# A final call that meets one of these is not tried again: the answer is about the message,
# the channel, the token or the blocks, and would be the same next time.
SETTLED = UNEDITABLE | CHANNEL_NO_STREAMING | HOPELESS | BAD_BLOCKS
