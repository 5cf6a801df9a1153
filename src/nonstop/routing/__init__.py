"""Multi-venue trading (M12): positions across venues, and the router that picks each order's venue.

- `portfolio`: per-venue and aggregated positions (average cost, realized / unrealized PnL), folded
  from the state's fills (pure; rebuilt exactly on replay);
- `scoring`: the router's pure core (eligibility, health and price score, the decision);
- `health`: a venue's health read off its gateway;
- `stranded`: exposure left on a downed venue, and the hedge policy's orders;
- `router`: the router itself (decisions journaled as `RouteDecided`, metrics, alerts), imported
  from `nonstop.routing.router` (it reaches the monitor, which reads the config).
"""

from nonstop.routing.portfolio import Portfolio, Position, portfolio_of
from nonstop.routing.scoring import RouteDecision, VenueHealth, VenueOffer, decide, has_balance

__all__ = [
    "Portfolio",
    "Position",
    "RouteDecision",
    "VenueHealth",
    "VenueOffer",
    "decide",
    "has_balance",
    "portfolio_of",
]
