"""Trimming drops old exchanges in quarter-budget chunks, so the cached prefix stays put."""

from __future__ import annotations

import itertools

from bot.history import estimate_tokens, exchanges, trim_to_budget


def exchange(n: int, padding: int = 30) -> list[dict]:
    """A prefetched order exchange: question, tool_use, tool_result, answer."""
    use_id = f"toolu_prefetch_{n}"
    return [
        {"role": "user", "content": [{"type": "text", "text": f"q{n} " + "pad " * padding}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": use_id, "name": "get_order", "input": {"order_id": n}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use_id, "content": "{}"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": f"answer {n}"}]},
    ]


def size(history: list[dict]) -> int:
    return sum(estimate_tokens(m["content"]) for m in history)


def first_question(history: list[dict]) -> str:
    return history[0]["content"][0]["text"].split()[0]


def test_the_cut_moves_only_every_few_turns_and_the_budget_holds():
    budget = 1000
    history: list[dict] = []
    cuts: list[str] = []
    for n in range(40):
        history += exchange(n)
        kept = trim_to_budget(history, budget)
        assert size(kept) <= budget
        assert kept[-4:] == history[-4:], "the newest exchange always stays"
        cuts.append(first_question(kept))
    per_exchange = size(exchange(0))
    assert budget // 4 >= 2 * per_exchange, "the test needs chunks of several exchanges"
    moves = [i for i in range(1, len(cuts)) if cuts[i] != cuts[i - 1]]
    assert len(moves) >= 3, "the thread was trimmed several times"
    gaps = [b - a for a, b in itertools.pairwise(moves)]
    assert min(gaps) >= 2, f"the cut stayed put for several turns between moves: {cuts}"


def test_cuts_fall_between_whole_exchanges():
    history = [m for n in range(20) for m in exchange(n)]
    kept = trim_to_budget(history, 700)
    assert len(kept) % 4 == 0 and kept[0]["content"][0]["type"] == "text"
    assert exchanges(kept) == exchanges(history)[-len(kept) // 4 :]


def test_a_newest_exchange_over_the_budget_is_kept_alone():
    history = [m for n in range(5) for m in exchange(n)] + exchange(99, padding=2000)
    kept = trim_to_budget(history, 600)
    assert kept == exchange(99, padding=2000)


def test_a_history_within_budget_is_untouched():
    history = [m for n in range(3) for m in exchange(n)]
    assert trim_to_budget(history, 10_000) == history
