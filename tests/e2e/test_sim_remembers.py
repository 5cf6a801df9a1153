"""`./run.sh`-style runs, three in a row on one data dir: the embedded simulator keeps its state
under `<data_dir>/sim/`, so each run finds the venue as a real exchange would have kept it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nonstop.config import DEMO_CREDENTIALS
from nonstop.journal import SQLiteJournal
from nonstop.model import OrderFilled, OrderIntent, ReconcileDifference
from tests.simkit import WILD_SYMBOLS_TOML

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
NONSTOP = [sys.executable, "-m", "nonstop.cli"]


def _events(path: Path) -> list[object]:
    async def read() -> list[object]:
        journal = SQLiteJournal(path)
        await journal.open()
        try:
            return [r.event async for r in journal.read(1)]
        finally:
            await journal.close()

    return asyncio.run(read())


def test_three_runs_on_one_data_dir_record_every_fill_once_and_reconcile_clean(tmp_path: Path) -> None:
    config = tmp_path / "nonstop.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[sim]\ncontrol_port = 0\ntick_ms = 50\n'
        f'[[sim.venues]]\nname = "binance-a"\nports = [0, 0]\n{WILD_SYMBOLS_TOML}'
        f'[[sim.venues]]\nname = "binance-b"\nports = [0]\n{WILD_SYMBOLS_TOML}'
        '[engine.strategy]\ninterval_s = 0.2\n[monitor.api]\nport = 0\n'
    )
    intents_before = 0
    for run in range(3):
        result = subprocess.run([*NONSTOP, "run", "--config", str(config), "--duration", "7"], capture_output=True,
                                text=True, timeout=60, check=False)
        log = result.stderr
        assert result.returncode == 0, log[-3000:]
        assert " trading " in log, f"run {run + 1} never traded:\n{log[-3000:]}"
        assert "reconcile_not_clean" not in log and "clean=False" not in log, f"run {run + 1}:\n{log[-3000:]}"
        assert "missed_fill" not in log.lower(), f"run {run + 1}:\n{log[-3000:]}"
        assert "open_orders=0" in log  # the clean stop left nothing open
        events = _events(tmp_path / "journal.sqlite")
        intents = sum(isinstance(e, OrderIntent) for e in events)
        assert intents > intents_before, f"run {run + 1} placed no order"  # trading resumed
        intents_before = intents
    assert not [e for e in events if isinstance(e, ReconcileDifference)]
    fills = [e for e in events if isinstance(e, OrderFilled)]
    saved = json.loads((tmp_path / "sim" / "binance-a.json").read_text())
    venue_trades = [str(t["id"]) for t in saved["account_trades"][DEMO_CREDENTIALS[0]]]
    journal_trades = [f.trade_id.value for f in fills]
    assert venue_trades, "no fill in three runs: the test proves nothing"
    assert len(journal_trades) == len(set(journal_trades))  # every fill recorded once
    assert sorted(journal_trades) == sorted(venue_trades)  # and none lost
