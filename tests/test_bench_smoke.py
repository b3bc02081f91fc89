"""The benchmark code must keep running: its cheapest piece, with tiny sizes, and its report.

No timing is asserted here (benchmarks are not tests); `python -m bench` measures.
"""

from __future__ import annotations

from pathlib import Path

from bench import cli, report


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
