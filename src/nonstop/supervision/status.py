"""What the engine is doing (its phase, for logs and the API) and where the supervisory loops
report: readiness and alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nonstop.clock import Clock
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.health import Readiness

RaiseAlert = Callable[[str, AlertLevel, str, str], None]
ClearAlert = Callable[[str, str], None]


@dataclass
class EngineStatus:
    """What the engine is doing, for logs and (later) the API."""

    phase: str = "starting"  # starting | standby | connecting | reconciling | trading | stopping | stopped
    reconciled: bool = False
    venues_connected: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Supervision:
    """What every supervisory loop reports to: the engine's status and readiness, and its alerts."""

    clock: Clock
    status: EngineStatus
    readiness: Readiness
    alert: RaiseAlert
    clear: ClearAlert
