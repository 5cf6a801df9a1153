"""The scorecard's arithmetic (B4): pure functions over what a drill observed. No I/O.

Times are seconds since the Unix epoch (floats, UTC). A scenario's fault window is
`[fault_start, fault_end]`; the inputs come from the journal (breaker, degradation, alert and
order records), from samples of the engine's API, and from the simulator's own records.

- time to detect: from the fault's start to the first sign the engine saw it (a breaker change,
  a degradation step or an alert in the journal, or a sample showing an endpoint not healthy, a
  breaker not closed, a level below normal or the engine not answering);
- time to recover: from the fault's end until the engine trades normally again: it answers, is
  in phase `trading` at level `normal` with every breaker of its trading venue closed, **and** the
  venue accepted an order of ours after the fault ended (whichever of the two comes later);
- unmanaged-position seconds: time during which the engine had exposure on its trading venue (an
  open order or a non-zero position, as last seen) while it could neither trade nor cancel there
  (its process was down, or a fault blocked every endpoint of that venue).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Sample:
    """One look at the engine (its API) and the market (the simulator), at `t`."""

    t: float
    up: bool  # the engine's API answered
    phase: str = ""
    level: str = "unknown"
    breakers_closed: bool = True  # the trading venue's breaker and its endpoints' breakers
    endpoints_healthy: bool = True
    open_orders: int = 0
    position: Decimal = Decimal(0)
    price: Decimal | None = None

    @property
    def healthy(self) -> bool:
        return self.up and self.phase == "trading" and self.level == "normal" and self.breakers_closed

    @property
    def abnormal(self) -> bool:
        """What counts as a sign of a fault, seen from outside."""
        return (
            (not self.up)
            or self.level not in ("normal", "unknown")
            or not self.breakers_closed
            or (not self.endpoints_healthy)
        )

    @property
    def exposed(self) -> bool:
        return self.open_orders > 0 or self.position != 0


@dataclass(frozen=True)
class Mark:
    """A record in the journal that shows the engine noticed something (breaker, ladder, alert)."""

    t: float
    what: str


def detect_after(fault_start: float, until: float, samples: Sequence[Sample], marks: Iterable[Mark]) -> float | None:
    """Seconds from `fault_start` to the first mark or abnormal sample in `[fault_start, until]`."""
    times = [m.t for m in marks if fault_start <= m.t <= until]
    times += [s.t for s in samples if fault_start <= s.t <= until and s.abnormal]
    return round(min(times) - fault_start, 3) if times else None


def recover_after(fault_end: float, samples: Sequence[Sample], accepted: Iterable[float]) -> float | None:
    """Seconds from `fault_end` until trading is normal again (see the module docstring), or None."""
    healthy = next((s.t for s in samples if s.t >= fault_end and s.healthy), None)
    order = min((t for t in accepted if t >= fault_end), default=None)
    if healthy is None or order is None:
        return None
    return round(max(healthy, order) - fault_end, 3)


def unmanaged_seconds(samples: Sequence[Sample], blocked: Sequence[tuple[float, float]]) -> float:
    """Seconds with exposure on the venue while the engine could neither trade nor cancel there.

    Between two samples, the earlier one's view holds. While the engine is down its exposure is
    the last it showed while up (nobody manages it). `blocked` are windows where a fault stopped
    every request to the trading venue.
    """
    total = 0.0
    last_exposed = False
    for a, b in itertools.pairwise(samples):
        if a.up:
            last_exposed = a.exposed
        cannot_act = (not a.up) or any(lo <= a.t < hi for lo, hi in blocked)
        if last_exposed and cannot_act:
            total += b.t - a.t
    return round(total, 3)


def lost_fills(venue_trade_ids: Iterable[str], journal_trade_ids: set[str]) -> list[str]:
    """Trades of our orders that the venue made and the journal does not hold."""
    return sorted(t for t in venue_trade_ids if t not in journal_trade_ids)


def balance_difference(
    start: dict[str, Decimal], fills_delta: dict[str, Decimal], venue_end: dict[str, Decimal]
) -> dict[str, Decimal]:
    """venue balances - (start + what the journal's fills moved), per asset; only non-zero ones."""
    assets = set(start) | set(fills_delta) | set(venue_end)
    out = {}
    for asset in sorted(assets):
        diff = venue_end.get(asset, Decimal(0)) - start.get(asset, Decimal(0)) - fills_delta.get(asset, Decimal(0))
        if diff != 0:
            out[asset] = diff
    return out


def fills_delta(
    fills: Iterable[tuple[str, Decimal, Decimal, Decimal, str]], base: str, quote: str
) -> dict[str, Decimal]:
    """What fills moved per asset: each is (side, price, quantity, fee, fee_asset)."""
    out = {base: Decimal(0), quote: Decimal(0)}
    for side, price, qty, fee, fee_asset in fills:
        sign = 1 if side == "BUY" else -1
        out[base] += sign * qty
        out[quote] -= sign * qty * price
        out[fee_asset] = out.get(fee_asset, Decimal(0)) - fee
    return out


@dataclass
class Verdict:
    """Pass/fail per invariant; the scenario passed when all hold."""

    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [k for k, ok in self.checks.items() if not ok]


def verdict(
    *, duplicates: int, lost: int, detect_s: float | None, recover_s: float | None, must_detect: bool
) -> Verdict:
    checks = {"no_duplicates": duplicates == 0, "no_lost_fills": lost == 0, "recovered": recover_s is not None}
    if must_detect:
        checks["detected"] = detect_s is not None
    return Verdict(checks)


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """Median and max over repeats; a run without a value (not detected / not recovered) makes both None."""
    if not values or any(v is None for v in values):
        return {"median": None, "max": None}
    nums = [float(v) for v in values if v is not None]
    return {"median": round(statistics.median(nums), 3), "max": round(max(nums), 3)}
