"""Crash test: SIGKILL the engine (a real process) at random moments of an active order flow,
restart it each time, and check across the whole run: no duplicate order, every venue fill in the
journal exactly once, balances equal to the venue's, nothing left in doubt."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from nonstop.config import Settings, load_settings
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.model import OrderFilled, Side
from nonstop.sim.server import DEMO_CREDENTIALS, ccxt_config
from tests.e2e.crashkit import SimProcess, control, engine_config, kill9, start_engine, start_sim
from tests.pg import PgServer, make_postgres_fixture

postgres_server = make_postgres_fixture(scope="module")
START = {"USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("30")}


STARTUP_KILL_EVERY = 4  # every 4th run is killed during start-up (replay, connect, reconcile, warm-up)
TRADING_WAIT_S = 60.0  # a time box: a start on a loaded machine takes many seconds


def crash_loop(workdir: Path, sim: SimProcess, config: Path, kills: int, seed: int,
               env: dict[str, str] | None = None) -> int:
    """SIGKILL `kills` engine runs: most at a random moment of the active order flow (after the
    run reached trading), every STARTUP_KILL_EVERY-th at a random moment of its start-up.
    Returns how many runs were killed while trading."""
    rng = random.Random(seed)
    control(sim, "POST", "/control/faults", {"kind": "latency", "venue": sim.name, "probability": 0.3,
                                             "params": {"ms": 120}})
    control(sim, "POST", "/control/faults", {"kind": "drop_order_response", "venue": sim.name,
                                             "probability": 0.05, "params": {"mode": "hang"}})
    trading = 0
    for n in range(kills):
        run = start_engine(workdir, config, n, env=env)
        if n % STARTUP_KILL_EVERY == STARTUP_KILL_EVERY - 1:
            time.sleep(rng.uniform(0.8, 3.0))  # python start-up takes ~1 s, then replay/connect/reconcile
        else:
            deadline = time.monotonic() + TRADING_WAIT_S
            while not run.reached_trading() and run.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert run.reached_trading(), f"engine run {n} did not reach trading:\n{run.log()[-3000:]}"
            time.sleep(rng.uniform(0.0, 3.0))  # anywhere in the order flow, mid-submit included
        assert run.proc.poll() is None, f"engine run {n} died by itself:\n{run.log()[-3000:]}"
        kill9(run)
        trading += run.reached_trading()
    control(sim, "DELETE", "/control/faults")
    final = start_engine(workdir, config, kills, duration=25, env=env)
    assert final.proc.wait(timeout=90) == 0, final.log()[-3000:]
    assert final.reached_trading(), final.log()[-3000:]
    assert '"event": "stopped"' in final.log(), "the clean stop did not cancel and reconcile:\n" + final.log()[-3000:]
    return trading


async def verify(settings: Settings, sim: SimProcess) -> dict[str, int]:
    journal = open_journal(settings)
    await journal.open()
    try:
        state = await replay(journal)
        fill_records = Counter()
        async for rec in journal.read():
            if isinstance(rec.event, OrderFilled):
                fill_records[rec.event.trade_id.value] += 1
    finally:
        await journal.close()
    # 1. no client order id was ever carried by two venue orders
    duplicates = control(sim, "GET", f"/control/venues/{sim.name}/duplicates")
    evidence = {cid: control(sim, "GET", f"/control/venues/{sim.name}/orders?client_order_id={cid}")
                for cid in duplicates}
    assert duplicates == {}, evidence
    if sim.dialect == "okx":
        return await verify_okx(state, fill_records, sim)
    # 2. nothing open or unsettled is left behind after the clean stop (checked first: an order
    #    still open could fill while we read trades and balances below)
    ex = ccxt_async.binance(ccxt_config(sim.urls[0], *DEMO_CREDENTIALS))
    try:
        venue_open = await ex.fetch_open_orders("BTC/USDT")
        assert venue_open == [] and state.open_orders() == [], (venue_open, state.open_orders())
        # 3. every venue fill is in the journal exactly once
        venue_trades = await ex.fetch_my_trades("BTC/USDT", None, 1000)
        venue_balance = (await ex.fetch_balance())["info"]["balances"]
    finally:
        await ex.close()
    venue_ids = {str(t["info"]["id"]) for t in venue_trades}
    assert len(venue_trades) < 1000, "paginate: more trades than one page"
    assert venue_ids == set(fill_records), (venue_ids ^ set(fill_records))
    assert set(fill_records.values()) <= {1}
    # 4. balances: start + the journal's fills == the venue's balances
    expected = dict(START)
    for fill in state.fills.values():
        order = state.orders[fill.client_order_id.value]
        sign = 1 if order.side is Side.BUY else -1
        expected["BTC"] += sign * fill.quantity
        expected["USDT"] -= sign * fill.quantity * fill.price
        expected[fill.fee_asset] -= fill.fee
    actual = {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in venue_balance}
    assert actual == {a: expected[a] for a in actual}
    return {"orders": len(state.orders), "fills": len(state.fills), "in_doubt_ever": sum(
        1 for o in state.orders.values() if "in_doubt" in o.reason.lower())}


def expected_balances(state: Any) -> dict[str, Decimal]:
    """Start + the journal's fills."""
    expected = dict(START)
    for fill in state.fills.values():
        order = state.orders[fill.client_order_id.value]
        sign = 1 if order.side is Side.BUY else -1
        expected["BTC"] += sign * fill.quantity
        expected["USDT"] -= sign * fill.quantity * fill.price
        expected[fill.fee_asset] -= fill.fee
    return expected


async def verify_okx(state: Any, fill_records: Counter[str], sim: SimProcess) -> dict[str, int]:
    """The same checks through the unmodified ccxt okx client (fills paged from the start)."""
    from nonstop.config import DEMO_PASSPHRASE
    from nonstop.venues.okx_profile import OKX
    from nonstop.venues.profile import Network

    ex = ccxt_async.okx(OKX.ccxt_config(OKX.pointed_at(Network.SIM, sim.urls[0]), *DEMO_CREDENTIALS, DEMO_PASSPHRASE))
    try:
        venue_open = await ex.fetch_open_orders("BTC/USDT")
        assert venue_open == [] and state.open_orders() == [], (venue_open, state.open_orders())
        venue_ids: set[str] = set()
        since = 0
        while True:
            page = await ex.fetch_my_trades("BTC/USDT", since)
            fresh = {str(t["info"]["tradeId"]) for t in page} - venue_ids
            venue_ids |= fresh
            if len(page) < 100 or not fresh:
                break
            since = max(int(t["info"]["ts"]) for t in page)
        details = (await ex.fetch_balance())["info"]["data"][0]["details"]
    finally:
        await ex.close()
    assert venue_ids == set(fill_records), (venue_ids ^ set(fill_records))
    assert set(fill_records.values()) <= {1}
    expected = expected_balances(state)
    actual = {d["ccy"]: Decimal(d["availBal"]) + Decimal(d["frozenBal"]) for d in details}
    assert actual == {a: expected[a] for a in actual}
    return {"orders": len(state.orders), "fills": len(state.fills), "in_doubt_ever": sum(
        1 for o in state.orders.values() if "in_doubt" in o.reason.lower())}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_eight_times_okx_no_duplicate_no_lost_fill(tmp_path: Path) -> None:
    """The same crash test on an OKX-dialect venue (OkxVenue, clOrdId, OKX codes, per-endpoint budgets)."""
    sim = start_sim(tmp_path, dialect="okx")
    try:
        config = engine_config(tmp_path, sim, journal='backend = "sqlite"\ndurability = "group"')
        trading = crash_loop(tmp_path, sim, config, kills=8, seed=20261129)
        figures = asyncio.run(verify(load_settings(config), sim))
    finally:
        sim.stop()
    assert trading >= 8 - 8 // STARTUP_KILL_EVERY, f"only {trading} of 8 runs were killed while trading"
    assert figures["fills"] > 10 and figures["orders"] > 20, figures


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_thirty_times_sqlite_no_duplicate_no_lost_fill(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        config = engine_config(tmp_path, sim, journal='backend = "sqlite"\ndurability = "group"')
        trading = crash_loop(tmp_path, sim, config, kills=30, seed=20261125)
        figures = asyncio.run(verify(load_settings(config), sim))
    finally:
        sim.stop()
    assert trading >= 30 - 30 // STARTUP_KILL_EVERY, f"only {trading} of 30 runs were killed while trading"
    assert figures["fills"] > 20 and figures["orders"] > 50, figures


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_sigkill_eight_times_postgres_no_duplicate_no_lost_fill(tmp_path: Path, postgres_server: PgServer) -> None:
    sim = start_sim(tmp_path)
    env = {"NONSTOP_PG_DSN": postgres_server.dsn}
    try:
        config = engine_config(tmp_path, sim, journal='backend = "postgres"\ndurability = "group"\n'
                                                      'schema_name = "crash"')
        trading = crash_loop(tmp_path, sim, config, kills=8, seed=7, env=env)
        import os

        os.environ["NONSTOP_PG_DSN"] = postgres_server.dsn
        try:
            figures = asyncio.run(verify(load_settings(config), sim))
        finally:
            del os.environ["NONSTOP_PG_DSN"]
    finally:
        sim.stop()
    assert trading >= 8 - 8 // STARTUP_KILL_EVERY
    assert figures["fills"] > 5, figures
