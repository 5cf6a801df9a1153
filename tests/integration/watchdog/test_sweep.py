"""The watchdog's sweep through the real adapter: every open order with the instance's prefix is
canceled on the simulator, and nobody else's (another instance's, a manual one) is touched; a
watchdog that never heard the engine never acts; its journal says what it did."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from nonstop.config import EngineSettings, EngineVenue, Settings, StrategySettings
from nonstop.model import ClientOrderId, InstrumentId, OrderIntent, OrderType, Side
from nonstop.watchdog.runner import Watchdog
from nonstop.watchdog.settings import WatchdogSettings
from tests.enginekit import venue_for
from tests.simkit import control, rest_client, running_sim


async def test_sweep_cancels_only_the_instances_orders(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim:
        venue = venue_for(sim)
        await venue.connect()
        try:
            iid = InstrumentId("alpha", "BTC/USDT")
            quote = await venue.quote(iid)
            assert quote.bid is not None
            price = (quote.bid * Decimal("0.98")).quantize(Decimal("0.01"))
            ids = [ClientOrderId.build("a1", "mm", 1), ClientOrderId.build("a1", "mm", 2),
                   ClientOrderId.build("b2", "mm", 1)]
            for cid in ids:
                await venue.submit(OrderIntent(ts=datetime.now(UTC), client_order_id=cid, instrument_id=iid,
                                               side=Side.BUY, order_type=OrderType.LIMIT,
                                               quantity=Decimal("0.001"), price=price))
            async with rest_client(sim) as client:
                await client.create_order("BTC/USDT", "limit", "buy", 0.001, float(price),
                                          {"newClientOrderId": "manual-order-1"})
            settings = Settings(
                engine=EngineSettings(instance="a1", venues=[EngineVenue(name="alpha")],
                                      strategy=StrategySettings(venue="alpha")),
                watchdog=WatchdogSettings(health_url="http://127.0.0.1:9/healthz", silence_s=1,
                                          poll_interval_s=0.1, journal_path=tmp_path / "wd.jsonl"),
                data_dir=tmp_path,
            )
            dog = Watchdog(settings, {"alpha": venue})
            task = asyncio.create_task(dog.run())
            await asyncio.sleep(1.5)  # silent for longer than silence_s, but it never heard the engine
            assert not dog.triggered and dog.canceled == []
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

            canceled, failed = await dog.sweep()
            assert sorted(canceled) == sorted(c.value for c in ids[:2]) and failed == []
            rows = {r["client_order_id"]: r["order"]["status"]
                    for r in await control(sim, "GET", "/control/venues/alpha/orders")}
            assert rows[ids[0].value] == rows[ids[1].value] == "CANCELED"
            assert rows[ids[2].value] == "NEW" and rows["manual-order-1"] == "NEW"
            events = [e["event"] for e in dog.journal.read()]
            assert events == ["started", "swept"]
        finally:
            await venue.close()

