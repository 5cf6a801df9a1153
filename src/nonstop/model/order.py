"""The order and its state machine: an order changes only through `order.apply(event)`.

`apply` looks the pair `(state, event type)` up in `TRANSITIONS` and returns a NEW order;
a pair that is not in the table raises `IllegalTransition` naming the state, the event and
the order. A stale "open" report therefore can never reopen a closed order.

::

    INITIALIZED ──Submitted──▶ SUBMITTING ──Accepted──▶ ACCEPTED ──Filled──▶ PARTIALLY_FILLED ──▶ FILLED
         │ Rejected                 │  │ InDoubt            │ CancelRequested        │
         ▼                          │  ▼                    ▼                        ▼
      REJECTED            IN_DOUBT ◀┘  (lookup: Accepted / Filled / Canceled / Rejected / Expired,
                                        or Submitted again with the SAME client id: a resend)
                          PENDING_CANCEL ──Canceled──▶ CANCELED;  ──CancelRejected──▶ the state before
                          IN_DOUBT ──NeverSent──▶ NEVER_SENT  (unknown after recvWindow, intent too old
                                                               to resend: closed locally, never sent)

Fills are never lost (the decision, and why):

- a fill is accepted in every state from SUBMITTING on: a fill can arrive before the ack
  (websocket before REST), while IN_DOUBT (it settles the doubt: the venue has the order), and
  while PENDING_CANCEL (the cancel raced an execution);
- a fill on a CANCELED, EXPIRED, REJECTED or NEVER_SENT order is a *late fill*: it happened on the venue
  before the cancel/expiry took effect (or our reading of the venue was wrong). It is accepted,
  counted in `filled_qty` and kept in the ledger. If it completes the quantity the order
  becomes FILLED (nothing was left to cancel: the "canceled" report was wrong, and believing it
  is how bots re-place filled orders); otherwise a CANCELED/EXPIRED order stays so, and a
  REJECTED or NEVER_SENT one becomes PARTIALLY_FILLED (the venue evidently had it);
- a repeated trade id is a no-op (the same order is returned), so duplicate reports from
  websocket and REST are harmless;
- a fill that would take `filled_qty` above `quantity` raises `Overfill`, in any state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, cast

from nonstop.errors import IllegalTransition, Overfill
from nonstop.model.events import (
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
    OrderSubmitted,
)
from nonstop.model.identifiers import ClientOrderId, InstrumentId, TradeId, VenueOrderId
from nonstop.model.instrument import OrderType, Side, TimeInForce


class OrderState(StrEnum):
    INITIALIZED = "INITIALIZED"
    SUBMITTING = "SUBMITTING"
    IN_DOUBT = "IN_DOUBT"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    NEVER_SENT = "NEVER_SENT"  # closed locally: the venue never got it and the intent is too old to send

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """True while the order may be (or become) live on the venue."""
        return self not in _TERMINAL and self is not OrderState.INITIALIZED


_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED,
                       OrderState.NEVER_SENT})

S = OrderState
# Targets computed by `apply`: a fill goes to PARTIALLY_FILLED or FILLED, a cancel reject back.
BY_FILL = "BY_FILL"
PREVIOUS = "PREVIOUS"

TRANSITIONS: dict[tuple[OrderState, type[OrderEvent]], OrderState | str] = {
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTING,
    (S.INITIALIZED, OrderRejected): S.REJECTED,  # denied by pre-trade risk, never sent
    (S.SUBMITTING, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTING, OrderRejected): S.REJECTED,
    (S.SUBMITTING, OrderInDoubt): S.IN_DOUBT,
    (S.SUBMITTING, OrderFilled): BY_FILL,
    (S.SUBMITTING, OrderCanceled): S.CANCELED,
    (S.SUBMITTING, OrderExpired): S.EXPIRED,
    (S.IN_DOUBT, OrderAccepted): S.ACCEPTED,
    (S.IN_DOUBT, OrderFilled): BY_FILL,
    (S.IN_DOUBT, OrderCanceled): S.CANCELED,
    (S.IN_DOUBT, OrderRejected): S.REJECTED,
    (S.IN_DOUBT, OrderExpired): S.EXPIRED,
    (S.IN_DOUBT, OrderSubmitted): S.SUBMITTING,  # lookup says "never seen": resend, same id
    (S.IN_DOUBT, OrderNeverSent): S.NEVER_SENT,  # "never seen", and too old to resend
    (S.ACCEPTED, OrderFilled): BY_FILL,
    (S.ACCEPTED, OrderCancelRequested): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,  # unsolicited: venue-side cancel
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): BY_FILL,
    (S.PARTIALLY_FILLED, OrderCancelRequested): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderCancelRejected): PREVIOUS,
    (S.PENDING_CANCEL, OrderFilled): BY_FILL,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    # late fills on terminal orders (see the module docstring)
    (S.CANCELED, OrderFilled): BY_FILL,
    (S.EXPIRED, OrderFilled): BY_FILL,
    (S.REJECTED, OrderFilled): BY_FILL,
    (S.NEVER_SENT, OrderFilled): BY_FILL,
    (S.FILLED, OrderFilled): BY_FILL,  # only a repeated trade id passes; anything else overfills
}


@dataclass(frozen=True, slots=True)
class Order:
    """One order as we know it. Immutable: `apply` returns a new one."""

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce
    reduce_only: bool = False
    state: OrderState = OrderState.INITIALIZED
    venue_order_id: VenueOrderId | None = None
    filled_qty: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    trade_ids: frozenset[TradeId] = frozenset()
    previous_state: OrderState | None = None  # the state to return to on a cancel reject
    reason: str = ""  # last reject / in-doubt / cancel reason
    intent_ts: datetime | None = None  # when the order was decided (its OrderIntent's ts)

    @classmethod
    def from_intent(cls, intent: OrderIntent) -> Order:
        return _evolve(_INITIAL, {  # type: ignore[arg-type]  # every field without a default is given
            "client_order_id": intent.client_order_id,
            "instrument_id": intent.instrument_id,
            "side": intent.side,
            "order_type": intent.order_type,
            "quantity": intent.quantity,
            "price": intent.price,
            "time_in_force": intent.time_in_force,
            "reduce_only": intent.reduce_only,
            "intent_ts": intent.ts,
        })

    @property
    def leaves_qty(self) -> Decimal:
        """Quantity not yet filled (zero for a terminal order that will not trade again)."""
        return Decimal(0) if self.state.is_terminal else self.quantity - self.filled_qty

    @property
    def avg_price(self) -> Decimal | None:
        return self.filled_notional / self.filled_qty if self.filled_qty else None

    def can_apply(self, event: OrderEvent) -> bool:
        """True if `apply(event)` would succeed."""
        try:
            self.apply(event)
        except IllegalTransition:
            return False
        return True

    def apply(self, event: OrderEvent) -> Order:
        """The order after `event`; raises IllegalTransition (or Overfill) and changes nothing."""
        if event.client_order_id != self.client_order_id:
            raise IllegalTransition(
                f"order {self.client_order_id}: event {type(event).__name__} "
                f"is for order {event.client_order_id}"
            )
        if isinstance(event, OrderFilled) and event.trade_id in self.trade_ids:
            return self  # a repeated report of a fill we already have
        target = TRANSITIONS.get((self.state, type(event)))
        if target is None:
            raise IllegalTransition(
                f"order {self.client_order_id}: event {type(event).__name__} "
                f"is not allowed in state {self.state}"
            )
        if isinstance(event, OrderFilled):
            return self._fill(event)
        changes: dict[str, object] = {}
        if target == PREVIOUS:
            changes["state"] = self.previous_state or OrderState.ACCEPTED
            changes["previous_state"] = None
        else:
            changes["state"] = target
        if target is OrderState.PENDING_CANCEL:
            changes["previous_state"] = self.state
        if isinstance(event, OrderAccepted):
            changes["venue_order_id"] = event.venue_order_id
        reason = getattr(event, "reason", None)
        if reason:
            changes["reason"] = reason
        return _evolve(self, changes)

    def _fill(self, event: OrderFilled) -> Order:
        filled = self.filled_qty + event.quantity
        if filled > self.quantity:
            raise Overfill(
                f"order {self.client_order_id}: fill {event.trade_id} of {event.quantity} "
                f"in state {self.state} "
                f"would make filled {filled} exceed quantity {self.quantity}"
            )
        complete = filled == self.quantity
        state = self.state
        previous = self.previous_state
        if complete:
            state, previous = OrderState.FILLED, None
        elif state is OrderState.PENDING_CANCEL:
            previous = OrderState.PARTIALLY_FILLED
        elif state in (OrderState.CANCELED, OrderState.EXPIRED):
            pass  # a late partial fill: counted, the order stays closed
        else:
            state = OrderState.PARTIALLY_FILLED
        return _evolve(self, {
            "state": state,
            "previous_state": previous,
            "filled_qty": filled,
            "filled_notional": self.filled_notional + event.price * event.quantity,
            "trade_ids": self.trade_ids | {event.trade_id},
            "venue_order_id": self.venue_order_id or event.venue_order_id,
        })



def _copier() -> Callable[[Order, dict[str, object]], Order]:
    """`_evolve(order, changes)`: a copy of `order` with `changes`, as `dataclasses.replace` makes it,
    without its per-call field introspection and `__init__` (Order has no `__post_init__` to skip).

    Generated once, as `dataclasses` generates `__init__`: one line per field, each set through its
    slot descriptor (what `object.__setattr__` does for a frozen class, without looking the name
    up). Validating every order event makes one of these, and a loop over the names cost twice as
    much (recorder benchmark)."""
    names = [f.name for f in dataclasses.fields(Order)]
    env: dict[str, Any] = {"new": object.__new__, "Order": Order}
    lines = ["def _evolve(order, changes):", "    copy = new(Order)", "    get = changes.get"]
    for i, name in enumerate(names):
        env[f"set_{i}"] = getattr(Order, name).__set__  # the slot's member descriptor
        lines.append(f"    set_{i}(copy, get({name!r}, order.{name}))")
    lines.append("    return copy")
    exec("\n".join(lines), env)  # trusted text, built from Order's own field names
    return cast(Callable[[Order, dict[str, object]], Order], env["_evolve"])


def _defaults() -> SimpleNamespace:
    """The defaults of a new order, read by `_evolve` in `from_intent` (which gives every field
    without a default)."""
    defaults: dict[str, object] = {}
    for f in dataclasses.fields(Order):
        if f.default_factory is not dataclasses.MISSING:  # one value would serve every new order
            raise TypeError(f"Order.{f.name}: from_intent takes plain defaults, not a default factory")
        defaults[f.name] = None if f.default is dataclasses.MISSING else f.default
    return SimpleNamespace(**defaults)


_evolve = _copier()
_INITIAL = _defaults()
