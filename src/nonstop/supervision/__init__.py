"""The engine's supervisory loops: connecting the venues, reconciling (until clean, then forever),
the user-data streams, journal snapshots and the orderly stop. The composition root
(`nonstop.engine`) builds the parts and hands them to these loops; each loop reports to the
engine's `Supervision` (phase, readiness, alerts)."""

from nonstop.supervision.connect import connect_venues
from nonstop.supervision.reconciling import ReconcileLoop
from nonstop.supervision.snapshots import write_snapshots
from nonstop.supervision.status import EngineStatus, Supervision
from nonstop.supervision.stopping import stop_trading
from nonstop.supervision.user_streams import UserStreams

__all__ = [
    "EngineStatus",
    "ReconcileLoop",
    "Supervision",
    "UserStreams",
    "connect_venues",
    "stop_trading",
    "write_snapshots",
]
