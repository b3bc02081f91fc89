"""The bot scopes manifest.yml asks for: one list, read by `shopmate doctor` (are they all
granted?) and by the fake Slack (what it grants by default). tests/doctor/test_scopes.py holds
it equal to the manifest. A leaf: it imports nothing.
"""

MANIFEST_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "channels:read",
    "chat:write",
    "files:read",
    "groups:history",
    "im:history",
    "mpim:history",
    "reactions:write",
    "usergroups:read",
    "users:read",
)
