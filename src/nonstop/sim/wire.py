"""How the simulated venue's objects look on Binance's wire (REST bodies and stream events)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nonstop.config_sim import SimSymbol
from nonstop.sim.records import Account, BalanceUpdate, Execution, PublicTrade, SimOrder, account_uid


def num(value: Decimal) -> str:
    """Binance prints decimals with 8 places."""
    return f"{value:.8f}"


def symbol_info(spec: SimSymbol) -> dict[str, Any]:
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": num(spec.tick_size),
                "maxPrice": "1000000.00000000",
                "tickSize": num(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": num(spec.min_qty),
                "maxQty": num(spec.max_qty),
                "stepSize": num(spec.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": num(spec.max_qty),
                "stepSize": "0.00000000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": num(spec.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def order(o: SimOrder) -> dict[str, Any]:
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": o.order_list_id,
        "clientOrderId": o.client_order_id,
        "price": num(o.price),
        "origQty": num(o.orig_qty),
        "executedQty": num(o.executed_qty),
        "cummulativeQuoteQty": num(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "stopPrice": num(o.stop_price),
        "icebergQty": "0.00000000",
        "time": o.time_ms,
        "updateTime": o.update_ms,
        "isWorking": o.working,
        "workingTime": o.time_ms if o.working else -1,
        "origQuoteOrderQty": num(o.quote_order_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


_QUERY_ONLY = ("time", "updateTime", "isWorking", "stopPrice", "icebergQty", "origQuoteOrderQty")


def _answer(o: SimOrder, now_ms: int) -> dict[str, Any]:
    """The order as a new-order or cancel answer carries it (no query-only fields, a transactTime)."""
    body = {k: v for k, v in order(o).items() if k not in _QUERY_ONLY}
    if o.stop_price:
        body["stopPrice"] = num(o.stop_price)
    body["transactTime"] = now_ms
    return body


def order_full(o: SimOrder) -> dict[str, Any]:
    """The FULL response of `POST /api/v3/order`."""
    body = _answer(o, o.time_ms)
    body["fills"] = [
        {
            "price": num(f["price"]),
            "qty": num(f["qty"]),
            "commission": num(f["commission"]),  # type: ignore[arg-type]
            "commissionAsset": f["commissionAsset"],
            "tradeId": f["tradeId"],
        }
        for f in o.fills
    ]
    return body


def canceled(o: SimOrder, cancel_client_id: str, now_ms: int) -> dict[str, Any]:
    """`DELETE /api/v3/order`: the order's own client id moves to `origClientOrderId`."""
    return {**_answer(o, now_ms), "origClientOrderId": o.client_order_id, "clientOrderId": cancel_client_id}


def my_trade(t: dict[str, Any]) -> dict[str, Any]:
    return {k: (num(v) if isinstance(v, Decimal) else v) for k, v in t.items()}


def trade_event(t: PublicTrade) -> dict[str, Any]:
    return {
        "e": "trade",
        "E": t.time_ms,
        "s": t.symbol,
        "t": t.trade_id,
        "p": num(t.price),
        "q": num(t.qty),
        "T": t.time_ms,
        "m": t.buyer_is_maker,
        "M": True,
    }


def agg_trade(t: PublicTrade) -> dict[str, Any]:
    return {
        "a": t.trade_id,
        "p": num(t.price),
        "q": num(t.qty),
        "f": t.trade_id,
        "l": t.trade_id,
        "T": t.time_ms,
        "m": t.buyer_is_maker,
        "M": True,
    }


def execution_report(x: Execution) -> dict[str, Any]:
    o = x.order
    return {
        "e": "executionReport",
        "E": x.time_ms,
        "s": o.symbol,
        "c": x.cancel_client_order_id or o.client_order_id,
        "S": o.side,
        "o": o.type,
        "f": o.time_in_force,
        "q": num(o.orig_qty),
        "p": num(o.price),
        "P": num(o.stop_price),
        "F": "0.00000000",
        "g": o.order_list_id,
        "C": o.client_order_id if x.cancel_client_order_id else "",
        "x": x.exec_type,
        "X": x.status,
        "r": "NONE",
        "i": o.order_id,
        "l": num(x.last_qty),
        "z": num(x.executed_qty),
        "L": num(x.last_price),
        "n": num(x.commission),
        "N": x.commission_asset,
        "T": x.time_ms,
        "t": x.trade_id,
        "I": 0,
        "w": o.is_open and o.working,
        "m": x.is_maker,
        "M": False,
        "O": o.time_ms,
        "Z": num(x.cum_quote),
        "Y": num(x.last_qty * x.last_price),
        "Q": num(o.quote_order_qty),
        "W": o.time_ms,
        "V": "EXPIRE_MAKER",
    }


def account_position(b: BalanceUpdate) -> dict[str, Any]:
    return {
        "e": "outboundAccountPosition",
        "E": b.time_ms,
        "u": b.time_ms,
        "B": [{"a": a, "f": num(f), "l": num(lk)} for a, (f, lk) in b.assets.items()],
    }


def account(acct: Account, now_ms: int) -> dict[str, Any]:
    """`GET /api/v3/account` and the WebSocket API's `account.status`."""
    assets = sorted(set(acct.free) | set(acct.locked))
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                            "seller": "0.00000000"},
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "permissions": ["SPOT"],
        "uid": account_uid(acct.api_key),
        "balances": [
            {"asset": a, "free": num(acct.free.get(a, Decimal(0))), "locked": num(acct.locked.get(a, Decimal(0)))}
            for a in assets
        ],
    }
