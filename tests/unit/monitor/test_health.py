"""Readiness says why it is not ready; liveness always answers."""

from __future__ import annotations

import json

from nonstop.clock import ManualClock
from nonstop.monitor import Liveness, Readiness


def test_fresh_readiness_is_not_ready_and_lists_every_reason() -> None:
    code, body = Readiness(ManualClock()).response()
    assert code == 503 and body["ready"] is False
    assert body["reasons"] == [
        "reconciled: not reconciled yet",
        "leader: no leader lease yet",
        "venues: no venue has reported",
    ]
    json.dumps(body)  # JSON-able as it is


def test_ready_when_reconciled_leader_trading_and_one_venue_ok() -> None:
    clock = ManualClock()
    r = Readiness(clock)
    r.set_reconciled(True)
    r.set_leader(True)
    r.set_venue_ok("binance-a", False, "3 of 3 endpoints open")
    assert not r.ready and "binance-a: 3 of 3 endpoints open" in r.reasons()[0]
    clock.advance(5)
    r.set_venue_ok("binance-b", True)
    code, body = r.response()
    assert code == 200 and body["reasons"] == [] and body["venues"]["binance-a"]["ok"] is False
    r.set_trading_enabled(False, "kill switch pressed by operator")
    assert r.response()[0] == 503 and r.reasons() == ["trading: kill switch pressed by operator"]


def test_since_changes_only_when_the_state_flips() -> None:
    clock = ManualClock()
    r = Readiness(clock)
    r.set_leader(True)
    since = r.body()["checks"]["leader"]["since"]
    clock.advance(10)
    r.set_leader(True)
    assert r.body()["checks"]["leader"]["since"] == since
    r.set_leader(False, "lease lost: epoch 7 < 8")
    assert r.body()["checks"]["leader"]["since"] != since


def test_reasons_are_scrubbed_of_secrets() -> None:
    r = Readiness(ManualClock())
    r.set_venue_ok("binance-a", False, "auth failed for apiKey=abcd1234efgh")
    assert "abcd1234efgh" not in json.dumps(r.body())


def test_liveness_reports_uptime() -> None:
    clock = ManualClock()
    live = Liveness(clock)
    clock.advance(12.5)
    assert live.body()["status"] == "alive" and live.body()["uptime_seconds"] == 12.5
