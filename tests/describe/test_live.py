"""`shopmate describe` live: one product, a catalogue, never paying twice, the voice enforced,
resuming after the process is killed. The real anthropic SDK talks to the fake over loopback."""

from __future__ import annotations

import csv
import signal
import threading
from pathlib import Path

import pytest

from bot.cli import main
from bot.describe import Copywriter
from bot.describe.catalogue import make_product
from bot.describe.live import run_live
from fakes.claude import FakeClaude, http_error
from storage import open_storage
from tests.describe.conftest import describe_calls, product_rows, run_child, write_csv

SUNSET = [
    "describe",
    "--name",
    "Sunset Tee",
    "--material",
    "organic cotton",
    "--price",
    "29.99",
    "--colours",
    "orange,sand",
    "--key-feature",
    "a gradient dyed by hand",
]


def read_out(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def test_one_product_is_described_with_haiku_and_printed(cli_env, fake, capsys) -> None:
    assert main(SUNSET) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        "A gradient dyed by hand, cut from organic cotton in orange or sand. "
        "The Sunset Tee is £29.99 and made to be worn on repeat for years."
    )
    [body] = describe_calls(fake)
    assert body["model"] == "claude-haiku-5-5"
    assert body["max_tokens"] == 150
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "Price: £29.99" in body["messages"][0]["content"]


def test_the_model_comes_from_shopmate_describe_model(cli_env, fake, monkeypatch) -> None:
    monkeypatch.setenv("SHOPMATE_DESCRIBE_MODEL", "claude-sonnet-4-6")
    assert main(SUNSET) == 0
    assert describe_calls(fake)[0]["model"] == "claude-sonnet-4-6"


def test_an_unchanged_product_is_not_sent_again(cli_env, fake, capsys) -> None:
    assert main(SUNSET) == 0
    first = capsys.readouterr().out
    assert len(describe_calls(fake)) == 1
    # The second run has finished (main returned) before we look: no second call was made.
    assert main(SUNSET) == 0
    assert capsys.readouterr().out == first
    assert len(describe_calls(fake)) == 1
    # A changed input is a new product to describe; --force redoes an unchanged one.
    assert main([*SUNSET[:6], "31.00", *SUNSET[7:]]) == 0
    assert len(describe_calls(fake)) == 2
    assert main([*SUNSET, "--force"]) == 0
    assert len(describe_calls(fake)) == 3


def test_a_catalogue_with_a_bad_row_describes_the_rest(cli_env, fake, tmp_path, capsys) -> None:
    rows = product_rows(3)
    rows.insert(1, "TS-BAD,Broken Tee,organic cotton,free,navy,")  # line 3
    products = write_csv(tmp_path / "products.csv", rows)
    assert main(["describe", "--csv", str(products), "--out", "out.csv"]) == 1
    captured = capsys.readouterr()
    assert "products.csv: line 3: price 'free' is not a number" in captured.err
    assert "3 written now" in captured.out and "1 bad row(s) skipped" in captured.out
    out = read_out(tmp_path / "out.csv")
    assert list(out) == ["TS-001", "TS-002", "TS-003"]
    assert all(
        row["status"] == "ok" and "organic cotton" in row["description"] for row in out.values()
    )
    assert len(describe_calls(fake)) == 3


def test_a_voice_violation_is_retried_once_naming_it_then_kept(copywriter, writer, fake) -> None:
    writer.violate("Moss Tee", "forbidden_word", times=1)
    product = make_product(id="M1", name="Moss Tee", material="hemp", price="25", colours="green")
    outcome = copywriter.describe(product)
    assert outcome.status == "ok" and "vibrant" not in outcome.text.lower()
    _first, retry = describe_calls(fake)
    assert "vibrant" in retry["messages"][1]["content"].lower(), "the draft is shown back"
    assert "contains the forbidden word 'vibrant'" in retry["messages"][2]["content"]
    assert outcome.usage.live["calls"] == 2


@pytest.mark.parametrize("kind", ["forbidden_word", "exclamation", "no_material"])
def test_a_violation_that_survives_the_retry_is_reported_not_kept(
    cli_env, fake, writer, tmp_path, capsys, kind
) -> None:
    writer.violate("Tee 2", kind, times=2)
    products = write_csv(tmp_path / "products.csv", product_rows(3))
    assert main(["describe", "--csv", str(products), "--out", "out.csv"]) == 1
    err = capsys.readouterr().err
    assert "TS-002: rejected:" in err
    out = read_out(tmp_path / "out.csv")
    assert out["TS-002"]["status"] == "rejected"
    assert out["TS-002"]["description"] == "", "a rejected draft is never published"
    assert "draft:" in out["TS-002"]["problems"]
    assert [out[i]["status"] for i in ("TS-001", "TS-003")] == ["ok", "ok"]
    assert len(describe_calls(fake)) == 4, "one retry, not more"
    # Paid for and reported: a rerun does not pay for it again.
    assert main(["describe", "--csv", str(products), "--out", "out.csv"]) == 1
    assert len(describe_calls(fake)) == 4


def test_rate_limits_are_retried_by_the_sdk_and_failures_are_retried_next_run(
    copywriter, writer, fake, storage
) -> None:
    writer.fail("Tee 1", http_error(429, "rate_limit_error", "slow down", retry_after=0.01))
    overloaded = http_error(529, "overloaded_error", "Overloaded")
    writer.fail("Tee 2", overloaded, overloaded, overloaded)  # 1 try + 2 SDK retries
    products = [
        make_product(id=f"P{i}", name=f"Tee {i}", material="hemp", price="20", colours="grey")
        for i in (1, 2)
    ]
    outcomes = run_live(copywriter, products, concurrency=2)
    assert [o.status for o in outcomes] == ["ok", "error"]
    assert "OverloadedError (529)" in (outcomes[1].error or "")
    assert storage.descriptions.count() == 1, "a failure is not stored"
    again = run_live(copywriter, products, concurrency=2)
    assert [(o.status, o.stored) for o in again] == [("ok", True), ("ok", False)]
    assert writer.calls == {"Tee 1": 2, "Tee 2": 4}


def test_a_rate_limit_that_outlasts_the_sdk_pauses_the_run_then_retries(
    copywriter, writer, fake
) -> None:
    limited = http_error(429, "rate_limit_error", "rate limited", retry_after=0.05)
    writer.fail("Tee 1", limited, limited, limited)  # the first try and both SDK retries
    products = [
        make_product(id=f"P{i}", name=f"Tee {i}", material="hemp", price="20", colours="grey")
        for i in (1, 2, 3)
    ]
    outcomes = run_live(copywriter, products, concurrency=2)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert writer.calls["Tee 1"] == 4


def test_a_bad_key_stops_the_run_with_one_line(fake, cli_env, monkeypatch, tmp_path, capsys):
    fake.api_key = "the-real-key"
    products = write_csv(tmp_path / "products.csv", product_rows(20))
    assert main(["describe", "--csv", str(products)]) == 1
    err = capsys.readouterr().err
    assert "AuthenticationError (401)" in err
    assert len(describe_calls(fake)) <= 3, "stopped instead of failing every product"


def test_no_more_requests_than_the_concurrency_are_in_flight(copywriter, writer, fake) -> None:
    products = [
        make_product(id=f"P{i}", name=f"Tee {i}", material="hemp", price="20", colours="grey")
        for i in range(6)
    ]
    gates = [writer.gate(p.name) for p in products]
    thread = threading.Thread(
        target=run_live, args=(copywriter, products), kwargs={"concurrency": 2}
    )
    thread.start()
    assert fake.wait_for_requests(2, timeout=30), "two requests run at once"
    # A third would arrive within milliseconds if the bound were broken; give it ample time.
    assert not fake.wait_for_requests(3, timeout=1.5)
    for gate in gates:
        gate.set()
    thread.join(30)
    assert len(describe_calls(fake)) == 6


def test_a_killed_live_run_resumes_without_paying_twice(cli_env, fake, writer, tmp_path) -> None:
    products = write_csv(tmp_path / "products.csv", product_rows(8))
    held = [writer.gate(f"Tee {i}") for i in range(5, 9)]  # the run stalls on Tee 5..8
    child = run_child(["describe", "--csv", str(products)], cli_env, tmp_path)
    try:
        # Wait until Tee 1-4 are stored and the child is waiting on held answers, then kill it.
        storage = open_storage(cli_env["SHOPMATE_DB"])
        try:
            assert _wait(lambda: storage.descriptions.count() == 4 and _held(fake) >= 1)
        finally:
            storage.close()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    for gate in held:
        gate.set()
    before = dict(writer.calls)
    assert main(["describe", "--csv", str(products)]) == 0
    sent_again = {name: writer.calls[name] - before.get(name, 0) for name in writer.calls}
    assert all(sent_again.get(f"Tee {i}", 0) == 0 for i in range(1, 5)), sent_again
    assert all(sent_again[f"Tee {i}"] == 1 for i in range(5, 9)), sent_again
    out = read_out(tmp_path / "descriptions.csv")
    assert [row["status"] for row in out.values()] == ["ok"] * 8


def test_ctrl_c_lets_requests_in_flight_finish_and_be_stored(cli_env, fake, writer, tmp_path):
    products = write_csv(tmp_path / "products.csv", product_rows(8))
    held = [writer.gate(f"Tee {i}") for i in range(5, 9)]
    child = run_child(["describe", "--csv", str(products)], cli_env, tmp_path)
    storage = open_storage(cli_env["SHOPMATE_DB"])
    try:
        assert _wait(lambda: storage.descriptions.count() == 4 and _held(fake) >= 1)
        # Tee 5-7 are in flight (3 at once). Interrupt, then let their answers through.
        assert _wait(lambda: len(describe_calls(fake)) == 7)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(child.stderr), daemon=True)
        reader.start()
        child.send_signal(signal.SIGINT)
        # Only once the child says it is stopping do the held answers go through.
        assert _wait(lambda: any("stopping (KeyboardInterrupt)" in line for line in lines))
        for gate in held:
            gate.set()
        child.wait(60)
        reader.join(30)
        assert child.returncode == 130, "".join(lines)
        assert "3 request(s) in flight" in "".join(lines)
        assert storage.descriptions.count() == 7, "the three in flight were kept"
    finally:
        storage.close()
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stdout.close()  # type: ignore[union-attr]
    assert len(describe_calls(fake)) == 7, "nothing new started after Ctrl-C"
    assert main(["describe", "--csv", str(products)]) == 0
    assert len(describe_calls(fake)) == 8, "the rerun sends only Tee 8"


def _held(fake: FakeClaude) -> int:
    return sum(1 for body in describe_calls(fake) if "Tee 5" in body["messages"][0]["content"])


def _wait(condition, timeout: float = 30.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        event.wait(0.02)
    return condition()


def test_a_copywriter_is_usable_from_many_threads(copywriter: Copywriter, storage) -> None:
    products = [
        make_product(id=f"P{i}", name=f"Tee {i}", material="hemp", price="20", colours="grey")
        for i in range(30)
    ]
    outcomes = run_live(copywriter, products, concurrency=8)
    assert [o.product.id for o in outcomes] == [p.id for p in products]
    assert storage.descriptions.count() == 30
