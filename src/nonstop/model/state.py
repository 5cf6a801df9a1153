"""EngineState: the fold of the journal (invariant 4: replay gives the same state, byte for byte).

`EngineState` is the one mutable object of the model: it is the accumulator of the fold, and
replaying a million events through copies would be needlessly slow. Everything it holds is
immutable (orders, fill events, balances), and `apply` is all-or-nothing: it computes the new
order first and mutates only when every check passed, so a refused event leaves no trace.

What it holds:

- `orders`: every order by client order id (terminal ones too: a late fill must find them);
- `fills`: every `OrderFilled` by `<instrument id>|<trade id>` (venue trade ids are unique per
  instrument); a repeated key is a no-op, which is what de-duplicates fills;
- `positions`: net base quantity per instrument, from fills;
- `balances`: per venue, per asset, as last reported;
- `balance_pending`: per venue, the fills journaled since its last balance snapshot that the
  snapshot did not contain (the reconciler's baseline is `balances` plus these: exact, and the
  same after a restart, so a balance changed while the engine was down is found at start);
- `differences`: how many reconcile differences of each kind were recorded;
- `order_seq`: the highest client order sequence used per instance (seeds the id factory);
- `degradation`: the current degradation level, its reasons and since when (from the last
  `DegradationChanged`; None until the first one, i.e. "normal");
- `halt`: the kill switch, from the last `TradingHalted` until a `TradingResumed` (None: not halted);
- `last_seq`: the journal sequence number of the last event applied;
- `archived_seq` / `archived_orders`: per id series (the instance; `<instance>:wd` for the
  watchdog's own orders, which count their own sequence), the highest client order sequence of an order
  archived out of the state (`OrdersArchived`), and how many were; an intent at or below it is
  refused, so an archived client order id can never be used again. A state built with
  `history=True` ignores `OrdersArchived` (every order stays: exports, audits);
- `carried`: the books of the archived fills (`nonstop.model.carried`): a filled order leaves the
  state with its fills, and every fill figure starts from these books (same figures, to the digit).

`canonical_json()` is sorted-key, whitespace-free JSON of `to_dict()`; `state_hash()` is its
sha256. Two states are the same state exactly when their hashes are equal. The `degradation` key
(and `balance_pending`, `halt`, `carried`) is present only once it has content, so states (and snapshots) from before it
existed keep their exact bytes and hash, and load unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from nonstop.errors import IllegalTransition, ModelError, UnknownOrder
from nonstop.model.balance import Balance
from nonstop.model.carried import Carried
from nonstop.model.codec import canonical_json, decode_datetime, decode_decimal, encode_datetime, parse_instrument
from nonstop.model.events import (
    DEGRADATION_LEVELS,
    AlertRecorded,
    BalanceChanged,
    BalanceSnapshot,
    BreakerChanged,
    DegradationChanged,
    Event,
    JournalCopied,
    JournalOutage,
    OrderEvent,
    OrderFilled,
    OrderIntent,
    OrdersArchived,
    ReconcileDifference,
    RouteDecided,
    TradingHalted,
    TradingResumed,
    VenueIdentified,
    event_from_dict,
)
from nonstop.model.identifiers import ClientOrderId, InstrumentId, TradeId, VenueOrderId
from nonstop.model.instrument import OrderType, Side, TimeInForce
from nonstop.model.order import Order, OrderState

STATE_SCHEMA_VERSION = 1
CheckedOrder = tuple[Order | None, Order]  # (the order an event was validated against, the order it makes)


@dataclass(frozen=True, slots=True)
class DegradationState:
    """The degradation level the engine last recorded (a label of `DEGRADATION_LEVELS`)."""

    level: str
    reasons: tuple[str, ...]
    since: datetime

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "reasons": list(self.reasons), "since": encode_datetime(self.since)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DegradationState:
        if d["level"] not in DEGRADATION_LEVELS or not all(isinstance(r, str) for r in d["reasons"]):
            raise ModelError(f"malformed degradation state {d!r}")
        return cls(str(d["level"]), tuple(d["reasons"]), decode_datetime(d["since"]))


@dataclass(frozen=True, slots=True)
class HaltState:
    """The kill switch as last journaled: why, by whom, since when (None in the state: not halted)."""

    reason: str
    source: str
    since: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "source": self.source, "since": encode_datetime(self.since)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HaltState:
        return cls(str(d["reason"]), str(d["source"]), decode_datetime(d["since"]))


def fill_key(instrument_id: InstrumentId, trade_id: TradeId) -> str:
    """The ledger key of a fill: trade ids are unique per instrument on a venue."""
    return f"{instrument_id}|{trade_id}"


def order_to_dict(order: Order) -> dict[str, Any]:
    data = {
        "client_order_id": order.client_order_id.value,
        "instrument_id": str(order.instrument_id),
        "side": order.side.value,
        "order_type": order.order_type.value,
        "quantity": str(order.quantity),
        "price": None if order.price is None else str(order.price),
        "time_in_force": order.time_in_force.value,
        "reduce_only": order.reduce_only,
        "state": order.state.value,
        "venue_order_id": None if order.venue_order_id is None else order.venue_order_id.value,
        "filled_qty": str(order.filled_qty),
        "filled_notional": str(order.filled_notional),
        "trade_ids": sorted(t.value for t in order.trade_ids),
        "previous_state": None if order.previous_state is None else order.previous_state.value,
        "reason": order.reason,
    }
    if order.intent_ts is not None:  # absent in states from before it existed: their bytes stay the same
        data["intent_ts"] = encode_datetime(order.intent_ts)
    return data


def order_from_dict(d: dict[str, Any]) -> Order:
    return Order(
        client_order_id=ClientOrderId(d["client_order_id"]),
        instrument_id=parse_instrument(d["instrument_id"]),
        side=Side(d["side"]),
        order_type=OrderType(d["order_type"]),
        quantity=decode_decimal(d["quantity"]),
        price=None if d["price"] is None else decode_decimal(d["price"]),
        time_in_force=TimeInForce(d["time_in_force"]),
        reduce_only=bool(d["reduce_only"]),
        state=OrderState(d["state"]),
        venue_order_id=None if d["venue_order_id"] is None else VenueOrderId(d["venue_order_id"]),
        filled_qty=decode_decimal(d["filled_qty"]),
        filled_notional=decode_decimal(d["filled_notional"]),
        trade_ids=frozenset(TradeId(t) for t in d["trade_ids"]),
        previous_state=None if d["previous_state"] is None else OrderState(d["previous_state"]),
        reason=str(d["reason"]),
        intent_ts=decode_datetime(d["intent_ts"]) if d.get("intent_ts") is not None else None,
    )


class EngineState:
    """The engine's state as the fold of its events; see the module docstring."""

    def __init__(self, *, history: bool = False) -> None:
        self.history = history  # True: OrdersArchived removes nothing (a full-history view)
        self.orders: dict[str, Order] = {}
        self.fills: dict[str, OrderFilled] = {}
        self.positions: dict[str, Decimal] = {}
        self.balances: dict[str, dict[str, Balance]] = {}
        self.differences: dict[str, int] = {}
        self.order_seq: dict[str, int] = {}
        self.degradation: DegradationState | None = None
        self.halt: HaltState | None = None  # the kill switch (TradingHalted until TradingResumed)
        self.venue_accounts: dict[str, dict[str, str]] = {}  # venue -> exchange, network, account
        self.balance_pending: dict[str, list[str]] = {}  # appended in place (copy() copies the lists)
        self.archived_seq: dict[str, int] = {}  # instance -> highest archived client order sequence
        self.archived_orders = 0
        self.carried = Carried()  # the books of the archived fills (model/carried.py)
        self.last_seq = 0

    # -- the fold -----------------------------------------------------------------------------

    def apply(self, event: Event, *, seq: int | None = None, checked: CheckedOrder | None = None) -> None:
        """Fold one event in; `seq` is its journal sequence number (must increase).

        `checked` (order events only): `(before, after)` as a caller that validated `event` computed
        it, `after` being `before.apply(event)` (`Order.from_intent(event)` for an intent, `before`
        None). The fold takes `after` instead of applying the event again only while `before` is the
        very order object this state holds for that id: `apply` is pure, so it would compute the
        same order; otherwise the event is applied as usual. Every other check still runs.

        Raises IllegalTransition / Overfill / UnknownOrder / ModelError and then changes nothing.
        """
        if seq is not None and seq <= self.last_seq:
            raise ModelError(f"event seq {seq} is not after the last applied seq {self.last_seq}")
        if isinstance(event, OrderEvent):
            self._apply_order_event(event, checked)
        elif isinstance(event, BalanceSnapshot):
            self.balances[event.venue] = {b.asset: b for b in event.balances}
            included = None if event.includes is None else set(event.includes)
            left = [] if included is None else [
                k for k in self.balance_pending.get(event.venue, ()) if k not in included]
            if left:
                self.balance_pending[event.venue] = left
            else:
                self.balance_pending.pop(event.venue, None)
        elif isinstance(event, BalanceChanged):
            venue = self.balances.setdefault(event.venue, {})
            venue[event.asset] = Balance(event.asset, event.free, event.locked)
        elif isinstance(event, ReconcileDifference):
            self.differences[event.kind.value] = self.differences.get(event.kind.value, 0) + 1
        elif isinstance(event, DegradationChanged):
            self.degradation = DegradationState(event.new, event.reasons, event.ts)
        elif isinstance(event, TradingHalted):
            self.halt = HaltState(event.reason, event.source, event.ts)
        elif isinstance(event, TradingResumed):
            self.halt = None
        elif isinstance(event, JournalCopied):
            for instance, used in event.order_seq_map().items():
                self.order_seq[instance] = max(self.order_seq.get(instance, 0), used)
        elif isinstance(event, VenueIdentified):
            self.venue_accounts[event.venue] = {
                "exchange": event.exchange, "network": event.network, "account": event.account
            }
        elif isinstance(event, OrdersArchived):
            if not self.history:
                self._archive(event)
        elif isinstance(event, AlertRecorded | BreakerChanged | JournalOutage | RouteDecided):
            pass  # the alert history is the journal itself; the trading state does not change
        else:
            raise ModelError(f"EngineState cannot fold event type {type(event).__name__}")
        if seq is not None:
            self.last_seq = seq

    def _archive(self, event: OrdersArchived) -> None:
        pending = {k for keys in self.balance_pending.values() for k in keys}
        orders = []
        for key in event.client_order_ids:  # all checked first: a refused event changes nothing
            order = self.orders.get(key)
            why = self.unarchivable(order, pending)
            if why:
                raise ModelError(f"OrdersArchived {event.event_id}: order {key} {why}; "
                                 "only finished orders whose fills a balance snapshot has seen are archived")
            assert order is not None
            orders.append(order)
        archived_fills = []
        for order in orders:
            coid = order.client_order_id
            del self.orders[coid.value]
            for trade_id in order.trade_ids:
                fkey = fill_key(order.instrument_id, trade_id)
                archived_fills.append((fkey, self.fills.pop(fkey), order))
            if coid.seq > self.archived_seq.get(coid.series, 0):
                self.archived_seq[coid.series] = coid.seq
        self.archived_orders += len(orders)
        if archived_fills:
            self.carried.fold(archived_fills)

    def unarchivable(self, order: Order | None, pending: set[str]) -> str | None:
        """Why `order` may not be archived (None: it may): unknown, not finished, a fill missing from
        the state (folded in the same batch) or one a balance snapshot has not seen yet (`pending`:
        every key of `balance_pending`; the reconciler's baseline needs it)."""
        if order is None:
            return "is unknown"
        if not order.state.is_terminal:
            return f"is {order.state}"
        for trade_id in order.trade_ids:
            fkey = fill_key(order.instrument_id, trade_id)
            if fkey not in self.fills:
                return f"has fill {fkey} not in the state"
            if fkey in pending:
                return f"has fill {fkey} pending a balance snapshot"
        return None

    def is_archived(self, client_order_id: ClientOrderId) -> bool:
        """True for an id at or below its instance's archive watermark that is not a live order
        (it was archived, or it is older than what was: either way it is never used again)."""
        return (bool(self.archived_seq) and client_order_id.value not in self.orders  # (nothing archived yet: no parse)
                and client_order_id.seq <= self.archived_seq.get(client_order_id.series, 0))

    def _apply_order_event(self, event: OrderEvent, checked: CheckedOrder | None) -> None:
        key = event.client_order_id.value
        if isinstance(event, OrderIntent):
            if key in self.orders:
                raise IllegalTransition(f"order {key}: OrderIntent for an order that already exists")
            if self.is_archived(event.client_order_id):
                raise IllegalTransition(f"order {key}: OrderIntent reuses the client order id of an archived order")
            made = checked[1] if checked is not None and checked[0] is None else None
            if made is None or made.client_order_id is not event.client_order_id:  # not built from this intent
                made = Order.from_intent(event)
            self.orders[key] = made
            coid = event.client_order_id
            if coid.seq > self.order_seq.get(coid.instance, 0):
                self.order_seq[coid.instance] = coid.seq
            return
        order = self.orders.get(key)
        if order is None:
            raise UnknownOrder(f"event {type(event).__name__} {event.event_id} names unknown order {key}")
        new = checked[1] if checked is not None and checked[0] is order else None
        if isinstance(event, OrderFilled):
            fkey = fill_key(order.instrument_id, event.trade_id)
            if fkey in self.fills:
                return  # the same execution reported again
            if new is None:
                new = order.apply(event)
            self.fills[fkey] = event
            venue = order.instrument_id.venue
            self.balance_pending.setdefault(venue, []).append(fkey)
            inst = str(order.instrument_id)
            self.positions[inst] = self.positions.get(inst, Decimal(0)) + order.side.sign * event.quantity
        elif new is None:
            new = order.apply(event)
        self.orders[key] = new

    # -- queries ------------------------------------------------------------------------------

    def order(self, client_order_id: ClientOrderId | str) -> Order:
        key = client_order_id if isinstance(client_order_id, str) else client_order_id.value
        try:
            return self.orders[key]
        except KeyError:
            raise UnknownOrder(f"unknown order {key}") from None

    def open_orders(self) -> list[Order]:
        """Orders that may be live on a venue (SUBMITTING, IN_DOUBT, ACCEPTED, ...)."""
        return [o for o in self.orders.values() if o.state.is_open]

    def in_doubt(self) -> list[Order]:
        return [o for o in self.orders.values() if o.state is OrderState.IN_DOUBT]

    def max_order_seq(self, instance: str) -> int:
        """The highest client order sequence number `instance` has used (0 if none)."""
        return self.order_seq.get(instance, 0)

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": STATE_SCHEMA_VERSION,
            "last_seq": self.last_seq,
            "orders": {k: order_to_dict(o) for k, o in self.orders.items()},
            "fills": {k: f.to_dict() for k, f in self.fills.items()},
            "positions": {k: str(v) for k, v in self.positions.items()},
            "balances": {
                venue: {a: {"free": str(b.free), "locked": str(b.locked)} for a, b in assets.items()}
                for venue, assets in self.balances.items()
            },
            "differences": dict(self.differences),
            "order_seq": dict(self.order_seq),
        }
        if self.degradation is not None:  # absent until the first change: older states keep their hash
            data["degradation"] = self.degradation.to_dict()
        if self.halt is not None:  # likewise
            data["halt"] = self.halt.to_dict()
        if self.venue_accounts:  # absent until a venue is identified: older states keep their hash
            data["venue_accounts"] = {v: dict(a) for v, a in self.venue_accounts.items()}
        if self.balance_pending:  # likewise
            data["balance_pending"] = {v: list(keys) for v, keys in self.balance_pending.items()}
        if self.archived_orders:  # likewise
            data["archived"] = {"orders": self.archived_orders, "seq": dict(self.archived_seq)}
        if self.carried.fills:  # likewise
            data["carried"] = self.carried.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineState:
        """Rebuild a state from `to_dict()` output; raises ModelError if it is malformed."""
        if not isinstance(data, dict) or data.get("v") != STATE_SCHEMA_VERSION:
            raise ModelError(f"state schema version {data.get('v') if isinstance(data, dict) else None!r} "
                             f"is not supported (expected {STATE_SCHEMA_VERSION})")
        state = cls()
        try:
            state.last_seq = int(data["last_seq"])
            state.orders = {k: order_from_dict(v) for k, v in data["orders"].items()}
            state.fills = {k: cast(OrderFilled, event_from_dict(v)) for k, v in data["fills"].items()}
            state.positions = {k: decode_decimal(v) for k, v in data["positions"].items()}
            state.balances = {
                venue: {
                    a: Balance(a, decode_decimal(b["free"]), decode_decimal(b["locked"]))
                    for a, b in assets.items()
                }
                for venue, assets in data["balances"].items()
            }
            state.differences = {k: int(v) for k, v in data["differences"].items()}
            state.order_seq = {k: int(v) for k, v in data["order_seq"].items()}
            if "degradation" in data:
                state.degradation = DegradationState.from_dict(data["degradation"])
            if "halt" in data:
                state.halt = HaltState.from_dict(data["halt"])
            state.venue_accounts = {
                str(v): {k: str(a[k]) for k in ("exchange", "network", "account")}
                for v, a in data.get("venue_accounts", {}).items()
            }
            state.balance_pending = {
                v: [str(k) for k in keys] for v, keys in data.get("balance_pending", {}).items()
            }
            archived = data.get("archived", {"orders": 0, "seq": {}})
            state.archived_orders = int(archived["orders"])
            state.archived_seq = {str(k): int(v) for k, v in archived["seq"].items()}
            if "carried" in data:
                state.carried = Carried.from_dict(data["carried"])
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ModelError(f"malformed state: {type(err).__name__}: {err}") from None
        return state

    def canonical_json(self) -> str:
        """Sorted-key, whitespace-free, ASCII JSON of `to_dict()`: the bytes the hash covers."""
        return canonical_json(self.to_dict())

    def state_hash(self) -> str:
        """sha256 (hex) of `canonical_json()`."""
        return hashlib.sha256(self.canonical_json().encode("ascii")).hexdigest()

    def copy(self) -> EngineState:
        """An independent copy (values are immutable, so the dicts are copied one level deep)."""
        other = EngineState()
        other.orders = dict(self.orders)
        other.fills = dict(self.fills)
        other.positions = dict(self.positions)
        other.balances = {v: dict(a) for v, a in self.balances.items()}
        other.differences = dict(self.differences)
        other.order_seq = dict(self.order_seq)
        other.degradation = self.degradation
        other.halt = self.halt
        other.venue_accounts = {v: dict(a) for v, a in self.venue_accounts.items()}
        other.balance_pending = {v: list(keys) for v, keys in self.balance_pending.items()}
        other.history = self.history
        other.archived_seq = dict(self.archived_seq)
        other.archived_orders = self.archived_orders
        other.carried = self.carried.copy()
        other.last_seq = self.last_seq
        return other

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EngineState) and self.canonical_json() == other.canonical_json()

    __hash__ = None  # type: ignore[assignment]  # mutable
