"""The router's pure core (M12): which venue gets an order, with a score and a reason.

No I/O: the caller measures each venue's health (`routing.health`) and offer (listing, balance, the
price its book gives for this order, fees) and `decide` ranks them.

Eligibility comes first and is absolute — a venue is never chosen when it:
- does not list the instrument;
- has not the balance for the order (quote asset for a buy at the order's price, base asset for a
  sell; spot);
- is down: its venue breaker is open (maintenance, an IP ban, most endpoints failing), or both its
  REST and user stream are failing.

Among the eligible, the score (0..100, higher is better) is health minus price:
- health (up to 100): -25 half-open venue breaker, -30 x share of endpoints open, -30 x error rate,
  -min(20, 10 x p99 latency in s), -20 x rate-limit share above 50 %, -15 while throttled by the
  venue (Retry-After), -min(20, 4 x rejects in the last minute);
- price: the cost versus the best eligible book, in bps (the book top for the side, taker fee
  included), -min(40, bps). A venue without a book loses 10.

Ties go to the venue listed first in the configuration, so the decision is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from nonstop.model import Balance, Side

__all__ = ["Ranked", "RouteDecision", "VenueHealth", "VenueOffer", "decide", "has_balance"]

_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """How a venue is doing now, as the gateway measures it."""

    venue: str
    breaker: str = "closed"  # the venue breaker: closed | half_open | open
    endpoints_open_share: float = 0.0
    latency_p99_s: float | None = None
    error_rate: float = 0.0  # share of failed calls in the pool's window (worst endpoint)
    rate_limit_used: float = 0.0  # 0..1 of the window's budget
    throttled: bool = False  # paused by the venue's Retry-After
    recent_rejects: int = 0
    stream_down: bool = False  # the user stream is failing
    rest_down: bool = False  # every REST endpoint is failing

    @property
    def down(self) -> str:
        """Why the venue takes no new orders now ("" when it does)."""
        if self.breaker == "open":
            return "venue breaker open"
        if self.stream_down and self.rest_down:
            return "user stream and REST both failing"
        return ""

    def score(self) -> float:
        s = 100.0
        if self.breaker == "half_open":
            s -= 25
        s -= 30 * self.endpoints_open_share
        s -= 30 * min(self.error_rate, 1.0)
        if self.latency_p99_s is not None:
            s -= min(20.0, 10 * self.latency_p99_s)
        s -= 40 * max(0.0, self.rate_limit_used - 0.5)
        if self.throttled:
            s -= 15
        s -= min(20.0, 4.0 * self.recent_rejects)
        return s


@dataclass(frozen=True, slots=True)
class VenueOffer:
    """What a venue offers for this order: is it listed, is there balance, at what price."""

    venue: str
    listed: bool
    balance_ok: bool
    price: Decimal | None  # book top for the side (ask to buy, bid to sell); None: no book
    fee_bps: Decimal = Decimal(10)


@dataclass(frozen=True, slots=True)
class Ranked:
    venue: str
    score: float  # -1 when excluded
    why: str  # the exclusion, or how the score was made


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen venue (None: none eligible), its score, why, and the full ranking (best first)."""

    venue: str | None
    score: float
    reason: str
    ranking: tuple[Ranked, ...]

    def ranking_texts(self) -> tuple[str, ...]:
        return tuple(f"{r.venue}={r.score:.2f}" if r.score >= 0 else f"{r.venue}: {r.why}" for r in self.ranking)


def has_balance(balances: Mapping[str, Balance], symbol: str, side: Side, quantity: Decimal,
                price: Decimal | None) -> bool:
    """Spot: a buy needs `quantity * price` free in the quote asset, a sell `quantity` in the base."""
    base, _, quote = symbol.partition("/")
    quote = quote.split(":")[0]
    if side is Side.SELL:
        held = balances.get(base)
        return held is not None and held.free >= quantity
    if price is None:
        return False
    held = balances.get(quote)
    return held is not None and held.free >= quantity * price


def _effective(offer: VenueOffer, side: Side) -> Decimal | None:
    if offer.price is None:
        return None
    fee = offer.price * offer.fee_bps / _BPS
    return offer.price + fee if side is Side.BUY else offer.price - fee


def decide(side: Side, health: Sequence[VenueHealth], offers: Sequence[VenueOffer]) -> RouteDecision:
    """Rank the venues for one order (both sequences in configuration order, one entry per venue)."""
    by_venue = {h.venue: h for h in health}
    excluded: list[Ranked] = []
    eligible: list[tuple[VenueOffer, VenueHealth]] = []
    for offer in offers:
        h = by_venue.get(offer.venue, VenueHealth(offer.venue))
        why = ("does not list the instrument" if not offer.listed
               else "not enough balance" if not offer.balance_ok
               else h.down)
        if why:
            excluded.append(Ranked(offer.venue, -1.0, why))
        else:
            eligible.append((offer, h))
    prices = [p for o, _ in eligible if (p := _effective(o, side)) is not None]
    best = (min(prices) if side is Side.BUY else max(prices)) if prices else None
    scored: list[Ranked] = []
    for offer, h in eligible:
        health_score = h.score()
        eff = _effective(offer, side)
        if eff is None or best is None:
            price_penalty, price_why = 10.0, "no book"
        else:
            bps = float(abs(eff - best) / best * _BPS)
            price_penalty, price_why = min(40.0, bps), f"{bps:.1f} bps off best"
        score = round(max(0.0, health_score - price_penalty), 2)
        scored.append(Ranked(offer.venue, score, f"health {health_score:.1f}, {price_why}"))
    order = {o.venue: i for i, o in enumerate(offers)}
    scored.sort(key=lambda r: (-r.score, order[r.venue]))
    ranking = (*scored, *excluded)
    if not scored:
        reason = "no eligible venue: " + "; ".join(f"{r.venue} {r.why}" for r in excluded)
        return RouteDecision(None, -1.0, reason, ranking)
    top = scored[0]
    reason = f"best score ({top.why})"
    if excluded:
        reason += "; excluded: " + ", ".join(f"{r.venue} ({r.why})" for r in excluded)
    return RouteDecision(top.venue, top.score, reason, ranking)
