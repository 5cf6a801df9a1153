"""`network = "paper"` (B6): the engine trades through its live code path on the embedded simulator,
whose market mirrors a source venue's public data. A second simulator stands in for the live venue
(the mirror source): the engine's resting orders fill only when the source's trades cross them, the
source never receives a key, a signature or an order, and the paper balances carry over a restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nonstop.config import (
    ApiSettings,
    EngineSettings,
    EngineVenue,
    MonitorSettings,
    Settings,
    SimSettings,
    SimSymbol,
    SimVenue,
    StrategySettings,
)
from nonstop.data import DataSettings
from nonstop.engine import Engine
from nonstop.sim.server import SimServer
from nonstop.venues.settings import PaperSettings
from tests.integration.engine.kit import DATA, eventually, running
from tests.simkit import rest_client

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

PAPER = "paper-binance"
SOURCE_BTC = SimSymbol(
    base="BTC", quote="USDT", start_price=Decimal("60000"), tick_size=Decimal("0.01"),
    step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"), volatility_bps=Decimal("1"),
)
BALANCES = {"USDT": Decimal("5000"), "BTC": Decimal("0.05")}


def _settings(data_dir: Path, source_url: str) -> Settings:
    paper = PaperSettings(source="sim", source_url=source_url, balances=BALANCES, book_depth=50)
    return Settings(
        engine=EngineSettings(
            venues=[EngineVenue(name=PAPER, network="paper", paper=paper)],
            strategy=StrategySettings(venue=PAPER, symbol="BTC/USDT", interval_s=0.2, half_spread_bps=Decimal(3)),
            request_timeout_ms=2000, recv_window_ms=2000, reconcile_interval_s=5,
        ),
        data=DataSettings(validator=DATA.validator.model_copy(update={"min_sources": 1}), feeds=DATA.feeds),
        data_dir=data_dir,
        monitor=MonitorSettings(api=ApiSettings(port=0)),
    )


def _totals(engine: Engine) -> tuple[dict[str, Decimal], int]:
    """The paper account's balances (free + locked) and its number of fills, on the paper simulator."""
    venue = engine.sim.venues[PAPER].venue
    account = next(a for key, a in venue.accounts.items() if not key.startswith("__"))
    totals = {asset: account.free.get(asset, Decimal(0)) + account.locked.get(asset, Decimal(0))
              for asset in set(account.free) | set(account.locked)}
    return totals, sum(len(rows) for rows in venue.account_trades.values())


def _fills(engine: Engine) -> list[dict[str, Any]]:
    return [row for rows in engine.sim.venues[PAPER].venue.account_trades.values() for row in rows]


async def test_paper_engine_fills_on_the_source_tape_sends_it_nothing_and_keeps_its_balances(tmp_path: Path) -> None:
    source_settings = SimSettings(control_port=0, tick_ms=50,
                                  venues=[SimVenue(name="source", ports=[0], symbols=[SOURCE_BTC])])
    async with SimServer(source_settings) as source:
        cfg = _settings(tmp_path, source.venues["source"].urls[0])
        assert cfg.engine.runs_embedded_sim and cfg.engine.runs_paper and not cfg.engine.data_venues
        engine = Engine(cfg)
        async with running(engine):  # the default run outlasts the test on a loaded machine
            assert engine.sim.venues[PAPER].mirror is not None  # the paper venue mirrors the source
            assert all(u.startswith("http://127.0.0.1:") for u in engine.sim.venues[PAPER].urls)
            await eventually(lambda: any(f["isMaker"] for f in _fills(engine)), 60, "a resting paper order filled")
            fills = _fills(engine)
        saved, fill_count = _totals(engine)  # the engine has stopped: its simulator saved the paper account
        tape = list(source.venues["source"].venue.trades["BTCUSDT"])
        source_rt = source.venues["source"]

        assert saved != BALANCES  # the fills moved the paper balances off the configured ones
        for fill in (f for f in fills if f["isMaker"]):  # a resting order: the source traded at or through it
            price = Decimal(str(fill["price"]))
            through = [t for t in tape if (t.price <= price if fill["isBuyer"] else t.price >= price)]
            assert through, f"paper fill at {price} with no source trade at or through it"
            assert min(t.time_ms for t in through) <= int(fill["time"])
        # nothing but public market data was asked of the source: no key, no signature, no order
        assert source_rt.private_requests == []
        assert source_rt.venue.received == [] and source_rt.venue.account_trades == {}
        assert source_rt.listen_keys == {}

        restarted = Engine(cfg)
        task = asyncio.create_task(restarted.run(duration=30), name="paper-restarted")
        try:
            await eventually(lambda: restarted.sim is not None or task.done(), 60, "the paper simulator restarted")
            if task.done():
                task.result()
            totals, count = _totals(restarted)
        finally:
            task.cancel()
            await asyncio.wait([task])
        async with rest_client(source, "source") as keyed:  # the check sees a keyed request when there is one
            await keyed.fetch_balance()
        assert source_rt.private_requests == ["GET /api/v3/account"]
    assert count == fill_count  # observed before any new fill: the restored account, as it was left
    assert totals == saved  # the paper balances carried over the restart (not the configured ones)
