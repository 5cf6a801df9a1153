"""The self-cross guard: the example market maker in a fast market (the other venues lead the price
up through its quotes, step after step, the consensus follows) never sends an order that would trade
against its own resting quote: the simulator's self-trade prevention expires none of its makers, and
the orders that would have crossed were refused (journaled) before they left."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nonstop.config import Settings
from nonstop.engine import Engine
from nonstop.model import OrderRejected
from tests.integration.engine.kit import TRADING, journal_events, running, settings
from tests.simkit import control, set_fault

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
DATA_VENUES = ("binance-b", "binance-c")
MOVES_PCT = [0.1, 0.15, 0.2, 0.25, 0.3]
STEP_S = 1.5


def _fast_market_settings(tmp_path: Path, *, guard: bool) -> Settings:
    base = settings(tmp_path, data_venues=2)
    return base.model_copy(update={"risk": base.risk.model_copy(update={"self_cross_guard": guard})})


async def _run_fast_market(engine: Engine) -> tuple[int, int, int]:
    """Drive the price through the quotes; (our orders on the venue, expired by STP, guard refusals).
    Counts, not rates: the moves are driven again (at most three passes) until the guard has refused a
    crossing buy, and the orders are waited for (bounded), as a loaded machine quotes and races slower."""
    async with running(engine):
        sim = engine.sim
        assert sim is not None
        for _ in range(3):
            for pct in MOVES_PCT:  # the other venues lead, the consensus follows them: a fast move up
                await control(sim, "DELETE", "/control/faults")
                for venue in DATA_VENUES:
                    await set_fault(sim, "price_spike", venue, params={"pct": pct})
                await asyncio.sleep(STEP_S)
            await control(sim, "DELETE", "/control/faults")
            await asyncio.sleep(STEP_S)
            events = await journal_events(engine)
            guarded = [e for e in events if isinstance(e, OrderRejected) and "self_cross_guard" in e.reason]
            if guarded:
                break
        for _ in range(150):
            rows = await control(sim, "GET", f"/control/venues/{TRADING}/orders")
            ours = [r for r in rows if r["client_order_id"].startswith("ns-a1-") and r["order"] is not None]
            if len(ours) > 20:
                break
            await asyncio.sleep(0.2)
        expired = [r for r in ours if r["order"]["status"] == "EXPIRED_IN_MATCH"]
        return len(ours), len(expired), len(guarded)


async def test_market_maker_in_a_fast_market_never_crosses_its_own_quote(tmp_path: Path) -> None:
    sent, expired, guarded = await _run_fast_market(Engine(_fast_market_settings(tmp_path, guard=True)))
    print(f"orders {sent}, expired makers {expired}, refused by the guard {guarded}")
    assert sent > 20  # it kept quoting through the moves
    assert expired == 0
    # the moves did make it try: a buy at or above its own resting ask (the consensus led by the other
    # venues, its bid filled, the ask not yet requoted) was refused before it left
    assert guarded > 0
