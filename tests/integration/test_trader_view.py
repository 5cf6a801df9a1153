"""What a trader sees, through the real `nonstop` command on the embedded simulator: the console shows
order, fill and summary lines and a stop summary; `nonstop status` says running or stopped, carries PnL,
and its balances move with fills between reconciliation snapshots."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

NONSTOP = [sys.executable, "-m", "nonstop.cli"]


def _status(config: Path) -> dict[str, Any]:
    result = subprocess.run([*NONSTOP, "status", "--config", str(config), "--json"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_console_lines_and_status_follow_the_trading(tmp_path: Path) -> None:
    config = tmp_path / "nonstop.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[log]\nsummary_every_s = 1\n'
        '[sim]\ncontrol_port = 0\ntick_ms = 50\n'
        '[[sim.venues]]\nname = "binance-a"\nports = [0]\n[[sim.venues]]\nname = "binance-b"\nports = [0]\n'
        # no periodic reconcile: balances between snapshots come from the journaled fills alone
        '[engine]\nreconcile_interval_s = 3600\n[engine.strategy]\ninterval_s = 0.2\n[monitor.api]\nport = 0\n'
    )
    log = (tmp_path / "console.log").open("w+")
    proc = subprocess.Popen([*NONSTOP, "run", "--config", str(config), "--duration", "90"], stderr=log, text=True)
    try:
        deadline = time.monotonic() + 60
        moved = None
        while time.monotonic() < deadline and moved is None:
            time.sleep(1)
            if not (tmp_path / "journal.sqlite").exists():
                continue
            data = _status(config)
            venue = data["balances_now"].get("binance-a", {})
            if data["fills"] >= 3 and Decimal(venue.get("BTC", {}).get("fills_since", "0")) != 0:
                moved = data
        assert moved is not None, "no fills journaled since the start-up snapshot"
        assert moved["instance"]["state"] == "running"
        btc = moved["balances_now"]["binance-a"]["BTC"]
        assert Decimal(btc["now"]) == Decimal(btc["snapshot"]) + Decimal(btc["fills_since"])
        assert Decimal(btc["now"]) != Decimal(btc["snapshot"])  # the balance moved with the fills
        assert "mm" in moved["pnl"] and list(moved["pnl"]["mm"]) == ["USDT"]  # per quote currency
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    log.seek(0)
    console = log.read()
    lines = console.splitlines()

    def named(event: str) -> list[str]:
        return [ln for ln in lines if len(ln.split()) > 3 and ln.split()[3] == event]

    assert named("order_placed") and named("fill") and named("summary"), console[-3000:]
    assert "side=" in named("fill")[0] and "price=" in named("fill")[0] and "pnl=" in named("fill")[0]
    assert "open_orders=" in named("summary")[0] and "pnl=" in named("summary")[0]
    (stop,) = named("stop_summary")
    assert "duration=" in stop and "fills=" in stop and "pnl=" in stop and "fees=" in stop and "incidents=" in stop
    assert not [ln for ln in lines if "feed_switched" in ln and "[warning" in ln], console[-3000:]
    assert "Traceback" not in console
    after = _status(config)
    assert after["instance"]["state"] == "stopped"
    assert after["last_reconcile"]["binance-a"]["result"] == "clean"  # the final pass matched the fills
    fills = int(stop.split("fills=")[1].split()[0])
    assert fills == after["fills"]  # a fresh journal: every fill of it came in this run
    text = subprocess.run([*NONSTOP, "status", "--config", str(config)], capture_output=True, text=True, timeout=60,
                          check=False).stdout
    assert "\ninstance  stopped" in text and "pnl       mm" in text
