"""Equity: the account's balances valued in one currency, for the dashboard's equity series."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from nonstop.model import EngineState

_MARK_SCAN_LIMIT = 5000  # fills looked at (newest first) to find a mark per asset


def marks(state: EngineState, quote: str, given: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Price in `quote` per asset: `given` ({"venue:BASE/QUOTE": price}) first, else the latest fill price."""
    found: dict[str, Decimal] = {quote: Decimal(1)}
    for key, price in given.items():
        symbol = key.split(":", 1)[-1]
        base, _, q = symbol.partition("/")
        if q == quote:
            found.setdefault(base, Decimal(price))
    wanted = {a for assets in state.balances.values() for a in assets} - set(found)
    for n, fill in enumerate(reversed(state.fills.values())):
        if not wanted or n >= _MARK_SCAN_LIMIT:
            break
        order = state.orders.get(fill.client_order_id.value)
        if order is not None and order.instrument_id.quote == quote and order.instrument_id.base in wanted:
            found[order.instrument_id.base] = fill.price
            wanted.discard(order.instrument_id.base)
    for iid, (_, price) in sorted(state.carried.last_fill.items(), key=lambda kv: kv[1][0]):  # archived fills
        if iid.quote == quote and iid.base in wanted:
            found[iid.base] = price  # the newest last: it wins
    return found


def equity(state: EngineState, quote: str, given: Mapping[str, Decimal]) -> tuple[Decimal, list[str]]:
    """Total balances valued in `quote`, and the held assets left out for want of a mark."""
    prices = marks(state, quote, given)
    total, unpriced = Decimal(0), set()
    for assets in state.balances.values():
        for asset, b in assets.items():
            amount = b.free + b.locked
            if asset in prices:
                total += amount * prices[asset]
            elif amount:
                unpriced.add(asset)
    return total, sorted(unpriced)
