"""Invariant 5: the strategy gets control only after replay and a clean reconcile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nonstop.config import EngineVenue
from nonstop.engine import Engine
from nonstop.model import DifferenceKind, OrderIntent, ReconcileDifference
from tests.integration.engine.kit import TRADING, eventually, journal_events, settings
from tests.simkit import rest_client, running_sim

pytestmark = pytest.mark.timeout(120)


async def test_strategy_waits_for_a_clean_reconcile_before_its_first_order(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim:
        venue_name = next(iter(sim.venues))
        # an open order carrying this instance's client-id prefix that the (empty) journal knows nothing of
        async with rest_client(sim, venue=venue_name) as ex:
            bid = (await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
            stray = {"clientOrderId": "ns-a1-mm-zz9"}
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2), stray)
        base = settings(tmp_path, data_venues=0)
        engine_cfg = base.engine.model_copy(update={
            "embedded_sim": False, "instance": "a1", "data_venues": [],
            "venues": [EngineVenue(name=TRADING, urls=sim.venues[venue_name].urls)],
        })
        engine = Engine(base.model_copy(update={"engine": engine_cfg}))
        task = asyncio.create_task(engine.run(duration=30))
        try:
            await eventually(lambda: bool(engine.state and engine.state.orders) or task.done(), 60, "a first order")
            if task.done():
                task.result()
            events = await journal_events(engine)
        finally:
            task.cancel()
            await asyncio.wait([task])
        async with rest_client(sim, venue=venue_name) as ex:
            open_ids = [o["clientOrderId"] for o in await ex.fetch_open_orders("BTC/USDT")]
    kinds = [(i, e) for i, e in enumerate(events) if isinstance(e, ReconcileDifference | OrderIntent)]
    first_difference = next(i for i, e in kinds if isinstance(e, ReconcileDifference))
    first_intent = next(i for i, e in kinds if isinstance(e, OrderIntent))
    assert events[first_difference].kind is DifferenceKind.UNKNOWN_ORDER  # type: ignore[union-attr]
    assert first_difference < first_intent, "the strategy traded before reconciliation had settled the venue"
    assert "ns-a1-mm-zz9" not in open_ids  # contained: canceled, never adopted
