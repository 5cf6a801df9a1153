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
    connected: bool
    breaker: str = Field(description="venue-wide breaker: closed | half_open | open | unknown")
    endpoints: list[EndpointView]


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


class SeriesView(BaseModel):
    latency: list[LatencySeries] = Field(description="EWMA latency per endpoint, in ms")
    equity: list[SeriesPoint] = Field(description="account equity in `equity_currency`")
    equity_currency: str
    unpriced_assets: list[str] = Field(description="assets left out of equity for want of a price")


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


class HaltResult(BaseModel):
    halted: bool
    reason: str
    at: datetime
    canceled: list[str] = Field(description="client order ids canceled by the halt")
    pending: list[str] = Field(description="orders still open or being settled (cancel in progress or in doubt)")
    strategy_stopped: bool = Field(description="false while the engine cannot stop its strategies yet")
    detail: str = ""
