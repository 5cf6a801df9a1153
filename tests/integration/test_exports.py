"""`nonstop export` through the real command, against a journal the real engine wrote: every journaled fill
appears once, the totals equal the journal's, and Parquet reads back with pyarrow."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nonstop.config import load_settings
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.model import EngineState
from tests.simkit import WILD_SYMBOLS_TOML

NONSTOP = [sys.executable, "-m", "nonstop.cli"]


def _nonstop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NONSTOP, *args], capture_output=True, text=True, timeout=90, check=False)


async def _journal_state(config: Path) -> EngineState:
    journal = open_journal(load_settings(config), read_only=True)
    await journal.open()
    try:
        return await replay(journal)
    finally:
        await journal.close()


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal written by a short real run on the embedded simulator; its config file."""
    folder = tmp_path_factory.mktemp("export")
    config = folder / "nonstop.toml"
    config.write_text(
        f'data_dir = "{folder}"\n[sim]\ncontrol_port = 0\ntick_ms = 50\n'
        # a moving market (the default one is calibrated calm: too few fills in 8 s to compare)
        f'[[sim.venues]]\nname = "binance-a"\nports = [0]\n{WILD_SYMBOLS_TOML}\n'
        f'[[sim.venues]]\nname = "binance-b"\nports = [0]\n{WILD_SYMBOLS_TOML}\n'
        '[engine.strategy]\ninterval_s = 0.2\n[monitor.api]\nport = 0\n'
    )
    run = _nonstop("run", "--config", str(config), "--duration", "8", "--quiet")
    assert run.returncode == 0, run.stderr[-3000:]
    return config


@pytest.mark.slow
def test_fills_csv_round_trips_every_journaled_fill_once(traded: Path) -> None:
    state = asyncio.run(_journal_state(traded))
    assert len(state.fills) >= 3, "the run journaled too few fills to compare"
    result = _nonstop("export", "fills", "--config", str(traded), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["time_utc", "venue", "instrument", "base", "quote", "side", "price", "quantity",
                             "quote_amount", "fee", "fee_asset", "liquidity", "order_id", "client_order_id",
                             "trade_id", "strategy"]
    keys = [f"{r['venue']}:{r['instrument']}|{r['trade_id']}" for r in rows]
    assert len(keys) == len(set(keys)) == len(state.fills)
    assert set(keys) == set(state.fills)
    assert sum(Decimal(r["quantity"]) for r in rows) == sum(f.quantity for f in state.fills.values())
    assert sum(Decimal(r["fee"]) for r in rows) == sum(f.fee for f in state.fills.values())
    assert sum(Decimal(r["price"]) * Decimal(r["quantity"]) for r in rows) == sum(
        f.price * f.quantity for f in state.fills.values())
    assert all(r["time_utc"].endswith("+00:00") and r["side"] in ("buy", "sell") and r["order_id"] for r in rows)


@pytest.mark.slow
def test_fills_parquet_reads_back_with_pyarrow(traded: Path, tmp_path: Path) -> None:
    state = asyncio.run(_journal_state(traded))
    out = tmp_path / "fills.parquet"
    result = _nonstop("export", "fills", "--config", str(traded), "--format", "parquet", "--output", str(out))
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == len(state.fills)
    assert sum(table.column("quantity").to_pylist()) == sum(f.quantity for f in state.fills.values())
    assert sum(table.column("fee").to_pylist()) == sum(f.fee for f in state.fills.values())
    assert set(table.column("trade_id").to_pylist()) == {f.trade_id.value for f in state.fills.values()}


@pytest.mark.slow
def test_orders_and_balances_export_and_a_window_that_holds_nothing(traded: Path) -> None:
    state = asyncio.run(_journal_state(traded))
    orders = json.loads(_nonstop("export", "orders", "--config", str(traded), "--format", "json").stdout)
    assert {o["client_order_id"] for o in orders} == set(state.orders)
    balances = list(csv.DictReader(io.StringIO(_nonstop("export", "balances", "--config", str(traded)).stdout)))
    assert {b["venue"] for b in balances} == {"binance-a"} and {"BTC", "USDT"} <= {b["asset"] for b in balances}
    empty = _nonstop("export", "fills", "--config", str(traded), "--until", "2000-01-01")
    assert empty.returncode == 0 and len(empty.stdout.splitlines()) == 1  # the header only


def test_export_refuses_a_bad_time_and_a_parquet_without_a_file(tmp_path: Path) -> None:
    config = tmp_path / "nonstop.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    (tmp_path / "journal.sqlite").write_text("")  # never opened: the options are checked first
    bad = _nonstop("export", "fills", "--config", str(config), "--format", "parquet")
    assert bad.returncode == 2 and "--format parquet writes a file: add --output" in bad.stderr
    bad = _nonstop("export", "trades", "--config", str(config))
    assert bad.returncode == 2 and "choose fills, orders or balances" in bad.stderr
