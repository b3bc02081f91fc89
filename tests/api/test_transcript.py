"""The plain-JSON view of a stored conversation."""

from __future__ import annotations

from bot.api.transcript import transcript


def test_tool_rounds_fold_into_one_assistant_entry_with_their_outcome():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Where are ORD-1001 and 9?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t1", "name": "get_order", "input": {"order_id": "A"}},
                {"type": "tool_use", "id": "t2", "name": "get_order", "input": {"order_id": "B"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "{}"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "no", "is_error": True},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "A shipped; B unknown."}]},
        {"role": "user", "content": "thanks"},
    ]
    assert transcript(history) == [
        {"role": "user", "text": "Where are ORD-1001 and 9?", "tool_calls": []},
        {
            "role": "assistant",
            "text": "Let me look.\n\nA shipped; B unknown.",
            "tool_calls": [
                {"name": "get_order", "input": {"order_id": "A"}, "is_error": False},
                {"name": "get_order", "input": {"order_id": "B"}, "is_error": True},
            ],
        },
        {"role": "user", "text": "thanks", "tool_calls": []},
    ]
