"""Order types a third-party ccxt bot uses, against the simulator with the unmodified ccxt client:
quote-amount market buys, stop-loss-limit, OCO lists and cancel-replace (issue 15)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from nonstop.sim.server import SimServer
from tests.simkit import rest_client, running_sim


@pytest.fixture
async def still_sim() -> AsyncIterator[SimServer]:
    """A market that moves only when we trade (the background flow ticks once, at start)."""
    async with running_sim(venues=1, endpoints=1, tick_ms=60_000) as sim:
        sim.add_account("mover-key", "mover-secret")
        yield sim


async def test_market_buy_by_quote_amount_answers_filled_with_orig_qty_equal_to_executed(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        await ex.load_markets()
        order = await ex.create_market_buy_order_with_cost("BTC/USDT", 14.82)
        again = await ex.fetch_order(order["id"], "BTC/USDT")
    assert order["info"]["status"] == "FILLED" and order["status"] == "closed"
    assert order["info"]["origQty"] == order["info"]["executedQty"] and float(order["info"]["executedQty"]) > 0
    assert Decimal(order["info"]["cummulativeQuoteQty"]) <= Decimal("14.82")
    assert again["info"]["status"] == "FILLED" and again["info"]["origQty"] == again["info"]["executedQty"]


async def test_stop_loss_limit_waits_then_triggers_on_a_trade_through_its_stop_and_fills(still_sim: SimServer) -> None:
    sim = still_sim
    async with rest_client(sim) as ex, rest_client(sim, apiKey="mover-key", secret="mover-secret") as mover:
        book = await ex.fetch_order_book("BTC/USDT", 5)
        (_bid1, qty1), (bid2, _) = book["bids"][0], book["bids"][1]
        stop, limit = bid2, round(book["bids"][4][0] - 1, 2)
        order = await ex.create_order("BTC/USDT", "limit", "sell", 0.001, limit, {"stopLossPrice": stop})
        waiting = await ex.fetch_order(order["id"], "BTC/USDT")
        assert waiting["info"]["type"] == "STOP_LOSS_LIMIT" and waiting["status"] == "open"
        assert waiting["info"]["isWorking"] is False and waiting["filled"] == 0
        assert (await ex.fetch_balance())["BTC"]["used"] == pytest.approx(0.001)
        await mover.create_order("BTC/USDT", "market", "sell", round(qty1 + 0.0001, 5))  # trades down to bid2
        done = await ex.fetch_order(order["id"], "BTC/USDT")
        trades = await ex.fetch_my_trades("BTC/USDT")
    assert done["status"] == "closed" and done["filled"] == pytest.approx(0.001)
    assert all(t["price"] <= stop for t in trades if t["order"] == order["id"])
    assert done["info"]["isWorking"] is True


async def test_stop_order_that_would_trigger_at_once_is_refused(still_sim: SimServer) -> None:
    async with rest_client(still_sim) as ex:
        book = await ex.fetch_order_book("BTC/USDT", 5)
        last = (await ex.fetch_ticker("BTC/USDT"))["last"]
        with pytest.raises(Exception, match="would trigger immediately"):
            await ex.create_order(
                "BTC/USDT", "limit", "sell", 0.001, book["bids"][0][0], {"stopLossPrice": round(last + 50, 2)}
            )


async def test_oco_leg_that_fills_expires_the_other_and_the_shared_lock_is_released(still_sim: SimServer) -> None:
    sim = still_sim
    async with rest_client(sim) as ex, rest_client(sim, apiKey="mover-key", secret="mover-secret") as mover:
        await ex.load_markets()
        before = await ex.fetch_balance()
        book = await ex.fetch_order_book("BTC/USDT", 5)
        (_, ask1_qty), (above, ask2_qty) = book["asks"][0], book["asks"][1]  # our leg joins the second level
        bid1 = book["bids"][0][0]
        answer = await ex.private_post_orderlist_oco({
            "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.002",
            "aboveType": "LIMIT_MAKER", "abovePrice": f"{above:.2f}",
            "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": f"{bid1 - 30:.2f}",
            "belowPrice": f"{bid1 - 40:.2f}", "belowTimeInForce": "GTC",
            "listClientOrderId": "t-oco-1",
        })
        assert answer["listOrderStatus"] == "EXECUTING" and len(answer["orderReports"]) == 2
        locked = (await ex.fetch_balance())["BTC"]["used"]
        assert locked == pytest.approx(0.002)  # one lock for both legs
        await mover.create_order("BTC/USDT", "market", "buy", round(ask1_qty + ask2_qty + 0.002, 5))
        legs = {o["type"]: await ex.fetch_order(str(o["orderId"]), "BTC/USDT") for o in answer["orderReports"]}
        listing = await ex.private_get_orderlist({"orderListId": answer["orderListId"]})
        after = await ex.fetch_balance()
    assert legs["LIMIT_MAKER"]["status"] == "closed" and legs["LIMIT_MAKER"]["filled"] == pytest.approx(0.002)
    assert legs["STOP_LOSS_LIMIT"]["info"]["status"] == "EXPIRED"
    assert listing["listOrderStatus"] == "ALL_DONE"
    assert after["BTC"]["used"] == 0
    assert after["BTC"]["total"] == pytest.approx(before["BTC"]["total"] - 0.002)


async def test_canceling_one_oco_leg_cancels_the_list(still_sim: SimServer) -> None:
    async with rest_client(still_sim) as ex:
        book = await ex.fetch_order_book("BTC/USDT", 5)
        bid1, ask1 = book["bids"][0][0], book["asks"][0][0]
        answer = await ex.private_post_order_oco({  # the deprecated endpoint some bots still use
            "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.001", "price": f"{ask1 + 100:.2f}",
            "stopPrice": f"{bid1 - 30:.2f}", "stopLimitPrice": f"{bid1 - 40:.2f}", "stopLimitTimeInForce": "GTC",
        })
        first = answer["orders"][0]["orderId"]
        await ex.cancel_order(str(first), "BTC/USDT")
        states = [await ex.fetch_order(str(o["orderId"]), "BTC/USDT") for o in answer["orders"]]
        balance = await ex.fetch_balance()
    assert [s["status"] for s in states] == ["canceled", "canceled"]
    assert balance["BTC"]["used"] == 0


async def test_edit_order_goes_through_cancel_replace(still_sim: SimServer) -> None:
    async with rest_client(still_sim) as ex:
        book = await ex.fetch_order_book("BTC/USDT", 5)
        low = round(book["bids"][0][0] * 0.9, 2)
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, low)
        edited = await ex.edit_order(order["id"], "BTC/USDT", "limit", "buy", 0.002, round(low + 1, 2))
        old = await ex.fetch_order(order["id"], "BTC/USDT")
        open_ids = [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")]
        with pytest.raises(Exception, match="-2022|cancel-replace failed"):
            await ex.edit_order(order["id"], "BTC/USDT", "limit", "buy", 0.002, round(low + 2, 2))
    assert old["status"] == "canceled"
    assert open_ids == [edited["id"]] and edited["amount"] == pytest.approx(0.002)
