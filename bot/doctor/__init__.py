"""`shopmate doctor`: read-only checks of a real deployment, one line each, with the fix.

runner.py lists the checks (one function per area: slack.py, claude.py, storage.py) and runs
them; result.py is a line of the report, render.py prints it (text or JSON, secrets masked);
post_test.py is `--post-test CHANNEL`, the one part that writes; bot/cli/doctor.py registers
the command.
Kept empty of imports so that registering the command loads no SDK.
"""
