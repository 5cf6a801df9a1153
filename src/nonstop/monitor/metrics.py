"""The Prometheus metrics registry (M7): every `nonstop_*` family, with typed update methods.

A dedicated `CollectorRegistry` (never the process-global one), so several engines or tests in one
process do not collide. Label values are validated: a value that is malformed, too long or looks
like a secret (a URL with credentials or a query, a key-like string) raises `UnsafeLabel`, whose
message names the label but never repeats the value.
"""

from __future__ import annotations

import re
from typing import Final, Literal, SupportsFloat

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from nonstop.monitor.errors import UnsafeLabel
from nonstop.monitor.scrub import Scrubber

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,95}$")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SLIPPAGE_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)

BreakerState = Literal["closed", "open", "half_open"]
BREAKER_STATES: Final[tuple[BreakerState, ...]] = ("closed", "open", "half_open")
HA_ROLES: Final = ("single", "standby", "leader", "fenced")
OrderOutcome = Literal["submitted", "filled", "rejected", "cancelled", "in_doubt"]
ORDER_OUTCOMES: Final[tuple[OrderOutcome, ...]] = ("submitted", "filled", "rejected", "cancelled", "in_doubt")


class Metrics:
    """All nonstop metric families on one registry. Methods take plain values; `render()` is `/metrics`."""

    def __init__(self, registry: CollectorRegistry | None = None, *, scrubber: Scrubber | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._scrubber = scrubber or Scrubber()
        self._checked: set[str] = set()
        self._order_counts: dict[tuple[str, str], list[int]] = {}  # (venue, strategy) -> [submitted, filled]
        r = self.registry
        # system
        self._cpu = Counter("nonstop_process_cpu_seconds", "CPU time used by the process (user + system).", registry=r)
        self._cpu_seen = 0.0
        self._rss = Gauge("nonstop_process_resident_memory_bytes", "Resident memory of the process.", registry=r)
        self._disk = Gauge("nonstop_data_dir_free_bytes", "Free bytes on the file system of the data dir.", registry=r)
        self._lag = Gauge("nonstop_event_loop_lag_seconds", "Latest measured event-loop lag.", registry=r)
        self._lag_max = Gauge(
            "nonstop_event_loop_lag_max_seconds", "Largest event-loop lag since the last sample.", registry=r
        )
        self._endpoint_latency = Histogram(
            "nonstop_endpoint_latency_seconds",
            "Request latency to each venue endpoint.",
            ["venue", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        # application
        self._order_rtt = Histogram(
            "nonstop_order_roundtrip_seconds",
            "Order submit to venue acknowledgement, per venue.",
            ["venue"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._orders = Counter("nonstop_orders", "Orders by outcome.", ["venue", "strategy", "outcome"], registry=r)
        self._risk_refusals = Counter(
            "nonstop_risk_refusals", "Orders refused by pre-trade risk, by rule.", ["strategy", "rule"], registry=r
        )
        self._fills = Counter("nonstop_fills", "Fills received.", ["venue", "strategy"], registry=r)
        self._fill_ratio = Gauge(
            "nonstop_fill_ratio", "Share of submitted orders that got filled (0..1).", ["venue", "strategy"], registry=r
        )
        self._slippage = Histogram(
            "nonstop_slippage_bps",
            "Executed versus expected price in basis points (positive = worse than expected).",
            ["venue", "strategy"],
            buckets=_SLIPPAGE_BUCKETS,
            registry=r,
        )
        self._pnl = Gauge(
            "nonstop_strategy_pnl_quote",
            "PnL per strategy and quote currency, in that currency (never summed across two).",
            ["strategy", "quote"],
            registry=r,
        )
        self._exposure = Gauge(
            "nonstop_strategy_exposure_quote",
            "Gross exposure per strategy and quote currency, in that currency.",
            ["strategy", "quote"],
            registry=r,
        )
        self._journal_seq = Gauge("nonstop_journal_last_seq", "Sequence number of the last durable event.", registry=r)
        self._journal_lag = Gauge(
            "nonstop_journal_lag_seconds", "Age of the oldest event not yet durable (0 when caught up).", registry=r
        )
        # high availability
        self._ha_role = Gauge(
            "nonstop_ha_role", "This engine's HA role, one-hot: 1 for the current role.", ["role"], registry=r
        )
        self._ha_epoch = Gauge("nonstop_ha_epoch", "The fencing epoch this engine writes with.", registry=r)
        self._ha_lease = Gauge(
            "nonstop_ha_lease_remaining_seconds",
            "Seconds before the leader's own lease deadline (0 unless leading).",
            registry=r,
        )
        # connectivity
        self._endpoint_up = Gauge(
            "nonstop_endpoint_up", "1 if the endpoint is considered healthy.", ["venue", "endpoint"], registry=r
        )
        self._breaker = Gauge(
            "nonstop_breaker_state",
            "Circuit breaker state, one-hot: 1 for the current state.",
            ["venue", "endpoint", "state"],
            registry=r,
        )
        self._ratelimit = Gauge(
            "nonstop_ratelimit_used_ratio",
            "Share of the venue's rate-limit budget used in the current window (0..1).",
            ["venue", "limit"],
            registry=r,
        )
        # routing (M12)
        self._routed = Counter("nonstop_route_decisions", "Orders routed, per chosen venue.", ["venue"], registry=r)
        self._route_score = Gauge(
            "nonstop_route_score", "The router's latest score per venue (0..100; -1 when excluded).", ["venue"],
            registry=r,
        )
        # data quality
        self._feed_age = Gauge(
            "nonstop_feed_age_seconds", "Age of the latest data from a source.", ["source", "instrument"], registry=r
        )
        self._feed_dev = Gauge(
            "nonstop_feed_deviation_bps",
            "Deviation of a source's price from the consensus, in basis points.",
            ["source", "instrument"],
            registry=r,
        )

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format (serve with `CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # label safety -------------------------------------------------------------------------------

    def _safe(self, label: str, value: str) -> str:
        if value in self._checked:
            return value
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise UnsafeLabel(
                f"metric label {label!r}: value must be 1-96 characters of letters, digits and _.:/- "
                "(no spaces, '@', '?', '=' or '&'); value not shown"
            )
        if not self._scrubber.is_clean(value):
            raise UnsafeLabel(f"metric label {label!r}: value looks like it carries a secret; value not shown")
        if len(self._checked) < 10_000:  # the cache is bounded; label cardinality should be far below it
            self._checked.add(value)
        return value

    # system -------------------------------------------------------------------------------------

    def process_cpu(self, seconds_total: float) -> None:
        """Record the process's cumulative CPU seconds (the counter grows by the difference)."""
        if seconds_total > self._cpu_seen:
            self._cpu.inc(seconds_total - self._cpu_seen)
            self._cpu_seen = seconds_total

    def resident_memory(self, nbytes: int) -> None:
        self._rss.set(nbytes)

    def disk_free(self, nbytes: int) -> None:
        self._disk.set(nbytes)

    def loop_lag(self, seconds: float, max_seconds: float | None = None) -> None:
        self._lag.set(max(seconds, 0.0))
        self._lag_max.set(max(seconds if max_seconds is None else max_seconds, 0.0))

    def endpoint_latency(self, venue: str, endpoint: str, seconds: float) -> None:
        self._endpoint_latency.labels(self._safe("venue", venue), self._safe("endpoint", endpoint)).observe(seconds)

    # application --------------------------------------------------------------------------------

    def order_latency(self, venue: str, seconds: float) -> None:
        """Order round trip (submit to acknowledgement) on `venue`."""
        self._order_rtt.labels(self._safe("venue", venue)).observe(seconds)

    def order_outcome(self, venue: str, strategy: str, outcome: OrderOutcome) -> None:
        """Count an order outcome; `submitted` and `filled` (once per order) drive the fill ratio."""
        if outcome not in ORDER_OUTCOMES:
            raise UnsafeLabel(f"metric label 'outcome': must be one of {ORDER_OUTCOMES}")
        v, s = self._safe("venue", venue), self._safe("strategy", strategy)
        self._orders.labels(v, s, outcome).inc()
        counts = self._order_counts.setdefault((v, s), [0, 0])
        if outcome == "submitted":
            counts[0] += 1
        elif outcome == "filled":
            counts[1] += 1
        if counts[0]:
            self._fill_ratio.labels(v, s).set(min(counts[1] / counts[0], 1.0))

    def risk_refusal(self, strategy: str, rule: str) -> None:
        """Count an order refused by pre-trade risk (`rule` names the limit)."""
        self._risk_refusals.labels(self._safe("strategy", strategy), self._safe("rule", rule)).inc()

    def fill(self, venue: str, strategy: str) -> None:
        self._fills.labels(self._safe("venue", venue), self._safe("strategy", strategy)).inc()

    def slippage(self, venue: str, strategy: str, bps: SupportsFloat) -> None:
        self._slippage.labels(self._safe("venue", venue), self._safe("strategy", strategy)).observe(float(bps))

    def strategy_pnl(self, strategy: str, quote: str, amount: SupportsFloat) -> None:
        """The PnL of `strategy`'s instruments quoted in `quote`, in `quote`."""
        self._pnl.labels(self._safe("strategy", strategy), self._safe("quote", quote)).set(float(amount))

    def strategy_exposure(self, strategy: str, quote: str, amount: SupportsFloat) -> None:
        self._exposure.labels(self._safe("strategy", strategy), self._safe("quote", quote)).set(float(amount))

    def journal(self, last_seq: int, lag_seconds: float) -> None:
        self._journal_seq.set(last_seq)
        self._journal_lag.set(max(lag_seconds, 0.0))

    # high availability --------------------------------------------------------------------------

    def ha_role(self, role: str, epoch: int, lease_remaining_s: float) -> None:
        """Set the one-hot role (`single | standby | leader | fenced`), the epoch and the lease time left."""
        if role not in HA_ROLES:
            raise UnsafeLabel(f"metric label 'role': must be one of {HA_ROLES}")
        for r in HA_ROLES:
            self._ha_role.labels(r).set(1 if r == role else 0)
        self._ha_epoch.set(epoch)
        self._ha_lease.set(max(lease_remaining_s, 0.0))

    # connectivity -------------------------------------------------------------------------------

    def endpoint_up(self, venue: str, endpoint: str, up: bool) -> None:
        self._endpoint_up.labels(self._safe("venue", venue), self._safe("endpoint", endpoint)).set(1 if up else 0)

    def breaker_state(self, venue: str, endpoint: str, state: BreakerState) -> None:
        """Set the one-hot breaker state (`endpoint="*"` for a venue-wide breaker)."""
        if state not in BREAKER_STATES:
            raise UnsafeLabel(f"metric label 'state': must be one of {BREAKER_STATES}")
        v = self._safe("venue", venue)
        e = endpoint if endpoint == "*" else self._safe("endpoint", endpoint)
        for s in BREAKER_STATES:
            self._breaker.labels(v, e, s).set(1 if s == state else 0)

    def ratelimit_used(self, venue: str, limit: str, share: float) -> None:
        """Share (0..1) of `limit` (e.g. "weight_1m", "orders_10s") used in its current window."""
        self._ratelimit.labels(self._safe("venue", venue), self._safe("limit", limit)).set(share)

    # routing ------------------------------------------------------------------------------------

    def route_decision(self, venue: str) -> None:
        self._routed.labels(self._safe("venue", venue)).inc()

    def route_score(self, venue: str, score: float) -> None:
        self._route_score.labels(self._safe("venue", venue)).set(score)

    # data quality -------------------------------------------------------------------------------

    def feed_quality(self, source: str, instrument: str, *, age_seconds: float, deviation_bps: SupportsFloat) -> None:
        s, i = self._safe("source", source), self._safe("instrument", instrument)
        self._feed_age.labels(s, i).set(max(age_seconds, 0.0))
        self._feed_dev.labels(s, i).set(float(deviation_bps))
