"""The hand-off to people: escalations and changes a person approves (issue 14, points 2-3)."""
