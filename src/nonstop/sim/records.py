"""The simulated venue's records: accounts, orders, trades and the events it emits (value types)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
MARKET_MAKER, TAKER_FLOW = "__market_maker__", "__taker_flow__"
BACKGROUND = frozenset({MARKET_MAKER, TAKER_FLOW})
PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})  # have a limit price
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})  # wait for a trigger
ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


@dataclass
class Account:
    """A venue account: API key pair and balances (free, locked) per asset."""

    api_key: str
    secret: str = field(repr=False)
    free: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    passphrase: str = field(default="", repr=False)  # OKX's third credential; "" accepts any

    def move(self, asset: str, free: Decimal = Decimal(0), locked: Decimal = Decimal(0)) -> None:
        self.free[asset] = self.free.get(asset, Decimal(0)) + free
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + locked


@dataclass
class SimOrder:
    """The venue's record of one order."""

    order_id: int
    client_order_id: str
    account: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    quote_order_qty: Decimal
    time_ms: int
    executed_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    status: str = "NEW"
    update_ms: int = 0
    fills: list[dict[str, object]] = field(default_factory=list)
    stop_price: Decimal = Decimal(0)
    working: bool = True  # False while a stop order waits for its trigger (not in the book)
    order_list_id: int = -1  # the OCO list it belongs to
    lock_owner: bool = True  # holds its own balance lock (an OCO's legs share one lock)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_market(self) -> bool:
        return self.type not in PRICED_TYPES

    def triggered_by(self, last: Decimal) -> bool:
        """A stop-loss buys on a rise to its stop and sells on a fall to it; a take-profit the reverse."""
        rising = (self.side == "BUY") == self.type.startswith("STOP_LOSS")
        return last >= self.stop_price if rising else last <= self.stop_price


@dataclass(frozen=True)
class PublicTrade:
    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    time_ms: int
    buyer_is_maker: bool


@dataclass(frozen=True)
class Execution:
    """An executionReport's worth: what happened to `order` just now."""

    order: SimOrder
    exec_type: str  # NEW, TRADE, CANCELED, EXPIRED, REJECTED
    status: str
    executed_qty: Decimal
    cum_quote: Decimal
    last_qty: Decimal = Decimal(0)
    last_price: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    commission_asset: str | None = None
    trade_id: int = -1
    is_maker: bool = False
    time_ms: int = 0
    cancel_client_order_id: str = ""  # a cancel's own client id (Binance puts it in `c`, the order's in `C`)


@dataclass(frozen=True)
class BalanceUpdate:
    account: str
    assets: dict[str, tuple[Decimal, Decimal]]
    time_ms: int


VenueEvent = PublicTrade | Execution | BalanceUpdate


@dataclass(frozen=True)
class ReceivedOrder:
    """One new-order request as the venue saw it, accepted or not."""

    client_order_id: str
    account: str
    symbol: str
    time_ms: int
    order_id: int | None
    rejected: str | None
    sender: str = ""  # the label of the API key that signed the request (several keys per account)


def account_uid(api_key: str) -> int:
    """The account id the venue reports (Binance's `uid`): stable per API key, so it survives restarts."""
    return int.from_bytes(hashlib.sha256(api_key.encode()).digest()[:4], "big") % 900_000_000 + 100_000_000
