"""Events: immutable facts, each with an id and a UTC timestamp; the journal stores them.

Commands that must be durable before they take effect are events too: `OrderIntent` (the
order, with its client order id, decided), `OrderSubmitted` (its bytes are about to leave for
the venue) and `OrderCancelRequested`. The order manager appends them, waits for durability,
then acts (invariant 1).

Encoding (`to_dict` / `event_from_dict`) is versioned: every dict carries `"v"` (the schema
version, `EVENT_SCHEMA_VERSION`) and `"type"` (the class name); field encoding is described in
`nonstop.model.codec`. Decoding refuses unknown versions, types and keys.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from nonstop.errors import ModelError
from nonstop.model.balance import Balance
from nonstop.model.codec import check_fields, decode_fields, encode_fields
from nonstop.model.identifiers import ClientOrderId, InstrumentId, TradeId, VenueOrderId
from nonstop.model.instrument import Liquidity, OrderType, Side, TimeInForce

EVENT_SCHEMA_VERSION = 1

_REGISTRY: dict[str, type[Event]] = {}
_ENVELOPE = frozenset({"v", "type"})


def new_event_id() -> str:
    """A random 128-bit event id (hex)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Base of every event: `ts` is when it happened (UTC), `event_id` names it uniquely."""

    ts: datetime
    event_id: str = field(default_factory=new_event_id)

    @property
    def type_name(self) -> str:
        """The stable type name stored in the journal (the class name)."""
        return type(self).__name__

    def __post_init__(self) -> None:
        check_fields(self)
        self._check()

    def _check(self) -> None:
        """The rules beyond the field types; each subclass with rules of its own extends it. Run by
        the constructor and by `event_from_dict` (which skips only the type checks it has done)."""
        if not self.event_id:
            raise ModelError(f"{type(self).__name__}.event_id must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """The stable, versioned JSON-able form of this event."""
        data = encode_fields(self)
        data["v"] = EVENT_SCHEMA_VERSION
        data["type"] = type(self).__name__
        return data


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output; raises ModelError naming what is wrong."""
    if not isinstance(data, dict):
        raise ModelError(f"an event must be a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if version != EVENT_SCHEMA_VERSION:
        raise ModelError(
            f"event schema version {version!r} is not supported (expected {EVENT_SCHEMA_VERSION})"
        )
    type_name = data.get("type")
    cls = _REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise ModelError(f"unknown event type {type_name!r}")
    kwargs = decode_fields(cls, data, _ENVELOPE)
    return _from_decoded(cls, kwargs)


def _from_decoded(cls: type[Event], kwargs: dict[str, Any]) -> Event:
    """`cls(**kwargs)` without the constructor's type checks: `decode_fields` has already checked
    every field strictly (a replay decodes a million events; the checks were half the cost).
    The class's own rules (`_check`) still run; a field absent from an older payload gets its default."""
    event = object.__new__(cls)
    for name, default, factory in _defaults(cls):
        if name in kwargs:
            value = kwargs[name]
        elif factory is not None:
            value = factory()
        elif default is not dataclasses.MISSING:
            value = default
        else:
            raise ModelError(f"{cls.__name__}: missing key {name!r}")
        object.__setattr__(event, name, value)
    event._check()
    return event


_DEFAULTS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}


def _defaults(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, default factory) per field of an event class (cached)."""
    cached = _DEFAULTS.get(cls)
    if cached is None:
        cached = _DEFAULTS[cls] = tuple(
            (f.name, f.default, None if f.default_factory is dataclasses.MISSING else f.default_factory)
            for f in dataclasses.fields(cls))
    return cached


def event_types() -> dict[str, type[Event]]:
    """Every concrete event class by its type name."""
    return dict(_REGISTRY)


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderEvent(Event):
    """An event about one order, named by its client order id."""

    client_order_id: ClientOrderId


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderIntent(OrderEvent):
    """The decision to place an order; journaled before anything else happens to it."""

    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False

    def _check(self) -> None:
        Event._check(self)
        if self.quantity <= 0:
            raise ModelError(f"OrderIntent {self.client_order_id}: quantity {self.quantity} must be > 0")
        if self.order_type is OrderType.MARKET:
            if self.price is not None:
                raise ModelError(f"OrderIntent {self.client_order_id}: a MARKET order has no price")
        elif self.price is None or self.price <= 0:
            raise ModelError(
                f"OrderIntent {self.client_order_id}: a {self.order_type} order needs a price > 0"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderSubmitted(OrderEvent):
    """The order is about to be sent (first send, or a resend with the same id after IN_DOUBT)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderAccepted(OrderEvent):
    """The venue acknowledged the order (or a lookup found it open)."""

    venue_order_id: VenueOrderId


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderRejected(OrderEvent):
    """The venue refused the order, or pre-trade risk denied it before it was sent."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderInDoubt(OrderEvent):
    """The submit outcome is unknown (timeout, reset after send, 5xx); resolve by lookup."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderNeverSent(OrderEvent):
    """Closed locally: the venue provably never got it (unknown after its recvWindow) and its intent
    is too old to send now (older than `max_resend_age_s`); the strategy decides afresh."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderFilled(OrderEvent):
    """One execution. `trade_id` is unique per instrument on a venue; repeats are no-ops."""

    trade_id: TradeId
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity = Liquidity.UNKNOWN
    venue_order_id: VenueOrderId | None = None

    def _check(self) -> None:
        Event._check(self)
        if self.quantity <= 0 or self.price <= 0:
            raise ModelError(
                f"OrderFilled {self.client_order_id} trade {self.trade_id}: price {self.price} and "
                f"quantity {self.quantity} must be > 0"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderCancelRequested(OrderEvent):
    """A cancel is about to be sent."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderCancelRejected(OrderEvent):
    """The venue refused the cancel; the order goes back to the state it had."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderCanceled(OrderEvent):
    """The order is canceled on the venue (by us, by the venue, or found so by a lookup)."""

    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderExpired(OrderEvent):
    """The venue expired the order (time in force, IOC/FOK remainder, self-trade prevention)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BalanceSnapshot(Event):
    """Every balance of one venue; replaces what the state held for it.

    `includes` names the fills (`fill_key`s) journaled since the venue's previous snapshot that
    these balances already contain; fills journaled since then but not named stay *pending*: the
    next comparison adds them to these balances (see `EngineState.balance_pending`). None (older
    journals) means every fill journaled before it.
    """

    venue: str
    balances: tuple[Balance, ...]
    includes: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BalanceChanged(Event):
    """One asset's balance on one venue changed."""

    venue: str
    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)


class DifferenceKind(StrEnum):
    MISSED_FILL = "MISSED_FILL"  # the venue has a fill we had not recorded
    ORDER_GONE = "ORDER_GONE"  # an order we thought open is not on the venue
    UNKNOWN_ORDER = "UNKNOWN_ORDER"  # an order with our prefix that we have no record of
    STATE_MISMATCH = "STATE_MISMATCH"  # the venue reports another status than ours
    BALANCE_DRIFT = "BALANCE_DRIFT"  # venue balance differs from ours beyond tolerance
    WATCHDOG_ORDER = "WATCHDOG_ORDER"  # an order the watchdog sent while we were silent (taken in)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReconcileDifference(Event):
    """A difference found by reconciliation; the corrective events follow it in the journal."""

    venue: str
    kind: DifferenceKind
    detail: str
    client_order_id: ClientOrderId | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertRecorded(Event):
    """One step in an alert's life (raised, escalated, sent, resolved, ...), kept for the record.

    The engine's state ignores it: alert history lives in the journal, not in the fold.
    """

    key: str
    level: str
    transition: str
    title: str = ""
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalCopied(Event):
    """This journal is a copy of records 1..`upto_seq` of `source` (`nonstop journal copy`).

    `order_seqs` are `instance=seq` texts: the highest client order sequence the source may have
    used (beyond `upto_seq` too), so the copy never hands out a client order id twice.
    """

    source: str
    upto_seq: int
    order_seqs: tuple[str, ...] = ()

    def _check(self) -> None:
        Event._check(self)
        for item in self.order_seqs:
            instance, sep, seq = item.partition("=")
            if not sep or not instance or not seq.isdigit():
                raise ModelError(f"JournalCopied.order_seqs item {item!r} must look like instance=seq")

    def order_seq_map(self) -> dict[str, int]:
        return {i: int(s) for i, _, s in (item.partition("=") for item in self.order_seqs)}


DEGRADATION_LEVELS = ("normal", "reduced_data", "fallback_strategy", "reduce_only", "halted")


@dataclass(frozen=True, kw_only=True, slots=True)
class DegradationChanged(Event):
    """The degradation ladder moved from `old` to `new` (labels of `DEGRADATION_LEVELS`, best first);
    `reasons` are what called for `new`, worst first (M11). The state keeps the current level."""

    old: str
    new: str
    reasons: tuple[str, ...] = ()

    def _check(self) -> None:
        Event._check(self)
        for name in ("old", "new"):
            if getattr(self, name) not in DEGRADATION_LEVELS:
                raise ModelError(
                    f"DegradationChanged.{name}={getattr(self, name)!r} is not one of {DEGRADATION_LEVELS}"
                )


@dataclass(frozen=True, kw_only=True, slots=True)
class BreakerChanged(Event):
    """A circuit breaker (of an endpoint, or of a whole venue) changed state; kept for the record.

    The engine's state ignores it, like `AlertRecorded`.
    """

    scope: str
    name: str
    old: str
    new: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class VenueIdentified(Event):
    """Whom the journal trades with on `venue`: the exchange, its network and the venue's own id of
    the account (Binance's `uid`). Recorded once per venue; the state keeps it (invariant 12)."""

    venue: str
    exchange: str
    network: str
    account: str


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalOutage(Event):
    """The journal took no writes from `started` until this record (its `ts`), because of `error`;
    written first thing once it takes writes again. `canceled` names the orders canceled on the
    venues meanwhile (unjournaled, to shrink exposure; their outcome is settled right after).

    The engine's state ignores it, like `AlertRecorded`.
    """

    started: datetime
    error: str
    canceled: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class TradingHalted(Event):
    """The kill switch was pulled (by an operator through the CLI or API, or by a risk rule that
    halts): no new order until `TradingResumed`, across restarts. `source` says who pulled it."""

    reason: str
    source: str = "operator"


@dataclass(frozen=True, kw_only=True, slots=True)
class TradingResumed(Event):
    """The halt was lifted (`nonstop resume`): the engine may trade again."""

    reason: str = ""
    source: str = "operator"


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteDecided(Event):
    """The router picked `venue` for the order `client_order_id` (journaled in the same append as its
    intent, M12): the winner's `score`, the `reason`, and the `ranking` it chose from
    (`venue=score` for each eligible venue, best first, then `venue: why` for each excluded one).

    Not an order event: the state ignores it, like `AlertRecorded` (the intent carries the venue).
    """

    client_order_id: ClientOrderId
    symbol: str
    venue: str
    score: Decimal
    reason: str
    ranking: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class OrdersArchived(Event):
    """Finished orders that leave the live state (the retention rule is the recorder's: see
    `nonstop.execution.archive`). Their records stay in the journal, where `nonstop journal inspect`
    and a history replay (`replay(..., history=True)`) still find them; the state keeps, per
    instance, the highest archived client order sequence, so an archived id is never reused.
    Only finished orders without fills are archived (fills feed every PnL figure)."""

    client_order_ids: tuple[str, ...]


for _cls in (
    OrdersArchived,
    TradingHalted,
    TradingResumed,
    AlertRecorded,
    RouteDecided,
    VenueIdentified,
    BreakerChanged,
    JournalOutage,
    DegradationChanged,
    OrderIntent,
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderInDoubt,
    OrderNeverSent,
    OrderFilled,
    OrderCancelRequested,
    OrderCancelRejected,
    OrderCanceled,
    OrderExpired,
    BalanceSnapshot,
    BalanceChanged,
    ReconcileDifference,
    JournalCopied,
):
    _REGISTRY[_cls.__name__] = _cls
