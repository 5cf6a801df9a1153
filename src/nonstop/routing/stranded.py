"""Exposure stranded on a downed venue, and what to do about it (M12): `hold` or `hedge`.

Pure. `stranded` lists the non-zero positions (from the portfolio) on the venues that are down now.
`HedgePlanner` decides, step by step, the orders of the `hedge` policy:

- a venue down for at least `hedge_after_s` with a position `q` in a symbol: offset it on healthy
  venues (routed like any new order) until the hedges' net fills reach `-q`;
- the venue back: unwind every hedge, reduce-only, on the venue it was placed on, until each hedge
  venue's net is zero.

At most one hedge order per (downed venue, symbol) is open at a time, so a slow fill never
double-hedges; a quantity below the venue's step (or minimum) is left alone. The planner knows its
hedge orders by client order id and reads their fills from the state; it lives for the run (after a
restart, hedges already filled are ordinary positions, shown per venue).

With `hold` nothing is traded: the trading loop shows the stranded exposure and alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from nonstop.model import EngineState, Side
from nonstop.routing.portfolio import Portfolio

__all__ = ["HedgeOrder", "HedgePlanner", "Stranded", "StrandedPolicy", "stranded"]


class StrandedPolicy(StrEnum):
    HOLD = "hold"  # leave it, show it, alert
    HEDGE = "hedge"  # offset it on a healthy venue; unwind reduce-only when the venue is back


@dataclass(frozen=True, slots=True)
class Stranded:
    venue: str
    symbol: str
    quantity: Decimal  # signed
    why: str  # why the venue is down


def stranded(portfolio: Portfolio, down: Mapping[str, str]) -> list[Stranded]:
    """Non-zero positions on the venues that are down (`down`: venue -> why)."""
    return [Stranded(v, s, p.quantity, down[v]) for (v, s), p in sorted(portfolio.per_venue.items())
            if v in down and p.quantity != 0]


@dataclass(frozen=True, slots=True)
class HedgeOrder:
    """An order the hedge policy wants: `venue` None means routed (a new hedge)."""

    down_venue: str
    symbol: str
    side: Side
    quantity: Decimal
    venue: str | None
    reduce_only: bool
    reason: str


@dataclass(slots=True)
class _Book:
    orders: list[tuple[str, str]] = field(default_factory=list)  # (client order id, venue it went to)


class HedgePlanner:
    """Plans hedge and unwind orders (see the module docstring)."""

    def __init__(self, hedge_after_s: float) -> None:
        self.hedge_after_s = hedge_after_s
        self._books: dict[tuple[str, str], _Book] = {}
        self._down_since: dict[str, float] = {}

    def placed(self, order: HedgeOrder, client_order_id: str, venue: str) -> None:
        """Record that `order` went out as `client_order_id` on `venue`."""
        self._books.setdefault((order.down_venue, order.symbol), _Book()).orders.append((client_order_id, venue))

    def net(self, state: EngineState, down_venue: str, symbol: str) -> dict[str, Decimal]:
        """The hedges' net filled quantity per hedge venue (signed)."""
        out: dict[str, Decimal] = {}
        for cid, venue in self._books.get((down_venue, symbol), _Book()).orders:
            order = state.orders.get(cid)
            if order is not None:
                out[venue] = out.get(venue, Decimal(0)) + order.side.sign * order.filled_qty
        return out

    def _busy(self, state: EngineState, key: tuple[str, str]) -> bool:
        return any((o := state.orders.get(cid)) is not None and o.state.is_open
                   for cid, _ in self._books.get(key, _Book()).orders)

    def plan(self, state: EngineState, portfolio: Portfolio, down: Mapping[str, str], now: float,
             steps: Mapping[str, Decimal]) -> list[HedgeOrder]:
        """The orders to send now; `now` is monotonic seconds, `steps` the symbols' step sizes."""
        for venue in list(self._down_since):
            if venue not in down:
                del self._down_since[venue]
        for venue in down:
            self._down_since.setdefault(venue, now)
        out: list[HedgeOrder] = []
        for s in stranded(portfolio, down):
            if now - self._down_since[s.venue] < self.hedge_after_s or self._busy(state, (s.venue, s.symbol)):
                continue
            missing = -s.quantity - sum(self.net(state, s.venue, s.symbol).values(), Decimal(0))
            qty = _floor(abs(missing), steps.get(s.symbol))
            if qty > 0:
                out.append(HedgeOrder(s.venue, s.symbol, Side.BUY if missing > 0 else Side.SELL, qty, None, False,
                                      f"hedge of {s.quantity} {s.symbol} stranded on {s.venue} ({s.why})"))
        for (venue, symbol) in list(self._books):
            if venue in down or self._busy(state, (venue, symbol)):
                continue
            nets = self.net(state, venue, symbol)
            for hedge_venue, n in sorted(nets.items()):
                qty = _floor(abs(n), steps.get(symbol))
                if qty > 0:
                    out.append(HedgeOrder(venue, symbol, Side.SELL if n > 0 else Side.BUY, qty, hedge_venue, True,
                                          f"unwind of the hedge for {venue} (back)"))
            if all(_floor(abs(n), steps.get(symbol)) == 0 for n in nets.values()):
                del self._books[(venue, symbol)]
        return out


def _floor(qty: Decimal, step: Decimal | None) -> Decimal:
    if not step:
        return qty
    return (qty // step) * step
