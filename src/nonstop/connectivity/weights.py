"""Request weights, taken from ccxt's own Binance `api` cost table so they track ccxt releases.

ccxt expresses Binance's weights as costs relative to its `rateLimit` (ms per unit of cost): spot's
6000 weight/minute with `rateLimit` 50 ms gives 1200 cost units a minute, so one weight = 0.2 cost
(see the comments above `'public'` in `ccxt/async_support/binance.py`). Hence
`weight = cost * weight_per_minute * rateLimit / 60000`, rounded up. `byLimit` ("depth" costs more
for a larger `limit`) and `noSymbol` (a call without a symbol covers every market) are honoured.

Unknown paths get `default_weight` (deliberately high, so a missing entry over-budgets rather than
risks a 429); `overrides` let the configuration correct any entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nonstop.errors import ConfigError

__all__ = ["WeightTable"]

_SPOT_APIS = ("public", "private")
_PREFIXES = ("/api/v3/", "api/v3/", "/")


@dataclass(frozen=True, slots=True)
class _Cost:
    cost: float
    by_limit: tuple[tuple[int, float], ...] = ()
    no_symbol: float | None = None


class WeightTable:
    """Weight of one request: `table.weight("GET", "/api/v3/depth", limit=500)` -> 25."""

    def __init__(
        self,
        costs: Mapping[tuple[str, str], _Cost],
        *,
        weight_per_cost: float,
        default_weight: int = 20,
        overrides: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        if weight_per_cost <= 0 or default_weight < 1:
            raise ConfigError(f"weight_per_cost must be > 0 and default_weight >= 1, got "
                              f"{weight_per_cost}, {default_weight}")
        self._costs = dict(costs)
        self._per_cost = weight_per_cost
        self.default_weight = default_weight
        self._overrides = {(m.upper(), _norm(p)): w for (m, p), w in (overrides or {}).items()}
        bad = {k: w for k, w in self._overrides.items() if w < 0}
        if bad:
            raise ConfigError(f"weight overrides must be >= 0, got {bad}")

    @classmethod
    def from_ccxt_binance(
        cls,
        *,
        weight_per_minute: int = 6000,
        default_weight: int = 20,
        overrides: Mapping[tuple[str, str], int] | None = None,
    ) -> WeightTable:
        """Build the spot table from the installed ccxt's Binance description (no network)."""
        import ccxt  # local: constructing the exchange object costs ~0.3 s, only when asked

        exchange = ccxt.binance()
        return cls.from_ccxt_api(exchange.api, rate_limit_ms=float(exchange.rateLimit),
                                 weight_per_minute=weight_per_minute, default_weight=default_weight,
                                 overrides=overrides)

    @classmethod
    def from_ccxt_api(
        cls,
        api: Mapping[str, Any],
        *,
        rate_limit_ms: float,
        weight_per_minute: int,
        default_weight: int = 20,
        overrides: Mapping[tuple[str, str], int] | None = None,
    ) -> WeightTable:
        costs: dict[tuple[str, str], _Cost] = {}
        for section in _SPOT_APIS:
            for method, paths in api.get(section, {}).items():
                for path, spec in paths.items():
                    costs[(method.upper(), path)] = _Cost(
                        cost=float(spec.get("cost", 1)),
                        by_limit=tuple((int(lim), float(c)) for lim, c in spec.get("byLimit", ())),
                        no_symbol=float(spec["noSymbol"]) if "noSymbol" in spec else None,
                    )
        return cls(costs, weight_per_cost=weight_per_minute * rate_limit_ms / 60_000,
                   default_weight=default_weight, overrides=overrides)

    def weight(self, method: str, path: str, *, limit: int | None = None, has_symbol: bool = True) -> int:
        key = (method.upper(), _norm(path))
        if key in self._overrides:
            return self._overrides[key]
        spec = self._costs.get(key)
        if spec is None:
            return self.default_weight
        cost = spec.cost
        if not has_symbol and spec.no_symbol is not None:
            cost = spec.no_symbol
        elif spec.by_limit:
            # No limit: Binance's default (100 for depth) is the first bracket; beyond the last: the last.
            cost = spec.by_limit[0][1] if limit is None else spec.by_limit[-1][1]
            if limit is not None:
                for top, bracket_cost in spec.by_limit:
                    if limit <= top:
                        cost = bracket_cost
                        break
        return max(1, math.ceil(round(cost * self._per_cost, 9)))

    def __contains__(self, key: tuple[str, str]) -> bool:
        return (key[0].upper(), _norm(key[1])) in self._costs


def _norm(path: str) -> str:
    path = path.split("?", 1)[0]
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix):]
    return path
