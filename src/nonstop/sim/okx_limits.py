"""OKX v5's per-endpoint rate limits as the venue applies them: N requests per 2 s per key.

OKX counts each REST endpoint separately, by IP for public data and by user id (and, for order
placement and cancels, user id + instrument id) for private calls, in fixed 2 s windows; beyond
the budget it answers HTTP 429 with code 50011 and sends no usage headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from nonstop.sim import okx_rejects

WINDOW_MS = 2000
# path -> (requests per 2 s, scope): scope "ip", "user" or "user+inst"
BUDGETS: dict[str, tuple[int, str]] = {
    "public/time": (10, "ip"),
    "public/instruments": (20, "ip"),
    "market/tickers": (20, "ip"),
    "market/ticker": (20, "ip"),
    "market/books": (40, "ip"),
    "market/candles": (40, "ip"),
    "market/history-candles": (20, "ip"),
    "market/trades": (100, "ip"),
    "account/balance": (10, "user"),
    "account/config": (5, "user"),
    "trade/order": (60, "user+inst"),
    "trade/batch-orders": (300, "user+inst"),
    "trade/cancel-order": (60, "user+inst"),
    "trade/cancel-batch-orders": (300, "user"),
    "trade/orders-pending": (60, "user"),
    "trade/orders-history": (40, "user"),
    "trade/fills": (60, "user"),
    "trade/fills-history": (10, "user"),
    "trade/cancel-all-after": (1, "user"),
}


@dataclass
class _Window:
    start: int = 0
    used: int = 0


class OkxLimits:
    """Counts requests per (endpoint, key) in fixed 2 s windows."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale  # > 1 loosens every budget (tests that hammer one endpoint)
        self.windows: dict[tuple[str, str], _Window] = {}
        self.counts = {"429": 0}

    def admit(self, path: str, ip: str, account: str | None, inst: str | None, now_ms: int) -> None:
        budget = BUDGETS.get(path)
        if budget is None:
            return
        limit, scope = budget
        key = ip if scope == "ip" else f"{account}:{inst or ''}" if scope == "user+inst" else str(account)
        w = self.windows.setdefault((path, key), _Window())
        start = now_ms - now_ms % WINDOW_MS
        if w.start != start:
            w.start, w.used = start, 0
        if w.used >= max(1, int(limit * self.scale)):
            self.counts["429"] += 1
            raise okx_rejects.rate_limited(max(1, -(-(start + WINDOW_MS - now_ms) // 1000)))
        w.used += 1
