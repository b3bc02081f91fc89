"""`shopmate orders check` and `orders show` over each source, and source failures in
`shopmate stats`, run as users run them: a subprocess with an environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.orders.check import CheckResult, check_order_source
from bot.settings import Settings
from storage import open_storage
from tests.test_cli import SAMPLE, shopmate


def shopify_env(shop, tmp_path, **extra) -> dict[str, str]:
    return {
        "SHOPMATE_DB": str(tmp_path / "s.db"),
        "SHOPMATE_ORDER_SOURCE": "shopify",
        "SHOPIFY_API_URL": shop.url,
        "SHOPIFY_ADMIN_TOKEN": shop.token,
        **extra,
    }


def test_check_shows_the_source_its_permissions_and_one_timed_lookup(shop, tmp_path):
    result = shopmate("orders", "check", "ORD-1002", env=shopify_env(shop, tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok   source") and "Admin API 2026-10" in lines[0]
    assert "shop 'ThreadCo'" in lines[1]
    assert "granted: read_orders (orders older than 60 days need read_all_orders)" in lines[2]
    assert lines[3].startswith("ok   lookup") and "ORD-1002: found, shipped in" in lines[3]
    assert lines[3].endswith(" ms")


def test_check_fails_with_the_fix_for_a_wrong_token_or_a_missing_scope(shop, tmp_path):
    env = shopify_env(shop, tmp_path, SHOPIFY_ADMIN_TOKEN="shpat_wrong")
    result = shopmate("orders", "check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL answers" in result.stdout and "fix: Check SHOPIFY_ADMIN_TOKEN" in result.stdout
    shop.scopes = ["read_products"]
    result = shopmate("orders", "check", env=shopify_env(shop, tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL permissions" in result.stdout and "read_orders scope" in result.stdout


def test_check_of_the_table_counts_its_orders(tmp_path):
    env = {"SHOPMATE_DB": str(tmp_path / "s.db")}
    result = shopmate("orders", "check", env=env, cwd=tmp_path)
    assert result.returncode == 1 and "orders import" in result.stdout
    shopmate("orders", "import", str(SAMPLE), env=env, cwd=tmp_path)
    result = shopmate("orders", "check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert (
        "3 order(s) in the table" in result.stdout and "ORD-1001: found, shipped" in result.stdout
    )


def test_check_is_a_function_doctor_can_call(endpoint, tmp_path):
    settings = Settings.from_mapping(
        {
            "SHOPMATE_DB": str(tmp_path / "s.db"),
            "SHOPMATE_ORDER_SOURCE": "http",
            "SHOPMATE_ORDERS_URL": endpoint.url_template,
            "SHOPMATE_ORDERS_TOKEN": endpoint.token,
        }
    )
    results = check_order_source(settings, "ORD-2002")
    assert [r.name for r in results] == ["source", "permissions", "lookup"]
    assert all(isinstance(r, CheckResult) and r.ok for r in results)
    missing = check_order_source(Settings.from_mapping({"SHOPMATE_ORDER_SOURCE": "http"}))
    assert not missing[-1].ok and "SHOPMATE_ORDERS_URL" in missing[-1].detail


def test_show_reads_the_configured_source(shop, tmp_path):
    env = shopify_env(shop, tmp_path)
    shopmate("orders", "import", str(SAMPLE), env={"SHOPMATE_DB": env["SHOPMATE_DB"]}, cwd=tmp_path)
    shown = shopmate("orders", "show", "ORD-1001", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Wave Print Crop Tee (M, Sage)" in shown.stdout
    assert "https://track.dpd.co.uk/parcels/15501234567890 (DPD)" in shown.stdout


def test_stats_counts_the_order_sources_failures(tmp_path):
    db = tmp_path / "s.db"
    with open_storage(db) as storage:
        storage.order_cache.record_failure("shopify", "timeout", served="copy", order_id="ORD-1")
        storage.order_cache.record_failure("shopify", "timeout", served="copy", order_id="ORD-2")
        storage.order_cache.record_failure("shopify", "throttled", served="none")
        report = storage.order_cache.failure_report(datetime.now(UTC) - timedelta(days=1))
    assert [(r["kind"], r["failures"]) for r in report] == [("throttled", 1), ("timeout", 2)]
    result = shopmate("stats", env={"SHOPMATE_DB": str(db)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Order source failures (3)" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "timeout" in line)
    assert row.split()[:4] == ["shopify", "timeout", "last", "copy"] and " 2 " in row
