"""Binance's symbol filters as the venue applies them to a new order (-1013 `Filter failure: ...`)."""

from __future__ import annotations

from decimal import Decimal

from nonstop.config_sim import SimSymbol
from nonstop.sim import rejects


def check_filters(
    spec: SimSymbol, price: Decimal | None, qty: Decimal | None, quote_qty: Decimal | None, ref: Decimal
) -> None:
    """PRICE_FILTER (tick), LOT_SIZE (min, max, step) and NOTIONAL (price * qty, or the quote amount of a
    `quoteOrderQty` market order; `ref` prices a market order); raise the first one that fails."""
    if price is not None and (price < spec.tick_size or price % spec.tick_size != 0):
        raise rejects.filter_failure("PRICE_FILTER")
    if qty is not None and (qty < spec.min_qty or qty > spec.max_qty or (qty - spec.min_qty) % spec.step_size):
        raise rejects.filter_failure("LOT_SIZE")
    notional = (price if price is not None else ref) * qty if qty is not None else quote_qty
    if notional is not None and notional < spec.min_notional:
        raise rejects.filter_failure("NOTIONAL")
