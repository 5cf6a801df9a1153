"""OKX's per-endpoint request budgets on our side: N requests per 2 s per endpoint.

OKX limits each REST endpoint separately (place order 60 / 2 s per instrument, balance 10 / 2 s,
fills-history 10 / 2 s, ...) and sends no usage headers to synchronise with, so we count for
ourselves. A sliding 2 s window per endpoint (and instrument, where OKX counts per instrument)
never exceeds any of OKX's windows, whatever their alignment. Each attempt takes a slot (a hedged
read takes two); a request finding no slot waits for the oldest to age out.

Why our own: the budgets are per endpoint and tiny (1..60), on the injected clock; aiolimiter's
leaky bucket would let bursts through that OKX's window counts refuse.
"""

from __future__ import annotations

from collections import deque

from nonstop.clock import Clock

WINDOW_S = 2.0
# endpoint path -> (requests per 2 s as OKX documents them, counted per instrument)
OKX_BUDGETS: dict[str, tuple[int, bool]] = {
    "public/time": (10, False),
    "public/instruments": (20, False),
    "market/ticker": (20, False),
    "market/history-candles": (20, False),
    "account/balance": (10, False),
    "account/config": (5, False),
    "trade/order": (60, True),
    "trade/cancel-order": (60, True),
    "trade/orders-pending": (60, False),
    "trade/fills-history": (10, False),
    "trade/fills": (60, False),
    "trade/cancel-all-after": (1, False),
}


class EndpointBudgets:
    """Sliding-window counters per (endpoint, instrument)."""

    def __init__(self, clock: Clock, budgets: dict[str, tuple[int, bool]] | None = None, share: float = 0.9) -> None:
        self._clock = clock
        self._budgets = budgets or OKX_BUDGETS
        self._share = share  # keep a margin below OKX's own count (clock skew, hedges in flight)
        self._sent: dict[tuple[str, str], deque[float]] = {}
        self.waits = 0

    def limit(self, path: str) -> int | None:
        found = self._budgets.get(path)
        return None if found is None else max(1, int(found[0] * self._share))

    async def take(self, path: str, instrument: str = "") -> None:
        """Wait (on the clock) until the endpoint has a free slot in the last 2 s, then take it."""
        limit = self.limit(path)
        if limit is None:
            return
        key = (path, instrument if self._budgets[path][1] else "")
        sent = self._sent.setdefault(key, deque())
        while True:
            now = self._clock.monotonic()
            while sent and sent[0] <= now - WINDOW_S:
                sent.popleft()
            if len(sent) < limit:
                sent.append(now)
                return
            self.waits += 1
            await self._clock.sleep(sent[0] + WINDOW_S - now)
