"""The venue port: what the execution core asks of an exchange, in the model's own types.

Pure declarations, no I/O: adapters (`nonstop.venues.binance`) implement `VenuePort`. Every
failure an adapter raises is a classified `nonstop.connectivity.errors.VenueError` (or
`RequestNotSent`), so the core decides by class: `OutcomeUnknownError` on a submit means IN DOUBT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from nonstop.model import (
    Balance,
    Instrument,
    InstrumentId,
    Liquidity,
    OrderIntent,
    TradeId,
    VenueOrderId,
)


class VenueOrderStatus(StrEnum):
    """An order's status as the venue reports it (Binance's vocabulary, venue-neutral names)."""

    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (VenueOrderStatus.OPEN, VenueOrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class VenueOrderReport:
    """What the venue says about one order right now."""

    instrument_id: InstrumentId
    client_order_id: str
    venue_order_id: VenueOrderId
    status: VenueOrderStatus
    quantity: Decimal
    filled_qty: Decimal
    price: Decimal | None
    ts: datetime
    fills: tuple[VenueFill, ...] = ()  # executions the answer itself carried (Binance FULL response)


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution as the venue reports it; `trade_id` is unique per instrument."""

    instrument_id: InstrumentId
    trade_id: TradeId
    venue_order_id: VenueOrderId
    client_order_id: str | None
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    ts: datetime


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and last trade of one instrument."""

    instrument_id: InstrumentId
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    ts: datetime


class VenuePort(Protocol):
    """One venue, as the core sees it."""

    name: str

    async def connect(self) -> None:
        """Load markets; raises a classified VenueError when the venue cannot be reached."""
        ...

    async def close(self) -> None: ...

    def instruments(self) -> dict[InstrumentId, Instrument]: ...

    async def submit(self, intent: OrderIntent) -> VenueOrderReport:
        """Send a new order with the intent's client order id (never a new id)."""
        ...

    async def cancel(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport: ...

    async def fetch_order(self, instrument_id: InstrumentId, client_order_id: str) -> VenueOrderReport | None:
        """The venue's record of the order with this client id, or None if the venue never saw it."""
        ...

    async def open_orders(self, instrument_id: InstrumentId) -> list[VenueOrderReport]: ...

    async def fills(self, instrument_id: InstrumentId, since: datetime | None) -> list[VenueFill]:
        """The account's executions on this instrument since `since` (inclusive), oldest first."""
        ...

    async def fills_of_order(self, instrument_id: InstrumentId, venue_order_id: VenueOrderId) -> list[VenueFill]: ...

    async def balances(self) -> list[Balance]: ...

    async def quote(self, instrument_id: InstrumentId) -> Quote: ...

    async def watch_order_updates(self) -> list[VenueOrderReport]:
        """Wait for the next order updates from the user-data stream."""
        ...

    async def watch_fills(self) -> list[VenueFill]:
        """Wait for the next executions from the user-data stream."""
        ...


@runtime_checkable
class CancelAllAfter(Protocol):
    """Optional venue capability: the venue's own dead man's switch. Once armed with a countdown, the
    venue cancels every open order of the account unless it is re-armed before the countdown ends
    (OKX: `cancel-all-after`). Binance spot has none; an adapter offers it only if its venue does."""

    async def arm_cancel_all_after(self, seconds: int) -> None:
        """(Re)start the venue's countdown; raises a classified VenueError if the venue refused."""
        ...

    async def disarm_cancel_all_after(self) -> None:
        """Stop the countdown (a clean stop, or before trading with no orders)."""
        ...
