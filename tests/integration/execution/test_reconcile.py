"""Reconciliation finds and records what happened on the venue while the engine was down."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import ccxt.async_support as ccxt_async

from nonstop.model import DifferenceKind, OrderState, Side
from tests.enginekit import INSTANCE, rig
from tests.simkit import running_sim


async def test_fill_and_cancel_made_while_down_are_found_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    # tick_ms=60_000: the background market does not move; only what this test does happens
    async with running_sim(venues=1, endpoints=1, tick_ms=60_000) as sim:
        async with rig(sim, path) as r:
            quote = await r.venue.quote(r.btc)
            assert quote.bid is not None and quote.ask is not None
            to_fill = await r.manager.place("mm", r.btc, Side.SELL, Decimal("0.002"), quote.ask)  # joins the ask
            to_cancel = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.002"), quote.bid - 100)
            assert await r.reconciler.reconcile("alpha", [r.btc]) is not None
        # --- the engine is down: on the venue, our sell is hit and our buy is canceled by hand
        sim.add_account("other-trader", "other-secret")
        other = ccxt_async.binance(sim.ccxt_config("alpha", 0, api_key="other-trader", secret="other-secret"))
        mine = ccxt_async.binance(sim.ccxt_config("alpha", 0))
        try:
            level = (await other.fetch_order_book("BTC/USDT", 5))["asks"][0][1]  # the maker ahead of us, then ours
            await other.create_order("BTC/USDT", "market", "buy", level, None, {"clientOrderId": "other-1"})
            await mine.cancel_order(None, "BTC/USDT", {"origClientOrderId": to_cancel.value})
        finally:
            await other.close()
            await mine.close()
        # --- restart: replay, then reconcile
        async with rig(sim, path) as r:
            assert r.recorder.state.order(to_fill).state is OrderState.ACCEPTED  # as we left it
            result = await r.reconciler.reconcile("alpha", [r.btc])
            kinds = sorted(d.kind for d in result.differences)
            assert kinds == [DifferenceKind.ORDER_GONE, DifferenceKind.ORDER_GONE]
            filled, canceled = r.recorder.state.order(to_fill), r.recorder.state.order(to_cancel)
            assert filled.state is OrderState.FILLED and filled.filled_qty == Decimal("0.002")
            assert canceled.state is OrderState.CANCELED
            assert r.recorder.state.positions[str(r.btc)] == Decimal("-0.002")
            types = [rec.event_type async for rec in r.journal.read()]
            assert "ReconcileDifference" in types and types.count("OrderFilled") >= 1
            again = await r.reconciler.reconcile("alpha", [r.btc])
            assert again.clean, again.differences  # the corrections made the next pass clean


async def test_unknown_open_order_of_ours_is_canceled_not_adopted(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1, tick_ms=60_000) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        ex = ccxt_async.binance(sim.ccxt_config("alpha", 0))
        try:
            book = await ex.fetch_order_book("BTC/USDT", 5)
            stray = f"ns-{INSTANCE}-mm-zz"
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(book["bids"][0][0] - 100, 2),
                                  {"clientOrderId": stray})
            result = await r.reconciler.reconcile("alpha", [r.btc])
            assert [d.kind for d in result.differences] == [DifferenceKind.UNKNOWN_ORDER]
            assert await ex.fetch_open_orders("BTC/USDT") == []
            assert not r.recorder.state.orders  # reconciliation never creates an order of its own
        finally:
            await ex.close()


async def test_balance_drift_is_reported(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1, tick_ms=60_000) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        assert (await r.reconciler.reconcile("alpha", [r.btc])).clean
        ex = ccxt_async.binance(sim.ccxt_config("alpha", 0))
        try:  # a trade we did not make (not ours by client id): the balance moves without our fills
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "manual-1"})
        finally:
            await ex.close()
        result = await r.reconciler.reconcile("alpha", [r.btc])
        drift = [d for d in result.differences if d.kind is DifferenceKind.BALANCE_DRIFT]
        assert {d.detail.split(":")[0] for d in drift} == {"BTC", "USDT"}


async def test_balance_changed_while_the_engine_was_down_is_found_at_start(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with running_sim(venues=1, endpoints=1, tick_ms=60_000) as sim:
        async with rig(sim, path) as r:
            assert (await r.reconciler.reconcile("alpha", [r.btc])).clean  # the journal's baseline
        ex = ccxt_async.binance(sim.ccxt_config("alpha", 0))
        try:  # the engine is down; a person buys by hand on the same account
            await ex.create_order("BTC/USDT", "market", "buy", 0.002, None, {"clientOrderId": "manual-1"})
        finally:
            await ex.close()
        async with rig(sim, path) as r:  # a new process: nothing in memory, only the journal
            result = await r.reconciler.reconcile("alpha", [r.btc])
            drift = {d.detail.split(":")[0]: d.detail for d in result.differences
                     if d.kind is DifferenceKind.BALANCE_DRIFT}
            assert set(drift) == {"BTC", "USDT"}, result.differences
            assert "(drift 0.001998)" in drift["BTC"]  # 0.002 bought, less the 0.1 % fee taken in BTC
            assert (await r.reconciler.reconcile("alpha", [r.btc])).clean  # recorded once, then the baseline
        async with rig(sim, path) as r:  # and a third process does not report it again
            assert (await r.reconciler.reconcile("alpha", [r.btc])).clean
