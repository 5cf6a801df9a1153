"""The pre-trade rules: pure functions of a proposed order, the limits and what the engine knows now.

`check` returns the first `Refusal` (the rule, its limit and the value the order would reach) or
None. The order of the rules puts the ones that protect the account first (daily loss, orders in
doubt), then the per-order sanity checks, then the rules about exposure. An order that shrinks the
absolute position of its instrument (an exposure-reducing order, e.g. from `--flatten` or the
REDUCE_ONLY level) is never refused by a position limit, nor by the daily loss limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from nonstop.model import InstrumentId, Order, OrderType, Side
from nonstop.risk.settings import RiskLimits

BPS = Decimal(10_000)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderProposal:
    """An order a strategy (or the kill switch) wants sent, before it has a client order id."""

    strategy: str
    instrument_id: InstrumentId
    side: Side
    quantity: Decimal
    price: Decimal | None
    order_type: OrderType = OrderType.LIMIT

    @property
    def signed(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order is not sent: `rule` with its `limit` and the `value` the order would reach."""

    rule: str
    limit: Decimal | int | str
    value: Decimal | int | str
    halts: bool = False  # a breach that halts trading (the daily loss limit)

    @property
    def reason(self) -> str:
        return f"risk {self.rule}: {self.value} breaches the limit {self.limit}"


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the rules look at, measured just before the check."""

    positions: Mapping[str, Decimal]  # net base quantity per instrument (str(InstrumentId))
    open_orders: Iterable[Order]  # every open order of this instance
    in_doubt: int  # orders in doubt now
    mid: Decimal | None  # the consensus mid of the proposal's symbol (None: no trusted price)
    orders_last_second: int  # orders this strategy sent in the last second / minute
    orders_last_minute: int
    daily_pnl: Mapping[str, Decimal]  # realized + unrealized of the UTC day, per quote currency (in it)


def shrinks_exposure(position: Decimal, proposal: OrderProposal) -> bool:
    """True when the order can only bring the position closer to zero (never across it)."""
    after = position + proposal.signed
    return position != 0 and abs(after) < abs(position) and (after == 0 or (after > 0) == (position > 0))


def crosses_own(proposal: OrderProposal, open_orders: Iterable[Order]) -> Order | None:
    """Our resting order on the other side that this order would trade against, if any."""
    for order in open_orders:
        if order.instrument_id != proposal.instrument_id or order.side is proposal.side or order.price is None:
            continue  # a market order of ours never rests: nothing to trade against
        if proposal.price is None:  # a market order takes whatever rests
            return order
        if (proposal.side is Side.BUY and proposal.price >= order.price) or (
            proposal.side is Side.SELL and proposal.price <= order.price
        ):
            return order
    return None


def daily_loss_breach(limit_in: Callable[[str], Decimal | None], daily_pnl: Mapping[str, Decimal]) -> Refusal | None:
    """The first quote currency (by name) whose loss today reached its limit (`limit_in(quote)`, an amount in
    that currency; None: no limit); the refusal names both amounts in that currency, and halts."""
    for quote, pnl in sorted(daily_pnl.items()):
        limit = limit_in(quote)
        if limit is not None and -pnl >= limit:
            loss = -pnl
            loss = loss.quantize(Decimal("0.01") if abs(loss) >= 1 else Decimal("0.00000001"))
            return Refusal("daily_loss_limit", f"{limit} {quote}", f"{loss} {quote}", halts=True)
    return None


def check(proposal: OrderProposal, limits: RiskLimits, ctx: RiskContext) -> Refusal | None:
    """The first rule the proposal breaks, or None when every rule passes."""
    position = ctx.positions.get(str(proposal.instrument_id), ZERO)
    reducing = shrinks_exposure(position, proposal)
    price = proposal.price if proposal.price is not None else ctx.mid

    breach = None if reducing else daily_loss_breach(limits.daily_loss_limit_in, ctx.daily_pnl)
    if breach is not None:
        return breach
    if limits.max_in_doubt is not None and ctx.in_doubt >= limits.max_in_doubt:
        return Refusal("max_in_doubt", limits.max_in_doubt, ctx.in_doubt)
    if limits.max_order_qty is not None and proposal.quantity > limits.max_order_qty:
        return Refusal("max_order_qty", limits.max_order_qty, proposal.quantity)
    needs_price = limits.price_collar_bps is not None or limits.max_order_notional is not None
    if needs_price and (ctx.mid is None or price is None):
        return Refusal("price_collar_bps", str(limits.price_collar_bps), "no trusted consensus price")
    if limits.max_order_notional is not None and price is not None:
        notional = proposal.quantity * price
        if notional > limits.max_order_notional:
            return Refusal("max_order_notional", limits.max_order_notional, _q(notional))
    if limits.price_collar_bps is not None and proposal.price is not None and ctx.mid:
        away = abs(proposal.price - ctx.mid) / ctx.mid * BPS
        if away > limits.price_collar_bps:
            return Refusal("price_collar_bps", limits.price_collar_bps, _q(away))
    if limits.self_cross_guard:
        resting = crosses_own(proposal, ctx.open_orders)
        if resting is not None:
            return Refusal("self_cross_guard", f"our {resting.side} {resting.client_order_id} at {resting.price}",
                           f"{proposal.side} at {proposal.price if proposal.price is not None else 'market'}")
    if limits.max_open_orders is not None:
        mine = sum(1 for o in ctx.open_orders if o.client_order_id.strategy == proposal.strategy) + 1
        if mine > limits.max_open_orders:
            return Refusal("max_open_orders", limits.max_open_orders, mine)
    if limits.max_orders_per_second is not None and ctx.orders_last_second + 1 > limits.max_orders_per_second:
        return Refusal("max_orders_per_second", limits.max_orders_per_second, ctx.orders_last_second + 1)
    if limits.max_orders_per_minute is not None and ctx.orders_last_minute + 1 > limits.max_orders_per_minute:
        return Refusal("max_orders_per_minute", limits.max_orders_per_minute, ctx.orders_last_minute + 1)
    if reducing:
        return None
    after = position + proposal.signed
    if limits.max_position_qty is not None and abs(after) > limits.max_position_qty:
        return Refusal("max_position_qty", limits.max_position_qty, abs(after))
    if price is not None and limits.max_position_notional is not None:
        notional = abs(after) * price
        if notional > limits.max_position_notional:
            return Refusal("max_position_notional", limits.max_position_notional, _q(notional))
    if price is not None and limits.max_total_position_notional is not None:
        base = proposal.instrument_id.base
        total = sum(
            (q for k, q in ctx.positions.items() if k != str(proposal.instrument_id) and _base_of(k) == base), ZERO
        ) + after
        notional = abs(total) * price
        if notional > limits.max_total_position_notional:
            return Refusal("max_total_position_notional", limits.max_total_position_notional, _q(notional))
    return None


def _base_of(instrument: str) -> str:
    return InstrumentId.parse(instrument).base


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


class OrderRate:
    """When a strategy's recent orders were sent: counts over the last second and minute."""

    def __init__(self) -> None:
        self._sent: deque[datetime] = deque()

    def add(self, at: datetime) -> None:
        self._sent.append(at)

    def counts(self, now: datetime) -> tuple[int, int]:
        while self._sent and (now - self._sent[0]).total_seconds() >= 60:
            self._sent.popleft()
        last_second = sum(1 for t in reversed(self._sent) if (now - t).total_seconds() < 1)
        return last_second, len(self._sent)
