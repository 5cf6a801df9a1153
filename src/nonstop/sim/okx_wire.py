"""How the simulated venue's objects look on OKX v5's wire (REST `data` rows and channel pushes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nonstop.config_sim import SimSymbol
from nonstop.sim.records import SimOrder

STATE = {
    "NEW": "live",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "canceled",
    "EXPIRED_IN_MATCH": "canceled",
}
# (engine type, time in force) -> OKX ordType, and back
ORD_TYPE = {
    ("LIMIT", "GTC"): "limit",
    ("LIMIT", "IOC"): "ioc",
    ("LIMIT", "FOK"): "fok",
    ("LIMIT_MAKER", "GTC"): "post_only",
    ("MARKET", "GTC"): "market",
}
ENGINE_TYPE = {v: k for k, v in ORD_TYPE.items()}


def num(value: Decimal) -> str:
    """OKX prints plain decimals without padding zeros."""
    if value == 0:
        return "0"
    text = f"{value.normalize():f}"
    return text


def inst_id(spec: SimSymbol) -> str:
    return f"{spec.base}-{spec.quote}"


def instrument(spec: SimSymbol) -> dict[str, Any]:
    return {
        "instType": "SPOT",
        "instId": inst_id(spec),
        "instFamily": "",
        "uly": "",
        "baseCcy": spec.base,
        "quoteCcy": spec.quote,
        "settleCcy": "",
        "ctVal": "",
        "ctMult": "",
        "ctValCcy": "",
        "ctType": "",
        "category": "1",
        "tickSz": num(spec.tick_size),
        "lotSz": num(spec.step_size),
        "minSz": num(spec.min_qty),
        "maxLmtSz": num(spec.max_qty),
        "maxMktSz": "1000000",
        "maxLmtAmt": "20000000",
        "maxMktAmt": "1000000",
        "lever": "",
        "listTime": "1606468572000",
        "expTime": "",
        "state": "live",
        "ruleType": "normal",
        "alias": "",
        "optType": "",
        "stk": "",
    }


def _fee_fields(order: SimOrder) -> tuple[str, str]:
    total = sum((Decimal(str(f["commission"])) for f in order.fills), Decimal(0))
    asset = str(order.fills[-1]["commissionAsset"]) if order.fills else ""
    return (num(-total) if total else "0"), asset


def order(o: SimOrder, spec: SimSymbol) -> dict[str, Any]:
    """An order row of GET trade/order, orders-pending and orders-history."""
    fee, fee_ccy = _fee_fields(o)
    avg = o.cum_quote / o.executed_qty if o.executed_qty else Decimal(0)
    last = o.fills[-1] if o.fills else None
    quote_sized = o.quote_order_qty > 0
    return {
        "instType": "SPOT",
        "instId": inst_id(spec),
        "ordId": str(o.order_id),
        "clOrdId": o.client_order_id,
        "tag": "",
        "px": num(o.price) if o.type != "MARKET" else "",
        "sz": num(o.quote_order_qty if quote_sized else o.orig_qty),
        "tgtCcy": "quote_ccy" if quote_sized else ("base_ccy" if o.type == "MARKET" else ""),
        "ordType": ORD_TYPE.get((o.type, o.time_in_force), "limit"),
        "side": o.side.lower(),
        "posSide": "net",
        "tdMode": "cash",
        "accFillSz": num(o.executed_qty),
        "fillPx": num(Decimal(str(last["price"]))) if last else "",
        "fillSz": num(Decimal(str(last["qty"]))) if last else "",
        "tradeId": str(last["tradeId"]) if last else "",
        "fillTime": str(o.update_ms) if last else "",
        "avgPx": num(avg) if o.executed_qty else "",
        "state": STATE.get(o.status, "live"),
        "fee": fee,
        "feeCcy": fee_ccy,
        "rebate": "0",
        "rebateCcy": spec.quote,
        "category": "normal",
        "cancelSource": "",
        "reduceOnly": "false",
        "uTime": str(o.update_ms),
        "cTime": str(o.time_ms),
    }


def fill(row: dict[str, object], spec: SimSymbol, client_order_id: str) -> dict[str, Any]:
    """One row of GET trade/fills and fills-history, from the venue's account trade record."""
    return {
        "instType": "SPOT",
        "instId": inst_id(spec),
        "tradeId": str(row["id"]),
        "ordId": str(row["orderId"]),
        "clOrdId": client_order_id,
        "billId": str(row["id"]),
        "tag": "",
        "fillPx": num(Decimal(str(row["price"]))),
        "fillSz": num(Decimal(str(row["qty"]))),
        "side": "buy" if row["isBuyer"] else "sell",
        "posSide": "net",
        "execType": "M" if row["isMaker"] else "T",
        "feeCcy": str(row["commissionAsset"]),
        "fee": num(-Decimal(str(row["commission"]))),
        "ts": str(row["time"]),
        "fillTime": str(row["time"]),
    }
