"""The pure model: identifiers, instruments, events, the order state machine and EngineState.

No I/O and no adapter imports here; prices and quantities are `Decimal`, times are aware UTC.
"""

from nonstop.model.balance import Balance
from nonstop.model.events import (
    DEGRADATION_LEVELS,
    EVENT_SCHEMA_VERSION,
    AlertRecorded,
    BalanceChanged,
    BalanceSnapshot,
    DegradationChanged,
    DifferenceKind,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInDoubt,
    OrderIntent,
    OrderRejected,
    OrderSubmitted,
    ReconcileDifference,
    event_from_dict,
    event_types,
    new_event_id,
)
from nonstop.model.identifiers import (
    ClientOrderId,
    ClientOrderIdFactory,
    InstrumentId,
    TradeId,
    VenueOrderId,
)
from nonstop.model.instrument import Instrument, Liquidity, OrderType, Side, TimeInForce
from nonstop.model.order import TRANSITIONS, Order, OrderState
from nonstop.model.state import EngineState, fill_key

__all__ = [
    "DEGRADATION_LEVELS",
    "EVENT_SCHEMA_VERSION",
    "TRANSITIONS",
    "AlertRecorded",
    "Balance",
    "BalanceChanged",
    "BalanceSnapshot",
    "ClientOrderId",
    "ClientOrderIdFactory",
    "DegradationChanged",
    "DifferenceKind",
    "EngineState",
    "Event",
    "Instrument",
    "InstrumentId",
    "Liquidity",
    "Order",
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCancelRequested",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderInDoubt",
    "OrderIntent",
    "OrderRejected",
    "OrderState",
    "OrderSubmitted",
    "OrderType",
    "ReconcileDifference",
    "Side",
    "TimeInForce",
    "TradeId",
    "VenueOrderId",
    "event_from_dict",
    "event_types",
    "fill_key",
    "new_event_id",
]
