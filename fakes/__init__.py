"""Local stand-ins for Slack and Claude that speak the real wire formats (tests, bench, demo).

`serving` holds what their HTTP servers share (a threaded loopback server, `with` blocks).
"""
