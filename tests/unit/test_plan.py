"""`nonstop plan`: what a config would send where, read before anything starts, never a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from nonstop.config import parse_settings
from nonstop.execution.recorder import Recorder
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import VenueIdentified
from nonstop.plan import build_plan, journal_check, render

LIVE = {
    "engine": {
        "instance": "l1",
        "venues": [{"name": "binance-live", "network": "live", "endpoints": ["api", "api-gcp"],
                    "credentials_env": "BINANCE"}],
        "data_venues": [{"name": "okx-data", "exchange": "okx", "network": "live"}],
        "strategy": {"venue": "binance-live", "symbol": "BTC/USDT"},
    },
    "monitor": {"alerts": {"channels": [{"name": "phone", "url_env": "MY_ALERT_URL"}]}},
}
SECRETS = {"BINANCE_API_KEY": "key-0123456789", "BINANCE_API_SECRET": "secret-0123456789",
           "MY_ALERT_URL": "tgram://123456:TOKEN-0123456789/987"}


def test_defaults_start_the_embedded_simulator_and_send_only_to_loopback(tmp_path: Path) -> None:
    plan = build_plan(parse_settings({"data_dir": str(tmp_path)}), "defaults", environ={})
    assert plan["embedded_simulator"]["starts"] and plan["market"] == ["simulated"]
    assert [v["name"] for v in plan["venues"]] == ["binance-a"]
    assert [v["name"] for v in plan["data_venues"]] == ["binance-b"]
    assert all(v["loopback_only"] for v in plan["venues"] + plan["data_venues"])
    assert plan["venues"][0]["endpoints"][0]["rest"] == "http://127.0.0.1:8901"
    assert "user_ws" not in plan["data_venues"][0]["endpoints"][0]  # no user stream where no orders go
    assert plan["not_ready"] == [] and plan["check"] == []
    assert plan["risk"]["daily_loss_limit"] == "500 USDT"


def test_a_live_config_names_every_host_and_key_variable_and_never_a_secret() -> None:
    settings = parse_settings(LIVE)
    plan = build_plan(settings, "live.toml", environ=SECRETS)
    venue, data = plan["venues"][0], plan["data_venues"][0]
    assert [e["rest"] for e in venue["endpoints"]] == ["https://api.binance.com", "https://api-gcp.binance.com"]
    assert venue["hosts"][:2] == ["api.binance.com", "stream.binance.com"] and not venue["loopback_only"]
    assert venue["keys"] == {"sent": True, "env": "BINANCE", "set": {"BINANCE_API_KEY": True,
                                                                    "BINANCE_API_SECRET": True}}
    assert data["keys"]["sent"] is False and data["exchange"] == "okx"  # public data: no key goes there
    assert plan["alert_channels"] == [{"name": "phone", "url_env": "MY_ALERT_URL", "scheme": "tgram://"}]
    shown = json.dumps(plan) + render(plan)
    assert not [v for v in SECRETS.values() if v in shown]
    assert "TOKEN-0123456789" not in shown and "123456" not in shown
    missing = build_plan(settings, "live.toml", environ={})
    assert [m.split(" ")[0] for m in missing["not_ready"]] == ["BINANCE_API_KEY", "BINANCE_API_SECRET"]
    assert "NOT READY" in render(missing) and "BINANCE_API_KEY NOT SET" in render(missing)


def test_amounts_are_labelled_in_the_quote_and_a_usdt_sized_default_in_btc_is_flagged() -> None:
    eth_btc = {**LIVE, "engine": {**LIVE["engine"], "strategy": {"venue": "binance-live", "symbol": "ETH/BTC"}}}
    plan = build_plan(parse_settings(eth_btc), "x.toml", environ=SECRETS)
    assert plan["risk"]["max_order_notional"] == "1000 BTC" and plan["risk"]["daily_loss_limit"] == "500 BTC"
    assert plan["check"] and "set [risk.strategies.mm] limits in BTC" in plan["check"][0]
    sized = {**eth_btc, "risk": {"strategies": {"mm": {
        "max_order_notional": "0.02", "max_position_notional": "0.1", "max_total_position_notional": "0.2",
        "daily_loss_limit": "0.01"}}}}
    plan = build_plan(parse_settings(sized), "x.toml", environ=SECRETS)
    assert plan["check"] == [] and plan["risk"]["daily_loss_limit"] == "0.01 BTC"


async def test_the_journal_check_says_a_simulator_journal_would_refuse_a_testnet_config(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "journal.sqlite", durability=Durability.FSYNC)
    await journal.open()
    try:
        state = await replay(journal)
        await Recorder(journal, state, 1).record(VenueIdentified(
            ts=datetime.now(UTC), venue="binance-a", exchange="binance", network="sim", account="42"))
    finally:
        await journal.close()
    sim = parse_settings({"data_dir": str(tmp_path)})
    assert "refused" not in await journal_check(sim)
    testnet = parse_settings({"data_dir": str(tmp_path), "engine": {
        "venues": [{"name": "binance", "network": "testnet", "credentials_env": "BN"}],
        "strategy": {"venue": "binance"}}})
    found = await journal_check(testnet)
    assert found["traded_with"] == {"binance-a": {"exchange": "binance", "network": "sim", "account": "42"}}
    assert "simulated and real markets never share a journal" in found["refused"]
    assert found["engine"]["state"] == "stopped"
    plan = build_plan(testnet, "t.toml", environ={})
    plan["journal"]["found"] = found
    assert "REFUSED     the journal" in render(plan)
    assert await journal_check(parse_settings({"data_dir": str(tmp_path / "new")})) == {"exists": False}


def test_the_command_prints_the_plan_and_exits_1_when_not_ready(tmp_path: Path) -> None:
    config = tmp_path / "live.toml"
    config.write_text('data_dir = "var"\n[[engine.venues]]\nname = "binance-live"\nnetwork = "live"\n'
                      'credentials_env = "BINANCE"\n[engine.strategy]\nvenue = "binance-live"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}

    def plan(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nonstop.cli", "plan", "-c", str(config), *args],
                              capture_output=True, text=True, cwd=tmp_path, env={**env, **extra}, timeout=60)

    missing = plan()
    assert missing.returncode == 1 and "NOT READY" in missing.stdout and "https://api.binance.com" in missing.stdout
    ready = plan("--json", BINANCE_API_KEY="k-0123456789", BINANCE_API_SECRET="s-0123456789")
    assert ready.returncode == 0, ready.stderr
    found = json.loads(ready.stdout)
    assert found["journal"]["found"] == {"exists": False} and "0123456789" not in ready.stdout
    assert not (tmp_path / "var").exists()  # read before anything starts: nothing created
