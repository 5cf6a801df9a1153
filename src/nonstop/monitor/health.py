"""Health model for `/healthz` (the process is alive) and `/readyz` (it may trade).

No HTTP here: a route calls `liveness.body()` or `readiness.response()` and returns the status
code and JSON body as they are. Reasons are scrubbed of secrets (they reach the dashboard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nonstop.clock import Clock
from nonstop.monitor.scrub import Scrubber


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    reason: str
    since: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "since": self.since.isoformat()}


class Liveness:
    """`/healthz`: if the loop can answer, the process is alive."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._started = clock.now()
        self._started_mono = clock.monotonic()

    def body(self) -> dict[str, Any]:
        return {
            "status": "alive",
            "started_at": self._started.isoformat(),
            "uptime_seconds": round(self._clock.monotonic() - self._started_mono, 3),
        }


class Readiness:
    """`/readyz`: ready means reconciled, leader, trading enabled and at least one venue usable.

    The engine sets each condition as it changes; every condition starts *not* ready except
    `trading` (enabled until a halt or kill switch says otherwise).
    """

    def __init__(self, clock: Clock, *, scrubber: Scrubber | None = None) -> None:
        self._clock = clock
        self._scrubber = scrubber or Scrubber()
        now = clock.now()
        self._checks: dict[str, Check] = {
            "reconciled": Check(False, "not reconciled yet", now),
            "leader": Check(False, "no leader lease yet", now),
            "trading": Check(True, "", now),
        }
        self._venues: dict[str, Check] = {}

    def _set(self, table: dict[str, Check], name: str, ok: bool, reason: str) -> None:
        old = table.get(name)
        reason = self._scrubber.scrub(reason)
        since = old.since if old is not None and old.ok == ok else self._clock.now()
        table[name] = Check(ok, reason, since)

    def set_reconciled(self, ok: bool, reason: str = "") -> None:
        self._set(self._checks, "reconciled", ok, reason or ("" if ok else "not reconciled"))

    def set_leader(self, ok: bool, reason: str = "") -> None:
        self._set(self._checks, "leader", ok, reason or ("" if ok else "not the leader"))

    def set_trading_enabled(self, ok: bool, reason: str = "") -> None:
        """False while halted (kill switch, degradation level `halted`); say why in `reason`."""
        self._set(self._checks, "trading", ok, reason or ("" if ok else "trading halted"))

    def set_venue_ok(self, name: str, ok: bool, reason: str = "") -> None:
        self._set(self._venues, self._scrubber.scrub(name), ok, reason or ("" if ok else "venue unavailable"))

    def remove_venue(self, name: str) -> None:
        self._venues.pop(name, None)

    def reasons(self) -> list[str]:
        """Why not ready, one line per failing condition (empty when ready)."""
        out = [f"{name}: {c.reason}" for name, c in self._checks.items() if not c.ok]
        if not self._venues:
            out.append("venues: no venue has reported")
        elif not any(c.ok for c in self._venues.values()):
            out.append("venues: none usable (" + "; ".join(f"{n}: {c.reason}" for n, c in self._venues.items()) + ")")
        return out

    @property
    def ready(self) -> bool:
        return not self.reasons()

    def body(self) -> dict[str, Any]:
        reasons = self.reasons()
        return {
            "ready": not reasons,
            "reasons": reasons,
            "checks": {name: c.to_dict() for name, c in self._checks.items()},
            "venues": {name: c.to_dict() for name, c in sorted(self._venues.items())},
        }

    def response(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body): 200 when ready, 503 with the reasons when not."""
        body = self.body()
        return (200 if body["ready"] else 503), body
