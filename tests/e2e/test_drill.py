"""`nonstop drill` end to end: real `nonstop sim` and `nonstop run` processes on a config with HA on
PostgreSQL (the embedded server of `tests/pg.py`) and two routed venues, so one drill (one settle)
runs four scenarios: the first venue down while routed orders go to the second, leader takeover by a
standby, SIGKILL and restart, and the self-test that must fail; the report's figures checked against
what they must be, and report.html opened in headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.pg import PgServer, make_postgres_fixture

postgres_server = make_postgres_fixture(scope="module")

FAST = """
[sim]
tick_ms = 50

[engine]
reconcile_interval_s = 3
request_timeout_ms = 1500
recv_window_ms = 2000

[engine.journal]
backend = "postgres"

[engine.ha]
role = "auto"
lease_ttl_s = 2.0
poll_s = 0.5

[engine.strategy]
venue = "auto"
interval_s = 0.2
size = "0.0005"
max_position = "0.005"

[engine.degradation]
recover_after_s = 3.0

[engine.routing]
stranded = "hedge"     # the position on the downed venue is offset on the other one: orders go there
hedge_after_s = 2.0

[[engine.venues]]
name = "binance-a"

[[engine.venues]]
name = "binance-c"
"""
SCENARIOS = ["venue_down_second_venue", "leader_takeover", "engine_sigkill", "self_test_foreign_trade"]


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory, postgres_server: PgServer) -> tuple[int, dict[str, Any], Path, str]:
    work = tmp_path_factory.mktemp("drill")
    config = work / "fast.toml"
    config.write_text(FAST)
    out = work / "out"
    proc = subprocess.run([sys.executable, "-m", "nonstop.cli", "drill", *SCENARIOS, "--config", str(config),
                           "--out", str(out), "--seed", "7"], capture_output=True, text=True, timeout=400,
                          env={**os.environ, "NONSTOP_PG_DSN": postgres_server.dsn})
    assert (out / "report.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((out / "report.json").read_text()), out, proc.stdout


def scenario(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["scenarios"] if s["name"] == name)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(480)
def test_drill_venue_down_detected_recovered_second_venue_trades_nothing_lost(
    drill: tuple[int, dict[str, Any], Path, str],
) -> None:
    _, report, _, _ = drill
    s = scenario(report, "venue_down_second_venue")
    run = s["runs"][0]
    hold = run["fault_end"] - run["fault_start"]
    assert s["passed"], (s["failed_checks"], s["runs"][0]["note"], s)
    downed = run["venue"] or "binance-a"  # the venue our quotes rested on when the fault began
    other = next(v for v in ("binance-a", "binance-c") if v != downed)
    assert set(run["other_venue_orders_during_fault"]) == {other}
    assert run["checks"]["traded_elsewhere"] and run["other_venue_orders_during_fault"][other] > 0  # real failover
    assert run["duplicates"] == [] and run["lost_fills"] == [] and run["balance_difference"] == {}
    assert run["detect_s"] is not None and 0 <= run["detect_s"] < hold  # seen while the fault held
    assert run["recover_s"] is not None and 0 < run["recover_s"] < 120
    # the drill downs the venue holding our quotes: they sit there unmanaged (neither traded nor
    # canceled) while the venue is down, at most the hold
    assert 0 < run["unmanaged_position_s"] <= hold + 1
    keys = {a["key"].split(":")[0] for a in run["alerts"] if a["transition"] == "raised"}
    assert "breaker_open" in keys, run["alerts"]
    assert run["venue_orders_during_fault"] == 0  # the venue was down: it took nothing
    assert run["venue_answers"]["http_418"] == 0 and run["checks"]["not_banned"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(480)
def test_drill_leader_takeover_standby_trades_nothing_lost(drill: tuple[int, dict[str, Any], Path, str]) -> None:
    _, report, _, _ = drill
    s = scenario(report, "leader_takeover")
    run = s["runs"][0]
    assert s["passed"], (s["failed_checks"], s["runs"][0]["note"], s)
    assert run["detect_s"] is not None and 0 < run["detect_s"] < 15  # the lease TTL (2 s) and a poll or two
    assert run["recover_s"] is not None and run["recover_s"] >= run["detect_s"]
    assert run["unmanaged_position_s"] <= run["detect_s"] + 1  # nobody managed it until the standby led
    assert run["duplicates"] == [] and run["lost_fills"] == [] and run["balance_difference"] == {}
    assert any(a["key"] == "ha_takeover" for a in run["alerts"]), run["alerts"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(480)
def test_drill_sigkill_restart_reconciles_without_duplicates(drill: tuple[int, dict[str, Any], Path, str]) -> None:
    _, report, _, _ = drill
    s = scenario(report, "engine_sigkill")
    run = s["runs"][0]
    assert s["passed"], (s["failed_checks"], s["runs"][0]["note"], s)
    assert run["detect_s"] is not None and run["detect_s"] > run["fault_end"] - run["fault_start"]  # back up
    assert run["recover_s"] is not None and run["recover_s"] > 0
    assert run["duplicates"] == [] and run["lost_fills"] == []
    # the first leader (killed by the takeover), the standby that took over (killed here), its restart
    assert len(report["engine_logs"]) == 3 and report["skipped"] == []


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(480)
def test_drill_self_test_fails_with_the_balance_the_foreign_trade_moved(
    drill: tuple[int, dict[str, Any], Path, str],
) -> None:
    rc, report, _, stdout = drill
    assert rc == 1 and not report["passed"]
    s = scenario(report, "self_test_foreign_trade")
    run = s["runs"][0]
    assert s["failed_checks"] == ["balances_match"], s
    [trade] = run["foreign_trades"]
    qty, quote_qty, fee = Decimal(trade["qty"]), Decimal(trade["quoteQty"]), Decimal(trade["commission"])
    expected = {"BTC": qty - (fee if trade["commissionAsset"] == "BTC" else 0),
                "USDT": -quote_qty - (fee if trade["commissionAsset"] == "USDT" else 0)}
    assert {a: Decimal(v) for a, v in run["balance_difference"].items()} == {a: v for a, v in expected.items() if v}
    assert run["duplicates"] == [] and run["lost_fills"] == []  # the engine itself lost nothing
    assert "FAIL balances_match" in stdout and report["drill"]["passed"] is False


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.timeout(480)
async def test_drill_report_opens_in_chromium_table_and_every_plot(
    drill: tuple[int, dict[str, Any], Path, str], tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, FLAGS, HAVE_CHROMIUM

    assert HAVE_CHROMIUM, "Chromium is missing: ./test.sh installs Debian's chromium package"
    out = drill[2]
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = await context.new_page()
            await page.goto((out / "report.html").as_uri())
            rows = await page.locator("#summary tr").all_inner_texts()
            assert len(rows) == 1 + len(SCENARIOS)
            assert any(r.startswith("venue_down_second_venue") and "PASS" in r for r in rows)
            assert any(r.startswith("leader_takeover") and "PASS" in r for r in rows)
            assert any(r.startswith("self_test_foreign_trade") and "FAIL" in r for r in rows)
            widths = await page.eval_on_selector_all(
                "img.plot", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) == len(SCENARIOS) and all(w > 100 for w in widths), widths
            assert await page.inner_text("#verdict") == "FAIL"
        finally:
            await context.close()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(480)
async def test_drill_drops_its_journal_schema_at_the_end(
    drill: tuple[int, dict[str, Any], Path, str], postgres_server: PgServer
) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgres_server.dsn)
    try:
        left = [r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'drill%'")]
    finally:
        await conn.close()
    assert left == []  # the leader and standby's drill_<time> schema is gone (kept only with --keep)
