"""A reconcile pass that is not clean says why: each difference and error, in the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from nonstop.config import EngineVenue
from nonstop.engine import Engine
from tests.integration.engine.kit import TRADING, eventually, settings
from tests.simkit import rest_client, running_sim

pytestmark = pytest.mark.timeout(120)


async def test_reconcile_not_clean_logs_each_reason(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim:
        venue_name = next(iter(sim.venues))
        async with rest_client(sim, venue=venue_name) as ex:  # an order of ours the journal never heard of
            bid = (await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.9, 2),
                                  {"clientOrderId": "ns-a1-mm-zz7"})
        base = settings(tmp_path, data_venues=0)
        engine = Engine(base.model_copy(update={"engine": base.engine.model_copy(update={
            "embedded_sim": False, "instance": "a1", "data_venues": [],
            "venues": [EngineVenue(name=TRADING, urls=sim.venues[venue_name].urls)],
        })}))
        with capture_logs() as logs:
            task = asyncio.create_task(engine.run(duration=30))
            try:
                await eventually(lambda: any(e["event"] == "reconcile_not_clean" for e in logs) or task.done(), 60,
                                 "a pass that was not clean")
            finally:
                task.cancel()
                await asyncio.wait([task])
    entry = next(e for e in logs if e["event"] == "reconcile_not_clean")
    assert any(r.startswith(f"{TRADING}: UNKNOWN_ORDER: ") and "ns-a1-mm-zz7" in r for r in entry["reasons"]), entry
