"""What the JSON API returns: pydantic models, so the OpenAPI schema documents every field.

Quantities and prices are decimal strings (never floats: a float would round them); times are
ISO 8601 UTC; latencies are milliseconds; series points are `{t: epoch seconds, v: value}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

DegradationLevel = Literal["normal", "reduced_data", "fallback_strategy", "reduce_only", "halted", "unknown"]


class EndpointView(BaseModel):
    url: str = Field(description="base URL of the endpoint (no credentials)")
    health: str = Field(description="healthy | probing | ejected")
    breaker: str = Field(description="closed | half_open | open")
    latency_ms: float | None = Field(description="EWMA request latency")
    p99_ms: float | None = Field(description="recent tail latency")
    error_rate: float = Field(description="share of failed requests in the recent window (0..1)")
    in_flight: int


class VenueView(BaseModel):
    name: str
    connected: bool = Field(description="connected now: false while every endpoint is ejected or the venue "
                            "breaker is open (an outage), not only before the first connection")
    breaker: str = Field(description="venue-wide breaker: closed | half_open | open | unknown")
    endpoints: list[EndpointView]
    role: str = Field(default="trading", description="trading | data (market data only, never an order)")
    feed: str | None = Field(default=None, description="its market-data feed: ok | stale | frozen | missing | ... "
                             "and the transport (ws | rest)")


class StatusView(BaseModel):
    phase: str = Field(description="starting | connecting | reconciling | trading | stopping | stopped")
    reconciled: bool
    ready: bool
    halted: bool
    instance: str
    role: str = Field(default="single", description="HA role: single | standby | leader | fenced")
    epoch: int | None = Field(default=None, description="the fencing epoch this engine writes with")
    holder: str | None = Field(default=None, description="this engine's lease holder id (HA only)")
    lease_remaining_s: float | None = Field(default=None, description="seconds before the leader's own lease deadline")


class DegradationView(BaseModel):
    level: DegradationLevel
    reason: str
    since: datetime | None = None


class OrderView(BaseModel):
    client_order_id: str
    venue: str
    instrument: str
    side: str
    order_type: str
    price: str | None
    quantity: str
    filled: str
    state: str


class PositionView(BaseModel):
    venue: str  # "all" for the aggregate across venues (M12)
    instrument: str
    quantity: str
    avg_cost: str = "0"
    realized_pnl: str = "0"  # in the quote asset, after quote-asset fees
    unrealized_pnl: str = "0"  # at the consensus mid ("0" without one)


class RoutingView(BaseModel):
    """The router (M12): each trading venue's health now, venues routed away from, exposure stranded
    on downed venues, and the last decisions with their score, reason and ranking."""

    policy: str = "hold"
    venues: list[dict[str, Any]] = Field(default_factory=list)
    away: list[str] = Field(default_factory=list)
    stranded: list[dict[str, Any]] = Field(default_factory=list)
    last_decisions: list[dict[str, Any]] = Field(default_factory=list)


class BalanceView(BaseModel):
    venue: str
    asset: str
    free: str
    locked: str
    total: str


class FillView(BaseModel):
    ts: datetime
    venue: str
    instrument: str
    client_order_id: str
    side: str
    price: str
    quantity: str
    fee: str
    fee_asset: str
    liquidity: str
    trade_id: str


class AlertView(BaseModel):
    key: str
    level: str = Field(description="critical | warning | info")
    title: str
    body: str = Field(description="the evidence (numbers); scrubbed of secrets")
    status: str = Field(description="active | clearing | resolved")
    first_seen: datetime
    last_seen: datetime
    count: int


class AlertEventView(BaseModel):
    at: datetime
    kind: str = Field(description="raised | escalated | reopened | clearing | resolved | delivered | ...")
    key: str
    level: str
    title: str
    detail: str


class AlertsView(BaseModel):
    active: list[AlertView]
    recent: list[AlertEventView] = Field(description="most recent alert transitions, newest first")


class SeriesPoint(BaseModel):
    t: float = Field(description="seconds since the Unix epoch")
    v: float


class LatencySeries(BaseModel):
    venue: str
    endpoint: str
    points: list[SeriesPoint]


class SourcePriceView(BaseModel):
    source: str = Field(description="the venue that quoted it")
    status: str = Field(description="ok (counted) | stale | frozen | missing | empty | crossed | outlier ...")
    transport: str = Field(description="ws | rest: what delivered its latest update")
    mid: str | None
    age_s: float | None
    deviation_bps: str | None = Field(description="from the median of the sources")
    points: list[SeriesPoint] = Field(default_factory=list, description="its mid over time")


class PriceMarker(BaseModel):
    t: float | None = Field(description="seconds since the Unix epoch (fills); None for a resting order")
    price: str
    side: str
    quantity: str


class PriceView(BaseModel):
    """One symbol's price: the consensus mid, each source, our resting orders and recent fills."""

    symbol: str
    mid: str | None = Field(description="consensus mid; None when no price is trustworthy")
    bid: str | None
    ask: str | None
    reason: str = Field(description="why there is no trustworthy price (empty when there is)")
    sources: list[SourcePriceView]
    points: list[SeriesPoint] = Field(description="consensus mid over time")
    orders: list[PriceMarker] = Field(description="our resting orders in this symbol")
    fills: list[PriceMarker] = Field(description="our fills within the chart's time span")


class StrategyPnlSeries(BaseModel):
    """One strategy's PnL in one quote currency (a strategy trading in two has two series)."""

    strategy: str
    currency: str = Field(description="the quote currency of the instruments this series counts, and of its amounts")
    pnl: str = Field(description="now: realized - fees + unrealized at the consensus mid, in `currency`")
    points: list[SeriesPoint]


class SeriesView(BaseModel):
    latency: list[LatencySeries] = Field(description="EWMA latency per endpoint, in ms")
    equity: list[SeriesPoint] = Field(description="account equity in `equity_currency`")
    equity_currency: str
    unpriced_assets: list[str] = Field(description="assets left out of equity for want of a price")
    prices: list[PriceView] = Field(default_factory=list, description="the market, per traded symbol")
    pnl: list[StrategyPnlSeries] = Field(default_factory=list,
                                         description="PnL per strategy and quote currency over time")


class Snapshot(BaseModel):
    """Everything the dashboard shows, as one document (what the live stream sends)."""

    at: datetime
    status: StatusView
    degradation: DegradationView
    venues: list[VenueView]
    orders: list[OrderView]
    positions: list[PositionView]
    balances: list[BalanceView]
    fills: list[FillView]
    alerts: AlertsView
    series: SeriesView


class HaltRequest(BaseModel):
    reason: str = Field(default="kill switch", min_length=1, max_length=200, description="why (shown and alerted)")
    flatten: bool = Field(default=False, description="also close every position with reduce-only orders")


class ResumeRequest(BaseModel):
    reason: str = Field(default="resumed by an operator", min_length=1, max_length=200)


class ResumeResult(BaseModel):
    resumed: bool = Field(description="false when the engine was not halted")
    at: datetime
    detail: str = ""


class HaltResult(BaseModel):
    halted: bool
    reason: str
    at: datetime
    canceled: list[str] = Field(description="client order ids canceled by the halt")
    pending: list[str] = Field(description="orders still open or being settled (cancel in progress or in doubt)")
    strategy_stopped: bool = Field(description="false while the engine cannot stop its strategies yet")
    detail: str = ""
    flattened: bool = Field(default=False, description="true when asked to flatten and every position is closed")
    left: dict[str, str] = Field(default_factory=dict, description="with flatten: positions left, per instrument")
