"""The trading book as the API shows it: open orders, positions, balances and fills, each read from
the engine's folded journal state (`EngineState`) and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nonstop.api.views import BalanceView, FillView, OrderView, PositionView
from nonstop.model import EngineState, InstrumentId
from nonstop.routing.portfolio import Position, portfolio_of

Mid = Callable[[str], Decimal | None]  # a symbol's current mid, None when unknown


def as_text(value: Any) -> str:
    """An enum (or anything) as the API's lower-case word."""
    for attr in ("value", "name"):
        inner = getattr(value, attr, None)
        if isinstance(inner, str):
            return inner.lower()
    return str(value).lower()


def open_orders(state: EngineState) -> list[OrderView]:
    return [
        OrderView(
            client_order_id=o.client_order_id.value,
            venue=o.instrument_id.venue,
            instrument=o.instrument_id.symbol,
            side=as_text(o.side),
            order_type=as_text(o.order_type),
            price=None if o.price is None else str(o.price),
            quantity=str(o.quantity),
            filled=str(o.filled_qty),
            state=as_text(o.state),
        )
        for o in sorted(state.open_orders(), key=lambda o: (o.client_order_id.instance, o.client_order_id.seq))
    ]


def _position_view(venue: str, symbol: str, qty: Decimal, pos: Position, mark: Decimal | None) -> PositionView:
    return PositionView(venue=venue, instrument=symbol, quantity=str(qty), avg_cost=str(pos.avg_cost),
                        realized_pnl=str(pos.realized), unrealized_pnl=str(pos.unrealized(mark)))


def positions(state: EngineState, mid: Mid) -> list[PositionView]:
    """Per venue, then the aggregate across venues (M12) of a symbol held on more than one."""
    portfolio = portfolio_of(state)
    out = []
    for key, qty in sorted(state.positions.items()):
        iid = InstrumentId.parse(key)
        pos = portfolio.position(iid.venue, iid.symbol)
        out.append(_position_view(iid.venue, iid.symbol, qty, pos, mid(iid.symbol)))
    for symbol, pos in sorted(portfolio.aggregated.items()):
        if len(portfolio.by_venue(symbol)) > 1:
            out.append(_position_view("all", symbol, pos.quantity, pos, mid(symbol)))
    return out


def balances(state: EngineState) -> list[BalanceView]:
    return [
        BalanceView(venue=venue, asset=asset, free=str(b.free), locked=str(b.locked), total=str(b.free + b.locked))
        for venue, assets in sorted(state.balances.items())
        for asset, b in sorted(assets.items())
        if b.free + b.locked != 0
    ]


def recent_fills(state: EngineState, limit: int) -> list[FillView]:
    """The newest `limit` fills of orders still in the state, newest first."""
    out = []
    for fill in reversed(state.fills.values()):  # insertion order is arrival order
        order = state.orders.get(fill.client_order_id.value)
        if order is None:
            continue
        out.append(
            FillView(
                ts=fill.ts,
                venue=order.instrument_id.venue,
                instrument=order.instrument_id.symbol,
                client_order_id=fill.client_order_id.value,
                side=as_text(order.side),
                price=str(fill.price),
                quantity=str(fill.quantity),
                fee=str(fill.fee),
                fee_asset=fill.fee_asset,
                liquidity=as_text(fill.liquidity),
                trade_id=str(fill.trade_id.value),
            )
        )
        if len(out) >= limit:
            break
    return sorted(out, key=lambda f: f.ts, reverse=True)
