"""`nonstop drill` with a config that runs HA on PostgreSQL and routes over two venues: the two
scenarios only such a config can run, in one drill (one settle): `leader_takeover` (a standby
waits, the leader is SIGKILLed, the standby leads and trades) and `venue_down_second_venue` (the
first venue answers 503 everywhere; routed orders go to the second). Real `nonstop sim` and
`nonstop run` processes, the embedded PostgreSQL server of `tests/pg.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pg import PgServer, make_postgres_fixture

postgres_server = make_postgres_fixture(scope="module")
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(420)]

HA_TWO_VENUES = """
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

[[engine.venues]]
name = "binance-a"

[[engine.venues]]
name = "binance-c"
"""
SCENARIOS = ["leader_takeover", "venue_down_second_venue"]


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory, postgres_server: PgServer) -> tuple[int, dict[str, Any], str]:
    work = tmp_path_factory.mktemp("drill-failover")
    config = work / "ha.toml"
    config.write_text(HA_TWO_VENUES)
    out = work / "out"
    listed = subprocess.run([sys.executable, "-m", "nonstop.cli", "drill", "--list", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "NONSTOP_PG_DSN": ""})
    assert "leader_takeover" in listed.stdout and "skipped with this config" in listed.stdout, listed.stdout
    proc = subprocess.run([sys.executable, "-m", "nonstop.cli", "drill", *SCENARIOS, "--config", str(config),
                           "--out", str(out), "--seed", "7"], capture_output=True, text=True, timeout=400,
                          env={**os.environ, "NONSTOP_PG_DSN": postgres_server.dsn})
    assert (out / "report.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((out / "report.json").read_text()), proc.stdout


def scenario(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["scenarios"] if s["name"] == name)


def test_drill_leader_takeover_standby_trades_nothing_lost(drill: tuple[int, dict[str, Any], str]) -> None:
    rc, report, stdout = drill
    s = scenario(report, "leader_takeover")
    run = s["runs"][0]
    assert s["passed"], s
    assert run["detect_s"] is not None and 0 < run["detect_s"] < 15  # the lease TTL (2 s) and a poll or two
    assert run["recover_s"] is not None and run["recover_s"] >= run["detect_s"]
    assert run["unmanaged_position_s"] >= 0
    assert run["duplicates"] == [] and run["lost_fills"] == [] and run["balance_difference"] == {}
    assert len(report["engine_logs"]) == 2  # the killed leader and the standby that took over
    assert report["skipped"] == [] and rc == 0 and report["drill"]["passed"], stdout


def test_drill_venue_down_second_venue_trading_continues(drill: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = drill
    s = scenario(report, "venue_down_second_venue")
    run = s["runs"][0]
    assert s["passed"], s
    assert run["checks"]["traded_elsewhere"] and run["other_venue_orders_during_fault"]["binance-c"] > 0
    assert run["venue_orders_during_fault"] == 0  # the first venue took nothing while down
    assert run["detect_s"] is not None and run["recover_s"] is not None
    assert run["duplicates"] == [] and run["lost_fills"] == []
    assert report["drill"]["balance_difference_by_venue"] == {}
