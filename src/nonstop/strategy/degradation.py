"""Graceful degradation (M11): the ladder NORMAL → REDUCED_DATA → FALLBACK → REDUCE_ONLY → HALTED.

Pure and clock-driven. The engine feeds `DegradationInputs` (a snapshot of what it measures) to
`DegradationLadder.update`; the ladder computes the level those inputs call for, with every reason:

| input                                         | level it calls for |
|-----------------------------------------------|--------------------|
| rate-limit weight used >= `reduced_at`        | REDUCED_DATA       |
| an endpoint breaker open                      | REDUCED_DATA       |
| some feed sources excluded (price still trusted) | REDUCED_DATA    |
| rate-limit weight used >= `fallback_at`       | FALLBACK           |
| a 429 pause in force (Retry-After)            | REDUCE_ONLY        |
| an instrument without a trustworthy price     | REDUCE_ONLY        |
| a venue breaker open                          | REDUCE_ONLY        |
| reconciliation drift not yet resolved         | REDUCE_ONLY        |
| an IP ban (418), every venue down, or a manual halt | HALTED       |

Down (worse) is immediate: the level jumps straight to what the inputs call for. Up is one step at a
time, and only after the inputs have called for a better level for `recover_after_s` without a break
(hysteresis); a rate-limit share must also fall `hysteresis` below its threshold before it stops
calling for that level, so a share hovering at the threshold does not flap. Every change is an
immutable `LevelChanged` event with its reasons (for the journal, `nonstop status`, alerts).

`gate(level, intents, ...)` is the enforcement: at REDUCE_ONLY only exposure-shrinking orders pass
(and never more than the position, counting reducing orders already open); at HALTED only cancels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nonstop.clock import Clock
from nonstop.model import Order, Side
from nonstop.strategy.base import Cancel, Intent, Place

__all__ = [
    "DegradationInputs",
    "DegradationLadder",
    "DegradationSettings",
    "GateResult",
    "Level",
    "LevelChanged",
    "gate",
    "reduces_exposure",
]


class Level(IntEnum):
    """Higher is worse."""

    NORMAL = 0
    REDUCED_DATA = 1  # lower update rates, fewer symbols
    FALLBACK = 2  # the strategy's fallback runs (simpler, fewer API calls)
    REDUCE_ONLY = 3  # only orders that shrink exposure
    HALTED = 4  # cancel open orders, send nothing else


class DegradationSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reduced_at: float = Field(0.6, gt=0, le=1, description="rate-limit weight share calling for REDUCED_DATA")
    fallback_at: float = Field(0.8, gt=0, le=1, description="rate-limit weight share calling for FALLBACK")
    hysteresis: float = Field(0.1, ge=0, lt=1, description="a share must fall this far below a threshold to clear it")
    recover_after_s: float = Field(30.0, ge=0, description="calm time before each step back up")

    @model_validator(mode="after")
    def _ordered(self) -> DegradationSettings:
        if self.reduced_at > self.fallback_at:
            raise ValueError("reduced_at must be <= fallback_at")
        return self


@dataclass(frozen=True, slots=True)
class DegradationInputs:
    """What the engine measures, at one moment. Defaults describe a healthy engine."""

    rate_limit_share: float = 0.0  # highest weight share used over the venues (0..1)
    rate_limit_paused: bool = False  # a 429 Retry-After in force somewhere
    ip_banned: bool = False  # a 418
    endpoint_breakers_open: int = 0
    venue_breakers_open: int = 0
    venues_total: int = 1
    excluded_sources: int = 0  # feed sources not counted in a consensus
    untrusted_instruments: int = 0  # instruments without a trustworthy price
    reconcile_drift: int = 0  # unresolved reconciliation differences
    manual_halt: bool = False
    journal_unwritable: bool = False  # nothing can be recorded, so nothing new may be sent


@dataclass(frozen=True, slots=True)
class LevelChanged:
    """The ladder moved; `reasons` are what called for `new` (or why `old` was left)."""

    ts: datetime
    old: Level
    new: Level
    reasons: tuple[str, ...]


class DegradationLadder:
    def __init__(self, clock: Clock, settings: DegradationSettings | None = None, level: Level = Level.NORMAL) -> None:
        self.clock = clock
        self.settings = settings or DegradationSettings()
        self.level = level
        self.reasons: tuple[str, ...] = ()
        self._better_since: float | None = None
        self._rl_level = Level.NORMAL  # the level the rate-limit share calls for, with hysteresis

    def target(self, inputs: DegradationInputs) -> tuple[Level, tuple[str, ...]]:
        """The level the inputs call for, and every reason (worst first). Updates rate-limit hysteresis."""
        s, i = self.settings, inputs
        calls: list[tuple[Level, str]] = []
        share, h, rl = i.rate_limit_share, s.hysteresis, self._rl_level
        fallback_on = share >= s.fallback_at or (rl >= Level.FALLBACK and share > s.fallback_at - h)
        reduced_on = share >= s.reduced_at or (rl >= Level.REDUCED_DATA and share > s.reduced_at - h)
        self._rl_level = Level.FALLBACK if fallback_on else Level.REDUCED_DATA if reduced_on else Level.NORMAL
        if self._rl_level > Level.NORMAL:
            calls.append((self._rl_level, f"rate-limit weight at {share:.0%}"))
        if i.endpoint_breakers_open:
            calls.append((Level.REDUCED_DATA, f"{i.endpoint_breakers_open} endpoint breaker(s) open"))
        if i.excluded_sources:
            calls.append((Level.REDUCED_DATA, f"{i.excluded_sources} feed source(s) excluded"))
        if i.rate_limit_paused:
            calls.append((Level.REDUCE_ONLY, "rate-limited: Retry-After in force"))
        if i.untrusted_instruments:
            calls.append((Level.REDUCE_ONLY, f"{i.untrusted_instruments} instrument(s) without a trustworthy price"))
        if i.venue_breakers_open:
            calls.append((Level.REDUCE_ONLY, f"{i.venue_breakers_open} venue breaker(s) open"))
        if i.reconcile_drift:
            calls.append((Level.REDUCE_ONLY, f"{i.reconcile_drift} unresolved reconciliation difference(s)"))
        if i.ip_banned:
            calls.append((Level.HALTED, "IP banned by a venue (418)"))
        if i.venues_total and i.venue_breakers_open >= i.venues_total:
            calls.append((Level.HALTED, "every venue is down"))
        if i.manual_halt:
            calls.append((Level.HALTED, "halted by an operator"))
        if i.journal_unwritable:
            calls.append((Level.HALTED, "the journal takes no writes"))
        calls.sort(key=lambda c: -c[0])
        return (calls[0][0] if calls else Level.NORMAL), tuple(r for _, r in calls)

    def update(self, inputs: DegradationInputs) -> LevelChanged | None:
        """Feed the current inputs; returns the change, if the level moved."""
        target, reasons = self.target(inputs)
        now = self.clock.monotonic()
        if target > self.level:
            self._better_since = None
            return self._move(target, reasons)
        if target == self.level:
            self._better_since = None
            self.reasons = reasons
            return None
        if self._better_since is None:
            self._better_since = now
            return None
        if now - self._better_since < self.settings.recover_after_s:
            return None
        self._better_since = now  # the next step up needs its own calm period
        new = Level(self.level - 1)
        why = reasons if new == target else (*reasons, f"recovering towards {target.name}")
        return self._move(new, why or (f"inputs clear for {self.settings.recover_after_s:g}s",))

    def _move(self, new: Level, reasons: tuple[str, ...]) -> LevelChanged:
        change = LevelChanged(self.clock.now(), self.level, new, reasons)
        self.level, self.reasons = new, reasons
        return change


def reduces_exposure(side: Side, quantity: Decimal, position: Decimal) -> bool:
    """True if an order of `quantity` on `side` moves `position` towards zero without crossing it."""
    if position == 0 or quantity <= 0:
        return False
    return (side is Side.SELL) == (position > 0) and quantity <= abs(position)


@dataclass(frozen=True, slots=True)
class GateResult:
    allowed: tuple[Intent, ...]
    rejected: tuple[tuple[Intent, str], ...]


def gate(
    level: Level,
    intents: Iterable[Intent],
    position_of: dict[str, Decimal],
    open_orders: Sequence[Order] = (),
) -> GateResult:
    """Let through only what `level` allows.

    `position_of` maps `str(instrument_id)` to the signed position; `open_orders` are the live orders,
    whose reducing remainder is counted so two reducing orders together cannot flip the position.
    """
    allowed: list[Intent] = []
    rejected: list[tuple[Intent, str]] = []
    pending: dict[str, Decimal] = {}
    for o in open_orders:
        key = str(o.instrument_id)
        pos = position_of.get(key, Decimal(0))
        if pos and (o.side is Side.SELL) == (pos > 0):
            pending[key] = pending.get(key, Decimal(0)) + o.leaves_qty
    for intent in intents:
        if isinstance(intent, Cancel) or level < Level.REDUCE_ONLY:
            allowed.append(intent)
            continue
        if level >= Level.HALTED:
            rejected.append((intent, "halted: only cancels are sent"))
            continue
        assert isinstance(intent, Place)
        key = str(intent.instrument_id)
        position = position_of.get(key, Decimal(0))
        room = abs(position) - pending.get(key, Decimal(0))
        if reduces_exposure(intent.side, intent.quantity, position) and intent.quantity <= room:
            allowed.append(intent)
            pending[key] = pending.get(key, Decimal(0)) + intent.quantity
        else:
            why = f"reduce-only: {intent.side} {intent.quantity} would not shrink position {position}"
            rejected.append((intent, why))
    return GateResult(tuple(allowed), tuple(rejected))
