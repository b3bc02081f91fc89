"""The benchmark code must keep running: its cheapest piece, with tiny sizes, and its report.

No timing is asserted here (benchmarks are not tests); `python -m bench` measures.
"""

from __future__ import annotations

from pathlib import Path

from bench import cli, report, scenarios
from bench.stats import Summary


def test_the_smoke_run_measures_storage_and_writes_a_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "RESULTS.md"
    assert cli.main(["--smoke", "--out", str(out)]) == 0
    text = out.read_text()
    assert "# ShopMate benchmarks" in text
    assert "## 5. Storage" in text
    assert "load a 20-message thread" in capsys.readouterr().out


def test_the_report_renders_every_section_from_a_smoke_run() -> None:
    results = cli.run("smoke", log=lambda message: None)
    assert results.storage is not None
    assert set(results.storage.load_ms) == {5, 20}
    rows = report.targets(results)
    assert [row.item for row in rows] == ["5 Storage", "5 Storage"]
    assert report.markdown(results, report.explanations(results))


def _results() -> report.Results:
    """A Results with every item filled in by hand (no run): the report must only compute."""
    timing = scenarios.TurnTiming(
        sign=0.005,
        first_token_to_text=0.002,
        last_token_to_final=0.004,
        first_text=0.4,
        first_answer_text=1.0,
        answer_token_to_text=0.002,
        wall=2.0,
        model_calls=2,
        output_tokens=80,
        slack_calls=8,
        complete=True,
    )
    latency = scenarios.LatencyResult(runs=[timing] * 3, cold=[timing], startup_s=[2.0])
    seed = scenarios.SeedResult(
        first_text=Summary.of([2500.0]),
        total=Summary.of([3500.0]),
        model_calls=3,
        output_tokens=138,
        tool_round_tokens=21,
        answer_tokens=58,
    )
    load = scenarios.LoadResult(
        name="spread50",
        conversations=50,
        channels=50,
        wall_s=2.5,
        complete=50,
        count_429=0,
        slack_calls=200,
        calls_by_method={"chat.startStream": 17},
        sign=Summary.of([300.0]),
        late_signs=0,
        answer_wall=Summary.of([2.3]),
        streamed=17,
        rss_idle_mb=100,
        rss_peak_mb=112,
        cpu_bot_s=2.0,
        cpu_fakes_s=0.6,
        cpu_other_s=0.1,
    )
    turns = [scenarios.CostTurn(i, 1, 1000, 500, 0, 50, 1000, 2 * i + 1) for i in range(1, 11)]
    return report.Results(
        mode="full",
        pace=(0.4, 60),
        latency=latency,
        seed=seed,
        loads=[load],
        cost=[scenarios.CostResult(20_000, turns)],
        commit="0123abc",
        dirty=True,
    )


def test_the_report_compares_answer_to_answer_and_names_the_commit() -> None:
    results = _results()
    text = report.markdown(results, report.explanations(results))
    assert "Commit: `0123abc with uncommitted changes`" in text
    rows = {row.measure: row for row in report.targets(results)}
    answer = rows["answer's first words ÷ seed's (first text of the answering call)"]
    # 1000 ms vs 2500 ms: answer to answer, and over the ≤ 0.2× target.
    assert answer.result.startswith("0.40×") and answer.met is False
    preface = rows["any first text (ShopMate's may be a preface) ÷ seed's first text"]
    assert preface.result.startswith("0.16×") and preface.met == "reported"
    assert "| first words of the answer (median) | 1000 ms | 2500 ms | 0.40× |" in text
    # Fixed prose of earlier runs never reappears as if this run had measured it.
    for stale in ("two cores", "yappi", "15 429s", "85 ms", "4.18 s", "lost 2 of"):
        assert stale not in text


def test_sections_of_items_that_did_not_run_are_left_out() -> None:
    results = _results()
    results.loads, results.cost, results.seed = [], [], None
    text = report.markdown(results, report.explanations(results))
    assert "## 1. Latency" in text
    for absent in ("## 2.", "## 3, 4, 6.", "## 5.", "## 7.", "2 vs seed", "4 Throughput"):
        assert absent not in text


def test_prefetch_rows_fail_when_a_shape_takes_another_call_or_the_cache_share_drops() -> None:
    results = _results()
    results.shapes = [
        scenarios.ShapeResult("two ids", "q", [1, 2], Summary.of([400.0]), 40, 2),
        scenarios.ShapeResult(
            "no id in the pattern's form", "q", [2, 2], Summary.of([400.0]), 40, 2
        ),
    ]
    # Turn 1 writes the cache; turns 2-10 read 850 of 1000 input tokens: 85% < 90%.
    results.cost = [
        scenarios.CostResult(
            20_000,
            [scenarios.CostTurn(1, 1, 1000, 0, 1000, 50, 1000, 3, 900)]
            + [scenarios.CostTurn(i, 1, 1000, 850, 150, 50, 1000, 3, 900) for i in range(2, 11)],
        )
    ]
    rows = {row.measure: row for row in report.targets(results)}
    assert rows["model calls, two ids (2/2 complete)"].met is False, "a second call shows"
    assert rows["model calls, no id in the pattern's form (2/2 complete)"].met is True
    cost = rows["share of input from cache, turns 2–10 (history budget 20,000)"]
    assert cost.result.startswith("85%") and cost.met is False
    assert '| "q" | 1, 2 |' in report.markdown(results, "")
