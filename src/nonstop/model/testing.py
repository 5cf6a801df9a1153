"""Builders for tests and benchmarks: random but always-valid event sequences.

Pure and deterministic for a given `random.Random` (event ids come from it too), so a
hypothesis test can drive it with `st.randoms()` and shrink a failure, and any other package's
tests (order manager, reconciliation) can reuse it. No test framework is imported here.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from nonstop.errors import ModelError
from nonstop.model.balance import Balance
from nonstop.model.events import (
    BalanceChanged,
    BalanceSnapshot,
    DifferenceKind,
    Event,
    OrderAccepted,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderInDoubt,
    OrderIntent,
    OrderNeverSent,
    OrderRejected,
    ReconcileDifference,
)
from nonstop.model.identifiers import ClientOrderIdFactory, InstrumentId, TradeId, VenueOrderId
from nonstop.model.instrument import Liquidity, OrderType, Side, TimeInForce
from nonstop.model.order import TRANSITIONS, Order
from nonstop.model.state import EngineState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INSTRUMENTS = (InstrumentId("binance-a", "BTC/USDT"), InstrumentId("binance-b", "ETH/USDT"))
QTY_STEP = Decimal("0.001")


def _eid(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _order_event(rng: random.Random, order: Order, kind: type[OrderEvent], ts: datetime, n: int) -> OrderEvent:
    common = {"ts": ts, "event_id": _eid(rng), "client_order_id": order.client_order_id}
    if kind is OrderFilled:
        remaining_units = int((order.quantity - order.filled_qty) / QTY_STEP)
        units = rng.randint(1, max(1, remaining_units))
        return OrderFilled(
            **common,
            trade_id=TradeId(f"t{n}"),
            price=Decimal(rng.randint(1, 10**7)).scaleb(-2),
            quantity=units * QTY_STEP,
            fee=Decimal(rng.randint(0, 1000)).scaleb(-6),
            fee_asset=order.instrument_id.quote,
            liquidity=rng.choice(list(Liquidity)),
            venue_order_id=order.venue_order_id,
        )
    if kind is OrderAccepted:
        return OrderAccepted(**common, venue_order_id=VenueOrderId(f"v{n}"))
    if kind in (OrderRejected, OrderInDoubt, OrderCancelRejected, OrderNeverSent):
        return kind(**common, reason=rng.choice(["timeout", "insufficient balance", "unknown order"]))
    return kind(**common)


def random_valid_events(rng: random.Random, n: int, *, instance: str = "t1", start: datetime = T0) -> list[Event]:
    """`n` events that fold without error, covering every order transition, late and repeated
    fills, balances and reconcile differences."""
    state = EngineState()
    ids = ClientOrderIdFactory(instance)
    events: list[Event] = []
    fills: list[OrderFilled] = []
    ts = start
    counter = 0
    while len(events) < n:
        counter += 1
        ts += timedelta(milliseconds=rng.randint(0, 2000))
        roll = rng.random()
        event: Event
        if not state.orders or roll < 0.15:
            inst = rng.choice(INSTRUMENTS)
            order_type = rng.choice(list(OrderType))
            event = OrderIntent(
                ts=ts, event_id=_eid(rng), client_order_id=ids.next(rng.choice(["mm", "arb"])),
                instrument_id=inst, side=rng.choice(list(Side)), order_type=order_type,
                quantity=rng.randint(1, 5000) * QTY_STEP,
                price=None if order_type is OrderType.MARKET else Decimal(rng.randint(1, 10**7)).scaleb(-2),
                time_in_force=rng.choice(list(TimeInForce)), reduce_only=rng.random() < 0.1,
            )
        elif roll < 0.20:
            event = BalanceChanged(ts=ts, event_id=_eid(rng), venue=rng.choice(INSTRUMENTS).venue,
                                   asset=rng.choice(["BTC", "ETH", "USDT"]),
                                   free=Decimal(rng.randint(0, 10**8)).scaleb(-4),
                                   locked=Decimal(rng.randint(0, 10**4)).scaleb(-4))
        elif roll < 0.22:
            event = BalanceSnapshot(ts=ts, event_id=_eid(rng), venue=rng.choice(INSTRUMENTS).venue,
                                    balances=(Balance("USDT", Decimal(rng.randint(0, 10**6))),
                                              Balance("BTC", Decimal(rng.randint(0, 100)).scaleb(-1))))
        elif roll < 0.24:
            event = ReconcileDifference(ts=ts, event_id=_eid(rng), venue="binance-a",
                                        kind=rng.choice(list(DifferenceKind)), detail="generated",
                                        client_order_id=rng.choice(list(state.orders.values())).client_order_id)
        elif roll < 0.28 and fills:
            # the same execution reported again (new event id, same trade id): must be a no-op
            old = rng.choice(fills)
            event = OrderFilled(**{**_fields(old), "ts": ts, "event_id": _eid(rng)})
        else:
            order = rng.choice(list(state.orders.values()))
            kinds = [k for (s, k) in TRANSITIONS if s is order.state]
            if not kinds or (kinds == [OrderFilled] and order.filled_qty == order.quantity):
                continue
            event = _order_event(rng, order, rng.choice(kinds), ts, counter)
        try:
            state.apply(event)
        except ModelError:
            continue  # e.g. a fill that would overfill; draw again
        events.append(event)
        if isinstance(event, OrderFilled):
            fills.append(event)
    return events


def _fields(event: OrderFilled) -> dict[str, object]:
    return {
        "client_order_id": event.client_order_id, "trade_id": event.trade_id, "price": event.price,
        "quantity": event.quantity, "fee": event.fee, "fee_asset": event.fee_asset,
        "liquidity": event.liquidity, "venue_order_id": event.venue_order_id,
    }


def fold(events: list[Event]) -> EngineState:
    """Apply `events` in order, numbering them 1..n as a journal would."""
    state = EngineState()
    for seq, event in enumerate(events, start=1):
        state.apply(event, seq=seq)
    return state


__all__ = ["INSTRUMENTS", "T0", "fold", "random_valid_events"]
