"""Fault injection: what can go wrong, where (venue / endpoint), how often and for how long.

Every set, clear and expiry is logged with a UTC timestamp (and kept in `log`), so recovery
times can be measured against the moment a fault began or ended.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog

from nonstop.clock import Clock
from nonstop.errors import SimulatorError

log = structlog.get_logger("nonstop.sim.faults")


class FaultKind(StrEnum):
    LATENCY = "latency"  # params: ms (default 500)
    BLACKHOLE = "blackhole"  # accept the connection, never answer
    RESET = "reset"  # reset the TCP connection without an answer
    HTTP_ERROR = "http_error"  # params: status (500, 502, 503 or 504; default 500)
    MAINTENANCE = "maintenance"  # 503 {"code": 1, ...}; websockets closed (1001) and refused
    RATE_LIMIT = "rate_limit"  # a 429 storm; params: retry_after (seconds, default 2)
    DROP_ORDER_RESPONSE = "drop_order_response"  # place the order, then params: mode hang|reset
    WS_DISCONNECT = "ws_disconnect"  # params: mode drop|close, code; end websockets and refuse new ones
    FROZEN_FEED = "frozen_feed"  # market stops moving and streams go silent (stale prices)
    PRICE_SPIKE = "price_spike"  # params: pct (default 10; negative for a crash)
    VENUE_OUTAGE = "venue_outage"  # the whole venue: every endpoint answers 503, websockets drop
    ERROR_AFTER_EXECUTE = "error_after_execute"  # params: status; a write is executed, then answered 5xx


WS_CLOSE_CODES = (1000, 1001, 1006, 1008, 1011)  # normal, going away, abnormal, policy, internal error
_PARAMS: dict[FaultKind, dict[str, tuple[type, Any, Callable[[Any], bool], str]]] = {
    FaultKind.LATENCY: {"ms": (int, 500, lambda v: 0 < v <= 600_000, "an integer 1..600000")},
    FaultKind.HTTP_ERROR: {"status": (int, 500, lambda v: v in (500, 502, 503, 504), "one of 500, 502, 503, 504")},
    FaultKind.RATE_LIMIT: {"retry_after": (int, 2, lambda v: 0 < v <= 3600, "an integer 1..3600")},
    FaultKind.DROP_ORDER_RESPONSE: {"mode": (str, "hang", lambda v: v in ("hang", "reset"), "hang or reset")},
    FaultKind.WS_DISCONNECT: {
        "mode": (str, "drop", lambda v: v in ("drop", "close"), "drop (TCP abort) or close (a close frame)"),
        "code": (int, 1001, lambda v: v in WS_CLOSE_CODES, f"one of {', '.join(map(str, WS_CLOSE_CODES))}"),
    },
    FaultKind.ERROR_AFTER_EXECUTE: {
        "status": (int, 503, lambda v: v in (500, 502, 503, 504), "one of 500, 502, 503, 504")
    },
    FaultKind.PRICE_SPIKE: {"pct": (float, 10.0, lambda v: -90 <= v <= 1000 and v != 0, "a non-zero number -90..1000")},
}
VENUE_WIDE = frozenset({FaultKind.FROZEN_FEED, FaultKind.PRICE_SPIKE, FaultKind.VENUE_OUTAGE})


@dataclass
class Fault:
    id: int
    kind: FaultKind
    venue: str
    endpoint: int | None
    probability: float
    params: dict[str, Any]
    set_at: datetime
    expires_at: datetime | None
    hits: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "venue": self.venue,
            "endpoint": self.endpoint,
            "probability": self.probability,
            "params": self.params,
            "set_at": self.set_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "hits": self.hits,
        }


@dataclass
class FaultRegistry:
    """Active faults of a simulator, and the timestamped log of every change."""

    clock: Clock
    endpoints: dict[str, int]  # venue name -> number of endpoints
    seed: int = 0
    active: dict[int, Fault] = field(default_factory=dict)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    listeners: list[Callable[[str, Fault], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._rng = random.Random(f"{self.seed}:faults")

    def set(
        self,
        kind: str,
        venue: str,
        *,
        endpoint: int | None = None,
        probability: float = 1.0,
        duration_s: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Fault:
        """Validate and activate a fault; raise SimulatorError naming the bad field."""
        try:
            fkind = FaultKind(kind)
        except ValueError:
            raise SimulatorError(
                f"fault kind {kind!r} is unknown; allowed: {', '.join(k.value for k in FaultKind)}"
            ) from None
        if venue not in self.endpoints:
            raise SimulatorError(f"venue {venue!r} is unknown; allowed: {', '.join(sorted(self.endpoints))}")
        if endpoint is not None:
            if fkind in VENUE_WIDE:
                raise SimulatorError(f"fault kind {kind!r} applies to a whole venue; endpoint must be omitted")
            if not 0 <= endpoint < self.endpoints[venue]:
                raise SimulatorError(
                    f"endpoint {endpoint!r} of venue {venue!r} is unknown; allowed: 0..{self.endpoints[venue] - 1}"
                )
        if not 0 < probability <= 1:
            raise SimulatorError(f"probability {probability!r} must be in (0, 1]")
        if duration_s is not None and not 0 < duration_s <= 86_400:
            raise SimulatorError(f"duration_s {duration_s!r} must be in (0, 86400]")
        checked = self._check_params(fkind, params or {})
        now = self.clock.now()
        fault = Fault(
            next(self._ids),
            fkind,
            venue,
            endpoint,
            probability,
            checked,
            now,
            now + timedelta(seconds=duration_s) if duration_s else None,
        )
        self.active[fault.id] = fault
        self._record("set", fault)
        return fault

    @staticmethod
    def _check_params(kind: FaultKind, params: dict[str, Any]) -> dict[str, Any]:
        spec = _PARAMS.get(kind, {})
        unknown = set(params) - set(spec)
        if unknown:
            raise SimulatorError(f"fault {kind.value!r} takes no parameter {sorted(unknown)}; allowed: {sorted(spec)}")
        out: dict[str, Any] = {}
        for name, (typ, default, ok, allowed) in spec.items():
            raw = params.get(name, default)
            try:
                value = typ(raw)
            except (TypeError, ValueError):
                raise SimulatorError(f"fault {kind.value!r} parameter {name}={raw!r}: must be {allowed}") from None
            if not ok(value):
                raise SimulatorError(f"fault {kind.value!r} parameter {name}={raw!r}: must be {allowed}")
            out[name] = value
        return out

    def clear(self, fault_id: int) -> Fault:
        fault = self.active.pop(fault_id, None)
        if fault is None:
            raise SimulatorError(f"fault id {fault_id} is not active; active: {sorted(self.active)}")
        self._record("cleared", fault)
        return fault

    def clear_all(self, venue: str | None = None) -> list[Fault]:
        ids = [f.id for f in self.active.values() if venue is None or f.venue == venue]
        return [self.clear(i) for i in ids]

    def sweep(self) -> None:
        """Expire faults whose duration has passed.

        All of them leave `active` before any listener hears of one: a listener may look at the
        active faults (and so sweep again) while faults expiring in the same moment are announced.
        """
        now = self.clock.now()
        expired = [f for f in self.active.values() if f.expires_at and f.expires_at <= now]
        for fault in expired:
            del self.active[fault.id]
        for fault in expired:
            self._record("expired", fault)

    def matching(self, venue: str, endpoint: int | None, *kinds: FaultKind) -> list[Fault]:
        """Active faults of these kinds that apply to this venue/endpoint."""
        self.sweep()
        return [
            f
            for f in self.active.values()
            if f.kind in kinds
            and f.venue == venue
            and (f.endpoint is None or endpoint is None or f.endpoint == endpoint)
        ]

    def strike(self, venue: str, endpoint: int | None, kind: FaultKind) -> Fault | None:
        """The first matching fault of `kind` that fires on this request (its probability rolled)."""
        for fault in self.matching(venue, endpoint, kind):
            if fault.probability >= 1 or self._rng.random() < fault.probability:
                fault.hits += 1
                return fault
        return None

    def _record(self, event: str, fault: Fault) -> None:
        at = self.clock.now()
        entry = {"at": at.isoformat(), "event": event, "fault": fault.to_dict()}
        self.log.append(entry)
        log.warning(
            "fault_" + event,
            fault_id=fault.id,
            kind=str(fault.kind),
            venue=fault.venue,
            endpoint=fault.endpoint,
            probability=fault.probability,
            params=fault.params,
            at=at.isoformat(),
        )
        for listener in list(self.listeners):
            listener(event, fault)
