"""OKX's per-endpoint budgets on our side: a sliding 2 s window per endpoint (and instrument)."""

from __future__ import annotations

import asyncio

from nonstop.clock import ManualClock
from nonstop.venues.okx_budgets import EndpointBudgets


async def test_an_endpoint_waits_for_its_oldest_slot_and_others_are_not_held_up() -> None:
    clock = ManualClock()
    budgets = EndpointBudgets(clock, {"account/config": (5, False), "public/time": (10, False)}, share=1.0)
    for _ in range(5):
        await budgets.take("account/config")
    sixth = asyncio.create_task(budgets.take("account/config"))
    await asyncio.sleep(0)
    assert not sixth.done() and budgets.waits == 1
    await budgets.take("public/time")  # another endpoint's budget is its own
    clock.advance(1.9)
    await asyncio.sleep(0)
    assert not sixth.done()
    clock.advance(0.2)  # the first slot ages out of the 2 s window
    await asyncio.wait_for(sixth, 5)  # a time box: it is due at once


async def test_order_budget_counts_per_instrument_and_keeps_a_margin() -> None:
    clock = ManualClock()
    budgets = EndpointBudgets(clock, {"trade/order": (60, True)})  # 90 % share: 54 per 2 s
    assert budgets.limit("trade/order") == 54
    for _ in range(54):
        await budgets.take("trade/order", "BTC/USDT")
    await asyncio.wait_for(budgets.take("trade/order", "ETH/USDT"), 5)  # another instrument
    blocked = asyncio.create_task(budgets.take("trade/order", "BTC/USDT"))
    await asyncio.sleep(0)
    assert not blocked.done()
    clock.advance(2.0)
    await asyncio.wait_for(blocked, 5)
    await budgets.take("unknown/path")  # an endpoint without a documented budget is not held
