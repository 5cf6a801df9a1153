"""No false reconciliation differences: with every REST call of the trading venue slowed by 500 ms
(the balance answer already holds fills the user stream delivers later) and the market maker
filling all along, a minute of reconciliation passes every second records nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nonstop.engine import Engine
from nonstop.model import OrderFilled, ReconcileDifference
from tests.integration.engine.kit import TRADING, journal_events, running, settings
from tests.simkit import set_fault

pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]
RUN_S = 60.0


async def test_slow_account_calls_and_late_fills_record_no_false_difference(tmp_path: Path) -> None:
    engine = Engine(settings(tmp_path, data_venues=1, reconcile_interval_s=1.0))
    async with running(engine, duration=RUN_S + 60) as e:
        assert e.sim is not None and e.state is not None
        await set_fault(e.sim, "latency", venue=TRADING, params={"ms": 500})
        await asyncio.sleep(RUN_S)  # the scenario itself: a minute of trading under slow REST
        events = await journal_events(e)
    differences = [ev for ev in events if isinstance(ev, ReconcileDifference)]
    fills = [ev for ev in events if isinstance(ev, OrderFilled)]
    assert fills, "no fill in a minute: the race this test is about was never exercised"
    assert differences == [], [d.detail for d in differences]
