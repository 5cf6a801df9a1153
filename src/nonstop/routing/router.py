"""The router between the strategy and the order manager (M12).

A strategy that trades an instrument on `ANY_VENUE` ("auto") gets each new order routed: `route`
measures every trading venue's health (`routing.health`) and offer (listed? balance? book price for
the side and fee?) and lets the pure `scoring.decide` pick. The decision becomes a `RouteDecided`
event that the order manager journals in the same append as the intent, and it is counted in
metrics (`nonstop_route_decisions_total{venue}`, `nonstop_route_score{venue}`: the latest ranking,
-1 for an excluded venue).

Failover of new orders is a consequence of deciding every order afresh: once a venue is down
(breaker open, maintenance, stream and REST failing) the next decision excludes it. Orders already
on it are never routed again: an in-doubt order stays with the order manager on its venue until a
lookup settles it. When a venue drops out of the ranking (or comes back) an alert says so
(`routing:<venue>`: raised when routing moves away from it, resolved when it returns).

A strategy that names a venue keeps it (the router is not asked).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from nonstop.clock import Clock
from nonstop.model import ClientOrderId, EngineState, Event, OrderRejected, RouteDecided, Side
from nonstop.monitor.alert_model import AlertLevel
from nonstop.routing.health import forget_outage, venue_health
from nonstop.routing.portfolio import portfolio_of
from nonstop.routing.scoring import RouteDecision, VenueHealth, VenueOffer, decide, has_balance
from nonstop.routing.stranded import HedgeOrder, HedgePlanner, Stranded, StrandedPolicy, stranded

__all__ = ["RoutedOrder", "Router"]

log = structlog.get_logger("nonstop.routing")

REJECT_WINDOW_S = 60.0
HISTORY = 50


@dataclass(frozen=True, slots=True)
class RoutedOrder:
    """One decision, for status and the API."""

    ts: datetime
    symbol: str
    side: Side
    quantity: Decimal
    decision: RouteDecision

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat(), "symbol": self.symbol, "side": self.side.value,
                "quantity": str(self.quantity), "venue": self.decision.venue,
                "score": self.decision.score, "reason": self.decision.reason,
                "ranking": list(self.decision.ranking_texts())}


class Router:
    """Picks the venue for each new routed order; see the module docstring."""

    def __init__(
        self,
        venues: Mapping[str, Any],
        clock: Clock,
        state: Callable[[], EngineState],
        *,
        metrics: Any | None = None,
        alerts: Any | None = None,
        fee_bps: Mapping[str, Decimal] | None = None,
        policy: StrandedPolicy = StrandedPolicy.HOLD,
        hedge_after_s: float = 5.0,
    ) -> None:
        self.venues = dict(venues)  # name -> VenuePort, in configuration order
        self.clock = clock
        self._state = state
        self.alerts = alerts
        self.fee_bps = dict(fee_bps or {})
        self.decisions: deque[RoutedOrder] = deque(maxlen=HISTORY)
        self.counts: dict[str, int] = {}  # orders routed, per venue
        self.total = 0  # decisions made (a decision without a venue too)
        self._rejects: dict[str, deque[float]] = {v: deque(maxlen=100) for v in self.venues}
        self._away: set[str] = set()  # venues routing has moved away from (down), alerted
        self.policy = policy
        self.hedges = HedgePlanner(hedge_after_s)
        self.stranded: list[Stranded] = []
        self._stranded_alerts: set[str] = set()
        self.metrics = metrics  # nonstop.monitor.metrics.Metrics (route_decision, route_score)

    # ---------------------------------------------------------------- inputs
    def on_event(self, event: Event) -> None:
        """Recorder listener: a venue's recent rejects lower its score."""
        if not isinstance(event, OrderRejected):
            return
        order = self._state().orders.get(event.client_order_id.value)
        if order is not None and order.instrument_id.venue in self._rejects:
            self._rejects[order.instrument_id.venue].append(self.clock.monotonic())

    def _recent_rejects(self, venue: str) -> int:
        cutoff = self.clock.monotonic() - REJECT_WINDOW_S
        return sum(1 for t in self._rejects.get(venue, ()) if t >= cutoff)

    def health(self) -> list[VenueHealth]:
        """Every trading venue's health now, in configuration order."""
        return [venue_health(v, self.clock, recent_rejects=self._recent_rejects(n)) for n, v in self.venues.items()]

    # ---------------------------------------------------------------- deciding
    def route(self, symbol: str, side: Side, quantity: Decimal, price: Decimal | None,
              books: Mapping[str, tuple[Decimal | None, Decimal | None]]) -> RouteDecision:
        """Decide the venue of one new order; `books` is (bid, ask) per venue (missing: no book)."""
        state = self._state()
        offers = []
        for name, venue in self.venues.items():
            listed = any(i.symbol == symbol for i in venue.instruments())
            bid, ask = books.get(name, (None, None))
            top = ask if side is Side.BUY else bid
            cost_price = price if price is not None else top
            offers.append(VenueOffer(
                venue=name, listed=listed,
                balance_ok=has_balance(state.balances.get(name, {}), symbol, side, quantity, cost_price),
                price=top, fee_bps=self.fee_bps.get(name, Decimal(10)),
            ))
        health = self.health()
        decision = decide(side, health, offers)
        self._observe(health, decision)
        self.decisions.append(RoutedOrder(self.clock.now(), symbol, side, quantity, decision))
        self.total += 1
        if decision.venue is not None:
            self.counts[decision.venue] = self.counts.get(decision.venue, 0) + 1
            if self.metrics is not None:
                self.metrics.route_decision(decision.venue)
        log.info("order_routed", symbol=symbol, side=side.value, quantity=str(quantity), venue=decision.venue,
                 score=decision.score, reason=decision.reason)
        return decision

    def event(self, cid: ClientOrderId, symbol: str, decision: RouteDecision) -> RouteDecided:
        """The journal record of `decision` for the order `cid`."""
        assert decision.venue is not None
        return RouteDecided(ts=self.clock.now(), client_order_id=cid, symbol=symbol, venue=decision.venue,
                            score=Decimal(str(decision.score)), reason=decision.reason,
                            ranking=decision.ranking_texts())

    def hedge_note(self, routed: Callable[[ClientOrderId], RouteDecided] | None, reason: str, symbol: str = "",
                   venue: str = "") -> Callable[[ClientOrderId], RouteDecided]:
        """The journal note of a hedge: the routed decision with the hedge's reason first, or (an
        unwind, whose venue is fixed) a note naming the venue and the reason."""
        if routed is not None:
            def note(cid: ClientOrderId) -> RouteDecided:
                decided = routed(cid)
                return replace(decided, reason=f"{reason}; {decided.reason}")
            return note
        return lambda cid: RouteDecided(ts=self.clock.now(), client_order_id=cid, symbol=symbol, venue=venue,
                                        score=Decimal(0), reason=reason)

    # ---------------------------------------------------------------- visibility
    def refresh(self) -> None:
        """Re-measure health (called periodically) so alerts and metrics move without orders too."""
        self._observe(self.health(), None)

    def _observe(self, health: list[VenueHealth], decision: RouteDecision | None) -> None:
        if self.metrics is not None and decision is not None:
            for r in decision.ranking:
                self.metrics.route_score(r.venue, r.score)
        for h in health:
            why = h.down
            if why and h.venue not in self._away:
                self._away.add(h.venue)
                log.warning("routing_moved_away", venue=h.venue, reason=why)
                if self.alerts is not None:
                    self.alerts.raise_(f"routing:{h.venue}", AlertLevel.WARNING,
                                       f"routing moved away from {h.venue}", why)
            elif not why and h.venue in self._away:
                self._away.discard(h.venue)
                self._rejects[h.venue].clear()  # its rejects were the outage's, not its health now
                forget_outage(self.venues[h.venue])  # and so were its pool's failed calls
                log.info("routing_returned", venue=h.venue)
                if self.alerts is not None:
                    self.alerts.resolve(f"routing:{h.venue}", f"{h.venue} is back in the ranking")

    # ---------------------------------------------------------------- stranded exposure
    def stranded_step(self, steps: Mapping[str, Decimal]) -> list[HedgeOrder]:
        """Find exposure stranded on downed venues (shown, alerted) and, with the `hedge` policy, the
        hedge / unwind orders to send now (`steps`: step size per symbol)."""
        state = self._state()
        down = {h.venue: h.down for h in self.health() if h.down}
        portfolio = portfolio_of(state)
        self.stranded = stranded(portfolio, down)
        keys = set()
        for s in self.stranded:
            key = f"stranded:{s.venue}:{s.symbol}"
            keys.add(key)
            if key not in self._stranded_alerts:
                self._stranded_alerts.add(key)
                log.warning("exposure_stranded", venue=s.venue, symbol=s.symbol, quantity=str(s.quantity),
                            policy=self.policy.value, why=s.why)
                if self.alerts is not None:
                    self.alerts.raise_(key, AlertLevel.WARNING, f"{s.quantity} {s.symbol} stranded on {s.venue}",
                                       f"{s.why}; policy {self.policy.value}")
        for key in self._stranded_alerts - keys:
            self._stranded_alerts.discard(key)
            if self.alerts is not None:
                self.alerts.resolve(key, "no longer stranded")
        if self.policy is not StrandedPolicy.HEDGE:
            return []
        return self.hedges.plan(state, portfolio, down, self.clock.monotonic(), steps)

    def status(self) -> dict[str, Any]:
        """Current health ranking and the last decisions (for status, the API and the dashboard)."""
        return {
            "venues": [{"venue": h.venue, "down": h.down, "health": round(h.score(), 2),
                        "orders_routed": self.counts.get(h.venue, 0)} for h in self.health()],
            "away": sorted(self._away),
            "stranded": [{"venue": s.venue, "symbol": s.symbol, "quantity": str(s.quantity), "why": s.why}
                         for s in self.stranded],
            "policy": self.policy.value,
            "last_decisions": [d.to_dict() for d in list(self.decisions)[-10:]],
        }
