"""The descriptions benchmark keeps running (tiny size, no pace); no timing is asserted."""

from __future__ import annotations

from bench import describe_bench


def test_the_benchmark_runs_both_modes_and_reports_every_figure() -> None:
    result = describe_bench.run(20, concurrency=4, violation_every=10)
    assert (result.ok_live, result.ok_batch) == (20, 20)
    assert result.rerun_calls == 0, "a rerun of an unchanged catalogue makes no calls"
    assert result.live.calls == 22 and result.batch.batch["calls"] == 20
    assert result.batch.live["calls"] == 2, "voice retries after a batch go live"
    assert 0 < result.batch.per_1000() < result.live.per_1000()
    text = describe_bench.markdown(result)
    assert "cost per 1,000 products, batch" in text and "wall time, 20 products live" in text
