"""What the API asks of the engine: a read side (`DashboardSource`) and a write side (`Controls`).

The app depends on these two protocols only, never on `Engine`: tests serve it from fakes, and
`nonstop.api.engine_source` adapts a running engine to them.
"""

from __future__ import annotations

from typing import Any, Protocol

from nonstop.api.views import (
    AlertsView,
    BalanceView,
    DegradationView,
    FillView,
    HaltResult,
    OrderView,
    PositionView,
    RoutingView,
    SeriesView,
    StatusView,
    VenueView,
)


class DashboardSource(Protocol):
    """Read-only views of the engine. Every method is cheap and synchronous (no I/O) except `run`."""

    def status(self) -> StatusView: ...

    def degradation(self) -> DegradationView: ...

    def venues(self) -> list[VenueView]: ...

    def orders(self) -> list[OrderView]:
        """Open orders."""
        ...

    def positions(self) -> list[PositionView]: ...

    def routing(self) -> RoutingView:
        """The router's ranking, stranded exposure and last decisions (empty when nothing routes)."""
        return RoutingView()

    def balances(self) -> list[BalanceView]: ...

    def fills(self, limit: int) -> list[FillView]:
        """The `limit` most recent fills, newest first."""
        ...

    def alerts(self, limit: int) -> AlertsView: ...

    def series(self) -> SeriesView:
        """Latency and equity history (bounded)."""
        ...

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus exposition and its content type."""
        ...

    def liveness(self) -> dict[str, Any]: ...

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body): 200 when ready, 503 with the reasons when not."""
        ...

    def scrub(self, text: str) -> str:
        """`text` with every secret the source knows of masked (the app's last line of defence)."""
        ...

    async def run(self) -> None:
        """Background work (sampling the series) until cancelled; `serve` runs it beside the server."""
        ...


class Controls(Protocol):
    """State-changing calls; the app only lets them through with the bearer token."""

    async def halt(self, reason: str) -> HaltResult:
        """Kill switch: stop strategies and cancel every open order. Idempotent."""
        ...
