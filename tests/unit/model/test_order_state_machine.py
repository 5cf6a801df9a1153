"""The order state machine: the table, illegal pairs, fills that are never lost."""

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from nonstop.errors import IllegalTransition, Overfill
from nonstop.model import (
    TRANSITIONS,
    ClientOrderId,
    InstrumentId,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInDoubt,
    OrderIntent,
    OrderNeverSent,
    OrderRejected,
    OrderState,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)

TS = datetime(2026, 1, 1, tzinfo=UTC)
COID = ClientOrderId.build("a1", "mm", 1)
S = OrderState
ORDER_EVENT_TYPES = [OrderSubmitted, OrderAccepted, OrderRejected, OrderInDoubt, OrderFilled,
                     OrderCancelRequested, OrderCancelRejected, OrderCanceled, OrderExpired, OrderNeverSent]


def new_order(qty: str = "1.0") -> Order:
    return Order.from_intent(OrderIntent(
        ts=TS, client_order_id=COID, instrument_id=InstrumentId("binance-a", "BTC/USDT"), side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=Decimal(qty), price=Decimal("100")))


def ev(kind: type[OrderEvent], **kw: object) -> OrderEvent:
    defaults: dict[str, object] = {}
    if kind is OrderAccepted:
        defaults = {"venue_order_id": VenueOrderId("v1")}
    elif kind in (OrderRejected, OrderInDoubt, OrderCancelRejected, OrderNeverSent):
        defaults = {"reason": "r"}
    elif kind is OrderFilled:
        defaults = {"trade_id": TradeId("t1"), "price": Decimal("100"), "quantity": Decimal("0.4"),
                    "fee": Decimal(0), "fee_asset": "USDT"}
    return kind(ts=TS, client_order_id=COID, **{**defaults, **kw})  # type: ignore[arg-type]


def fill(trade: str, qty: str, price: str = "100") -> OrderFilled:
    return ev(OrderFilled, trade_id=TradeId(trade), quantity=Decimal(qty), price=Decimal(price))  # type: ignore[return-value]


def walk(*events: OrderEvent, order: Order | None = None) -> Order:
    o = order or new_order()
    for e in events:
        o = o.apply(e)
    return o


# Paths that reach each state (used to test every (state, event) pair).
PATHS: dict[OrderState, list[OrderEvent]] = {
    S.INITIALIZED: [],
    S.SUBMITTING: [ev(OrderSubmitted)],
    S.IN_DOUBT: [ev(OrderSubmitted), ev(OrderInDoubt)],
    S.ACCEPTED: [ev(OrderSubmitted), ev(OrderAccepted)],
    S.PARTIALLY_FILLED: [ev(OrderSubmitted), ev(OrderAccepted), fill("p1", "0.1")],
    S.PENDING_CANCEL: [ev(OrderSubmitted), ev(OrderAccepted), ev(OrderCancelRequested)],
    S.FILLED: [ev(OrderSubmitted), ev(OrderAccepted), fill("p1", "1.0")],
    S.CANCELED: [ev(OrderSubmitted), ev(OrderAccepted), ev(OrderCanceled)],
    S.REJECTED: [ev(OrderSubmitted), ev(OrderRejected)],
    S.EXPIRED: [ev(OrderSubmitted), ev(OrderAccepted), ev(OrderExpired)],
    S.NEVER_SENT: [ev(OrderSubmitted), ev(OrderInDoubt), ev(OrderNeverSent)],
}


def test_order_paths_reach_their_states() -> None:
    assert set(PATHS) == set(OrderState)
    for state, path in PATHS.items():
        assert walk(*path).state is state


@pytest.mark.parametrize(
    ("state", "kind"),
    [(s, k) for s in OrderState for k in ORDER_EVENT_TYPES if (s, k) not in TRANSITIONS],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_order_illegal_pair_raises_naming_state_event_and_order(state: OrderState, kind: type) -> None:
    order = walk(*PATHS[state])
    with pytest.raises(IllegalTransition) as info:
        order.apply(ev(kind, trade_id=TradeId("new")) if kind is OrderFilled else ev(kind))
    message = str(info.value)
    assert str(state) in message and kind.__name__ in message and COID.value in message


@pytest.mark.parametrize(("state", "kind"), [k for k in TRANSITIONS if k[0] is not S.FILLED],
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_order_legal_pair_is_accepted(state: OrderState, kind: type) -> None:
    order = walk(*PATHS[state])
    event = fill("new", "0.1") if kind is OrderFilled else ev(kind)
    after = order.apply(event)
    assert after is not order
    assert order.state is state  # the original is untouched


def test_order_happy_path_accumulates_fills_and_average_price() -> None:
    o = walk(ev(OrderSubmitted), ev(OrderAccepted), fill("t1", "0.4", "100"), fill("t2", "0.6", "110"))
    assert o.state is S.FILLED and o.filled_qty == Decimal("1.0") and o.leaves_qty == 0
    assert o.avg_price == Decimal("106") and o.venue_order_id == VenueOrderId("v1")


def test_order_fill_before_ack_is_accepted() -> None:
    o = walk(ev(OrderSubmitted), fill("t1", "0.4"))
    assert o.state is S.PARTIALLY_FILLED
    assert o.apply(ev(OrderCanceled)).state is S.CANCELED


def test_order_in_doubt_resolves_by_lookup_or_resend_with_same_id() -> None:
    doubt = walk(ev(OrderSubmitted), ev(OrderInDoubt))
    assert doubt.apply(ev(OrderAccepted)).state is S.ACCEPTED
    assert doubt.apply(fill("t1", "1.0")).state is S.FILLED
    assert doubt.apply(fill("t1", "0.5")).state is S.PARTIALLY_FILLED
    resent = doubt.apply(ev(OrderSubmitted))
    assert resent.state is S.SUBMITTING and resent.client_order_id == COID


def test_order_cancel_reject_returns_to_previous_state() -> None:
    o = walk(*PATHS[S.PARTIALLY_FILLED], ev(OrderCancelRequested))
    assert o.apply(ev(OrderCancelRejected)).state is S.PARTIALLY_FILLED
    o = walk(*PATHS[S.PENDING_CANCEL])
    assert o.apply(ev(OrderCancelRejected)).state is S.ACCEPTED


def test_order_fill_while_pending_cancel_updates_the_state_to_return_to() -> None:
    o = walk(*PATHS[S.PENDING_CANCEL], fill("t1", "0.3"))
    assert o.state is S.PENDING_CANCEL and o.filled_qty == Decimal("0.3")
    assert o.apply(ev(OrderCancelRejected)).state is S.PARTIALLY_FILLED
    assert o.apply(fill("t2", "0.7")).state is S.FILLED


def test_order_late_fill_on_canceled_order_is_counted_and_state_stays_canceled() -> None:
    o = walk(*PATHS[S.CANCELED], fill("late", "0.4"))
    assert o.state is S.CANCELED and o.filled_qty == Decimal("0.4") and TradeId("late") in o.trade_ids


def test_order_late_fill_completing_a_canceled_order_makes_it_filled() -> None:
    o = walk(*PATHS[S.CANCELED], fill("late", "1.0"))
    assert o.state is S.FILLED


def test_order_late_fill_on_rejected_order_reopens_it_as_partially_filled() -> None:
    assert walk(*PATHS[S.REJECTED], fill("x", "0.5")).state is S.PARTIALLY_FILLED


def test_order_repeated_trade_id_is_a_no_op_even_when_filled() -> None:
    o = walk(ev(OrderSubmitted), ev(OrderAccepted), fill("t1", "1.0"))
    assert o.apply(fill("t1", "1.0")) is o


@pytest.mark.parametrize("state", [S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCELED, S.FILLED, S.PENDING_CANCEL])
def test_order_overfill_raises_in_any_state(state: OrderState) -> None:
    o = walk(*PATHS[state])
    with pytest.raises(Overfill, match="exceed quantity"):
        o.apply(fill("big", "1.1"))


def test_order_event_for_another_order_raises() -> None:
    other = OrderSubmitted(ts=TS, client_order_id=ClientOrderId.build("a1", "mm", 2))
    with pytest.raises(IllegalTransition, match="is for order"):
        new_order().apply(other)


def test_order_terminal_states_flagged() -> None:
    assert {s for s in OrderState if s.is_terminal} == {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.NEVER_SENT}
    assert not S.INITIALIZED.is_open and S.IN_DOUBT.is_open and S.PENDING_CANCEL.is_open


def test_order_never_sent_is_terminal_and_a_late_fill_is_still_kept() -> None:
    closed = walk(*PATHS[S.NEVER_SENT])
    assert closed.state is S.NEVER_SENT and closed.state.is_terminal and not closed.state.is_open
    assert closed.reason == "r"
    late = closed.apply(fill("late", "0.4"))  # the venue evidently had it: the fill is never lost
    assert late.state is S.PARTIALLY_FILLED and late.filled_qty == Decimal("0.4")
    with pytest.raises(IllegalTransition):
        walk(*PATHS[S.ACCEPTED]).apply(ev(OrderNeverSent))  # only an in-doubt order can be closed unsent


def test_order_copies_keep_every_field_they_do_not_change() -> None:
    # `apply` copies through a generated slot copier: each transition must equal `dataclasses.replace`
    intent = OrderIntent(ts=TS, client_order_id=COID, instrument_id=InstrumentId("binance-a", "BTC/USDT"),
                         side=Side.SELL, order_type=OrderType.LIMIT, quantity=Decimal("2"), price=Decimal("7"),
                         reduce_only=True)
    made = Order.from_intent(intent)
    assert made == Order(client_order_id=COID, instrument_id=intent.instrument_id, side=Side.SELL,
                         order_type=OrderType.LIMIT, quantity=Decimal("2"), price=Decimal("7"),
                         time_in_force=intent.time_in_force, reduce_only=True, intent_ts=TS)
    submitted = made.apply(ev(OrderSubmitted))
    assert submitted == dataclasses.replace(made, state=S.SUBMITTING) and made.state is S.INITIALIZED
    accepted = submitted.apply(ev(OrderAccepted))
    pending = accepted.apply(ev(OrderCancelRequested))
    assert pending == dataclasses.replace(accepted, state=S.PENDING_CANCEL, previous_state=S.ACCEPTED)
    filled = pending.apply(fill("t9", "0.5", "8"))
    assert filled == dataclasses.replace(pending, previous_state=S.PARTIALLY_FILLED, filled_qty=Decimal("0.5"),
                                         filled_notional=Decimal("4.0"), trade_ids=frozenset({TradeId("t9")}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        filled.state = S.FILLED  # type: ignore[misc]
