"""`shopmate describe --batch / --status / --collect`: a Message Batch survives the process that
sent it; errored and expired requests are listed and retried live on request."""

from __future__ import annotations

import csv
from pathlib import Path

import anthropic
import pytest

from bot.cli import main
from bot.describe import batch
from bot.describe.catalogue import make_product
from fakes.claude import http_error
from storage import open_storage
from tests.describe.conftest import describe_calls, product_rows, run_child, write_csv


def read_out(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def batch_posts(fake) -> list[dict]:
    return [r.body for r in fake.requests if r.path == "/v1/messages/batches"]


def test_a_batch_submitted_by_one_process_is_collected_by_another(
    cli_env, fake, tmp_path, capsys
) -> None:
    fake.batches.hold = True
    products = write_csv(tmp_path / "products.csv", product_rows(5))
    child = run_child(
        ["describe", "--csv", str(products), "--batch", "--out", "night.csv"], cli_env, tmp_path
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    [batch_id] = fake.batches.ids()
    assert f"Submitted batch {batch_id} with 5 product(s)" in out
    [sent] = batch_posts(fake)
    assert [r["custom_id"] for r in sent["requests"]] == [f"TS-00{i}" for i in range(1, 6)]
    assert sent["requests"][0]["params"]["model"] == "claude-haiku-5-5"
    assert describe_calls(fake) == [], "nothing went live"

    # This process never saw the submission: everything comes from the database.
    assert main(["describe", "--status"]) == 0
    assert f"{batch_id}  in_progress 0/5 done" in capsys.readouterr().out
    assert main(["describe", "--collect"]) == 0
    assert "Nothing to collect" in capsys.readouterr().out

    fake.batches.finish(batch_id)
    assert main(["describe", "--status"]) == 0
    assert "ended       5/5 done  succeeded 5" in capsys.readouterr().out
    assert main(["describe", "--collect"]) == 0
    assert f"Batch {batch_id}: wrote 5 product(s) to night.csv: 5 ok" in capsys.readouterr().out
    rows = read_out(tmp_path / "night.csv")
    assert [r["status"] for r in rows.values()] == ["ok"] * 5
    assert "organic cotton" in rows["TS-003"]["description"]

    # Collected once: a second collect, a live run or a new batch sends nothing again.
    assert main(["describe", "--collect"]) == 0
    assert main(["describe", "--csv", str(products), "--batch"]) == 0
    assert "Nothing to send" in capsys.readouterr().out
    assert main(["describe", "--csv", str(products)]) == 0
    assert len(batch_posts(fake)) == 1 and describe_calls(fake) == []


def test_products_waiting_in_a_batch_are_not_sent_again(cli_env, fake, tmp_path, capsys):
    fake.batches.hold = True
    products = write_csv(tmp_path / "products.csv", product_rows(3))
    assert main(["describe", "--csv", str(products), "--batch"]) == 0
    more = write_csv(tmp_path / "more.csv", product_rows(4))
    assert main(["describe", "--csv", str(more), "--batch"]) == 0
    second = batch_posts(fake)[1]
    assert [r["custom_id"] for r in second["requests"]] == ["TS-004"]
    assert main(["describe", "--csv", str(more)]) == 0  # live: only what no batch holds
    assert describe_calls(fake) == []
    out = read_out(tmp_path / "descriptions.csv")
    assert [r["status"] for r in out.values()] == ["pending"] * 4


def test_errored_and_expired_requests_are_listed_then_retried_live(
    cli_env, fake, writer, tmp_path, capsys
) -> None:
    fake.batches.hold = True
    writer.fail("Tee 2", http_error(500, "api_error", "Internal server error"))
    products = write_csv(tmp_path / "products.csv", product_rows(4))
    assert main(["describe", "--csv", str(products), "--batch"]) == 0
    [batch_id] = fake.batches.ids()
    fake.batches.finish(batch_id, expire=("TS-004",))
    capsys.readouterr()

    assert main(["describe", "--collect"]) == 1
    captured = capsys.readouterr()
    assert "2 ok, 0 rejected, 2 without an answer" in captured.out
    assert "TS-002: errored: api_error: Internal server error" in captured.err
    assert "TS-004: expired" in captured.err
    assert "--collect --retry" in captured.err
    rows = read_out(tmp_path / "descriptions.csv")
    assert [rows[i]["status"] for i in ("TS-001", "TS-002", "TS-003", "TS-004")] == [
        "ok",
        "error",
        "ok",
        "error",
    ]
    assert describe_calls(fake) == [], "nothing retried unless asked"

    assert main(["describe", "--collect", "--retry"]) == 0
    assert "4 ok, 0 rejected, 0 without an answer" in capsys.readouterr().out
    retried = [c["messages"][0]["content"] for c in describe_calls(fake)]
    assert len(retried) == 2 and "Tee 2" in retried[0] and "Tee 4" in retried[1]
    assert [r["status"] for r in read_out(tmp_path / "descriptions.csv").values()] == ["ok"] * 4


def test_a_batch_answer_that_breaks_the_voice_gets_one_live_retry(copywriter, writer, fake):
    writer.violate("Tee 1", "three_sentences", times=1)
    writer.violate("Tee 2", "exclamation", times=2)
    products = [
        make_product(id=f"P{i}", name=f"Tee {i}", material="hemp", price="20", colours="grey")
        for i in (1, 2, 3)
    ]
    submitted = batch.submit(copywriter, products)
    fake.batches.finish(submitted.batch_ids[0])
    [collected] = batch.collect(copywriter)
    assert [o.status for o in collected.outcomes] == ["ok", "rejected", "ok"]
    assert "uses an exclamation mark" in collected.outcomes[1].problems
    assert len(describe_calls(fake)) == 2, "one live retry each for Tee 1 and Tee 2"
    assert collected.outcomes[0].usage.batch["calls"] == 1
    assert collected.outcomes[0].usage.live["calls"] == 1


def test_a_refused_submission_leaves_no_batch_behind(copywriter, fake, storage) -> None:
    fake.api_key = "another-key"
    product = make_product(id="P1", name="Tee", material="hemp", price="20", colours="grey")
    with pytest.raises(anthropic.AuthenticationError):
        batch.submit(copywriter, [product])
    assert storage.descriptions.batches() == []
    assert storage.descriptions.pending_keys() == {}


def test_an_unconfirmed_submission_is_shown_not_guessed(cli_env, fake, db_path, capsys) -> None:
    storage = open_storage(db_path)
    storage.descriptions.begin_batch(
        model="claude-haiku-4-5",
        prompt_hash="x",
        out_path=None,
        items=[{"product_id": "P1", "input_hash": "h", "product": {"id": "P1"}}],
    )
    storage.close()
    assert main(["describe", "--status"]) == 0
    assert "(unconfirmed)" in capsys.readouterr().out


def test_cancel_ends_a_batch_with_every_request_canceled(copywriter, fake, client) -> None:
    fake.batches.hold = True
    products = [
        make_product(id=f"P{i}", name=f"Tee {i}", material="hemp", price="20", colours="grey")
        for i in (1, 2)
    ]
    [batch_id] = batch.submit(copywriter, products).batch_ids
    canceled = client.messages.batches.cancel(batch_id)
    assert canceled.processing_status == "ended"
    [collected] = batch.collect(copywriter)
    assert [kind for _, kind, _ in collected.failed] == ["canceled", "canceled"]
