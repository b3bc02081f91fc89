"""The `search_policies` tool: the policy sections that match a question, each with its name."""

from __future__ import annotations

from typing import Any, Protocol

from bot.tools.registry import Tool, ToolResult

SEARCH_POLICIES = "search_policies"
MAX_RESULTS = 3


class PolicySearch(Protocol):
    def search(self, query: str, *, limit: int = MAX_RESULTS) -> list[dict[str, str]]: ...


def search_policies_tool(library: PolicySearch) -> Tool:
    """Build the tool over a policy library (see bot/policies/library.py).

    The library offers it only while the documents are too long for the system prompt. Each
    result carries its section's name (document title › heading), which Claude is told to
    quote, and its file, so a person can check the words an answer relied on.
    """

    def handle(tool_input: dict[str, Any]) -> ToolResult:
        query = str(tool_input["query"]).strip()
        if not query:
            return ToolResult(
                {"error": "The query is empty. Search with the customer's question."},
                is_error=True,
                summary="empty query",
            )
        found = library.search(query, limit=MAX_RESULTS)
        results = [
            {"section": row["name"], "document": row["document"], "text": row["text"]}
            for row in found
        ]
        if not results:
            return ToolResult(
                {
                    "results": [],
                    "note": "No policy section matches. Don't guess: say you're not sure and "
                    "offer to pass the question to the team.",
                },
                summary="no match",
            )
        return ToolResult(
            {
                "results": results,
                "note": "Answer from these sections only and name the one you rely on.",
            },
            summary=f"{len(results)} section{'s' if len(results) > 1 else ''}",
        )

    return Tool(
        name=SEARCH_POLICIES,
        step="Searching the policies for {query}",
        description=(
            "Search ThreadCo's policy documents (returns, exchanges and sizing, shipping and "
            "tracking, care, sustainability). Returns the best-matching sections, each with "
            "its name to quote. Call it before answering any policy question."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "The customer's question or its key words, e.g. "
                    "'return a worn tee'",
                    "maxLength": 500,
                }
            },
            "required": ["query"],
        },
        handler=handle,
    )
