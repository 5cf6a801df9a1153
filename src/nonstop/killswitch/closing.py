"""The closing-order rule shared by the kill switch's flatten (inside the engine) and the watchdog's
flatten (a separate process): pure, no I/O.

A position is the instance's net base quantity from its own fills (`EngineState.positions`): on
spot that is the inventory the engine traded, not the account's whole base balance (a balance the
user holds beside the engine is never sold). It is closed by the opposite side, its quantity
rounded *down* to the lot step (never more than the position: reduce-only), priced half the collar
through the mid and rounded to the tick towards the mid, so the price is always inside the collar.
A remainder below the venue's minimum quantity or notional is dust: left and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nonstop.model import Instrument, Side
from nonstop.risk.rules import BPS

DEFAULT_COLLAR_BPS = Decimal(50)


@dataclass(frozen=True, slots=True)
class ClosingOrder:
    side: Side
    quantity: Decimal
    price: Decimal


def closing_order(position: Decimal, instrument: Instrument, mid: Decimal | None,
                  collar_bps: Decimal | None) -> ClosingOrder | str | None:
    """The order that closes `position` (None: nothing to close; a str: why it cannot be closed)."""
    if position == 0:
        return None
    side = Side.SELL if position > 0 else Side.BUY
    qty = instrument.round_qty(abs(position))
    if mid is None or mid <= 0:
        return "no trusted price"
    offset = (collar_bps or DEFAULT_COLLAR_BPS) / 2 / BPS
    raw = mid * (1 - offset) if side is Side.SELL else mid * (1 + offset)
    price = instrument.round_price(raw, side)  # rounded towards the mid: inside the collar
    problems = instrument.check(qty, price)
    if problems:
        return "; ".join(problems)
    return ClosingOrder(side, qty, price)


def within_a_step(position: Decimal, instrument: Instrument | None) -> bool:
    """True when what is left is less than one lot step (nothing more can be closed)."""
    if instrument is None:
        return position == 0
    return instrument.round_qty(abs(position)) == 0
