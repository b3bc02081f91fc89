"""history.repair(): each invalid shape it claims to fix becomes a request the Messages API takes.

One test per repair branch, each asserting the exact repaired history, so removing that
branch fails its test. `api_problems` is the API's own rule set for the shapes involved.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.history import repair

MISSING = "This tool call was interrupted before it returned a result."


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def use(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "get_order", "input": {"order_id": "X"}}


def result(tool_id: str, content: str = "{}") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": content}


def missing(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": MISSING, "is_error": True}


def user(*content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}


def assistant(*content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(content)}


def api_problems(messages: list[dict[str, Any]]) -> list[str]:
    """Why the Messages API would refuse `messages`; [] if it would take them."""
    problems = []
    if not messages or messages[0]["role"] != "user":
        problems.append("does not start with the user")
    for index, message in enumerate(messages):
        content = message["content"]
        if not content or isinstance(content, str):
            problems.append(f"{index}: content is not a non-empty block list")
            continue
        if index and messages[index - 1]["role"] == message["role"]:
            problems.append(f"{index}: two {message['role']} messages in a row")
        if any(b["type"] == "text" and not b["text"].strip() for b in content):
            problems.append(f"{index}: empty text block")
        results = [b["tool_use_id"] for b in content if b["type"] == "tool_result"]
        leading = [b["tool_use_id"] for b in content[: len(results)] if b["type"] == "tool_result"]
        if results != leading:
            problems.append(f"{index}: tool_result blocks do not come first")
        asked = []
        if index and messages[index - 1]["role"] == "assistant":
            asked = [b["id"] for b in messages[index - 1]["content"] if b["type"] == "tool_use"]
        if results and (message["role"] != "user" or set(results) - set(asked)):
            problems.append(f"{index}: tool_result answers no tool_use just before it")
        if message["role"] == "assistant":
            uses = [b["id"] for b in content if b["type"] == "tool_use"]
            following = messages[index + 1]["content"] if index + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in following if b["type"] == "tool_result"}
            if set(uses) - answered:
                problems.append(f"{index}: tool_use {sorted(set(uses) - answered)} unanswered")
    return problems


def repaired(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = repair(copy.deepcopy(history))
    assert api_problems(out) == []
    return out


def test_api_problems_names_each_invalid_shape():
    """The checker itself: it must see every shape the tests below hand to repair()."""
    assert api_problems([user(text("q")), assistant(text("a"))]) == []
    assert api_problems([assistant(text("a"))]) == ["does not start with the user"]
    assert api_problems([user(text("q")), user(text("r"))]) == ["1: two user messages in a row"]
    assert api_problems([user(text(" "))]) == ["0: empty text block"]
    assert api_problems([user()]) == ["0: content is not a non-empty block list"]
    assert api_problems([user(text("q")), assistant(use("t1"))]) == [
        "1: tool_use ['t1'] unanswered"
    ]
    assert api_problems([user(text("q")), assistant(text("a")), user(result("t9"))]) == [
        "2: tool_result answers no tool_use just before it"
    ]
    assert api_problems([user(text("q")), assistant(use("t1")), user(text("x"), result("t1"))])


def test_a_valid_history_is_left_as_it_is():
    history = [
        user(text("Where is ORD-1?")),
        assistant(text("Checking."), use("t1")),
        user(result("t1")),
        assistant(text("Shipped.")),
        user(text("Thanks")),
    ]
    assert repaired(history) == history


def test_a_failed_turn_leaves_two_user_questions_in_a_row_which_become_one_turn():
    history = [user(text("Where is ORD-1?")), user(text("Hello?"))]
    assert repaired(history) == [user(text("Where is ORD-1?"), text("Hello?"))]


def test_two_assistant_messages_in_a_row_become_one():
    history = [user(text("q")), assistant(text("one")), assistant(text("two"))]
    assert repaired(history) == [user(text("q")), assistant(text("one"), text("two"))]


def test_merged_user_turns_keep_tool_results_ahead_of_text():
    history = [
        user(text("q")),
        assistant(use("t1")),
        user(text("a stray note")),  # a hand-edited database: text before the results
        user(result("t1")),
    ]
    assert repaired(history)[2] == user(result("t1"), text("a stray note"))


def test_an_orphan_tool_use_at_the_end_gets_an_error_result_in_a_new_user_turn():
    history = [user(text("q")), assistant(text("Checking."), use("t1"))]
    assert repaired(history) == [*history, user(missing("t1"))]


def test_an_orphan_tool_use_before_a_question_gets_its_result_ahead_of_the_question():
    history = [user(text("q")), assistant(use("t1")), user(text("Hello?"))]
    assert repaired(history)[2] == user(missing("t1"), text("Hello?"))


def test_only_the_unanswered_one_of_several_tool_uses_gets_an_error_result():
    history = [
        user(text("q")),
        assistant(use("t1"), use("t2")),
        user(result("t1")),
        assistant(text("Done.")),
    ]
    assert repaired(history)[2] == user(missing("t2"), result("t1"))


def test_leading_assistant_messages_are_dropped():
    history = [assistant(text("Welcome!")), assistant(text("Ask me.")), user(text("q"))]
    assert repaired(history) == [user(text("q"))]


def test_empty_messages_and_empty_text_blocks_are_dropped():
    history = [
        user(text("q"), text("   ")),
        {"role": "assistant", "content": ""},
        assistant(),
        assistant(text("\n")),
        user(text("again")),
    ]
    assert repaired(history) == [user(text("q"), text("again"))]


def test_string_content_becomes_a_text_block():
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert repaired(history) == [user(text("q")), assistant(text("a"))]


def test_a_tool_result_whose_tool_use_was_dropped_does_not_survive():
    history = [
        assistant(use("t1")),  # a leading assistant message: repair drops it...
        user(result("t1")),  # ...and this answer to it is left pointing at nothing
        assistant(text("Shipped.")),
        user(text("q")),
    ]
    assert repaired(history) == [user(text("q"))]


def test_a_tool_result_beside_a_question_loses_only_the_orphan():
    history = [
        user(text("first")),
        assistant(text("Hello.")),
        user(result("gone"), text("second")),  # answers no tool_use in "Hello."
    ]
    assert repaired(history) == [
        user(text("first")),
        assistant(text("Hello.")),
        user(text("second")),
    ]


def test_results_that_do_answer_the_tool_use_before_them_are_kept():
    history = [user(text("q")), assistant(use("t1")), user(result("t1")), assistant(text("a"))]
    assert repaired(history) == history
