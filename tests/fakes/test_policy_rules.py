"""The scripted model's policy rules: quote the prompt's section, or search and quote that."""

from __future__ import annotations

import json

from fakes.claude.scripted_model import ESCALATION_LINE, ScriptedModel

SECTIONS = (
    "<policies>\n"
    '<section name="Returns › Worn or washed tees">\n'
    "We can't take back a worn tee. Faulty ones are different. A third sentence.\n"
    "</section>\n"
    '<section name="Care › Washing">\nWash at 30°C, inside out.\n</section>\n'
    "</policies>"
)
SEARCH_TOOL = {"name": "search_policies", "description": "", "input_schema": {"type": "object"}}


def ask(text: str, **request: object):
    return ScriptedModel().respond({"messages": [{"role": "user", "content": text}], **request})


def test_a_policy_question_is_answered_from_the_prompt_s_section_naming_it():
    system = [{"type": "text", "text": "You are ShopMate."}, {"type": "text", "text": SECTIONS}]
    answer = ask("Can I return a worn tee?", system=system)
    assert answer.text == (
        "We can't take back a worn tee. Faulty ones are different. "
        "(**Returns › Worn or washed tees**)"
    )
    assert ask("How do I wash it?", system=system).text.endswith("(**Care › Washing**)")


def test_without_the_sections_it_searches_and_answers_from_the_result():
    asked = ask("Can I return a worn tee?", tools=[SEARCH_TOOL])
    (call,) = asked.tool_calls
    assert call.name == "search_policies" and call.input == {"query": "Can I return a worn tee?"}
    result = {"results": [{"section": "Returns › Worn or washed tees", "text": "No worn tees."}]}
    messages = [
        {"role": "user", "content": "Can I return a worn tee?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": call.name, "input": call.input}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": json.dumps(result)}
            ],
        },
    ]
    answer = ScriptedModel().respond({"tools": [SEARCH_TOOL], "messages": messages})
    assert answer.text == "No worn tees. (**Returns › Worn or washed tees**)"
    assert not answer.tool_calls
    result["results"] = []
    messages[-1]["content"][0]["content"] = json.dumps(result)
    nothing = ScriptedModel().respond({"tools": [SEARCH_TOOL], "messages": messages})
    assert "won't guess" in nothing.text and ESCALATION_LINE in nothing.text


def test_a_request_to_change_an_order_quotes_the_policy_and_escalates():
    system = [{"type": "text", "text": SECTIONS}]
    answer = ask("Can I change it for a washed one?", system=system)
    assert "(**" in answer.text and answer.text.endswith(ESCALATION_LINE)


def test_without_policies_in_the_request_the_older_rules_answer():
    assert "free returns within 30 days" in ask("Can I return it?").text
