"""The HTTP API and dashboard: `create_app(source, controls, token=..., bind_host=...)`.

Routes (JSON unless noted; every response model is in the OpenAPI schema at `/openapi.json`):

    GET  /                     the dashboard (static HTML/JS/CSS from the package)
    GET  /metrics              Prometheus text exposition
    GET  /healthz /readyz      liveness / readiness, JSON bodies that say why (readyz: 200 or 503)
    GET  /api/status /api/degradation /api/venues /api/orders /api/positions /api/routing /api/balances
         /api/fills /api/alerts /api/series /api/snapshot
    GET  /api/stream           Server-Sent Events: a `snapshot` event every `stream_interval_s`
    GET  /drill/report         the latest `nonstop drill` scorecard (HTML), 404 before the first drill
    POST /api/halt             kill switch (bearer token always required)

Access rules are in `nonstop.api.auth`. Every string that leaves is passed through the source's
secret scrubber first (invariant 9), on top of the source's own care.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from nonstop.api.auth import LoopbackHostGuard, TokenPolicy
from nonstop.api.ports import Controls, DashboardSource
from nonstop.api.views import (
    AlertsView,
    BalanceView,
    DegradationView,
    FillView,
    HaltRequest,
    HaltResult,
    OrderView,
    PositionView,
    RoutingView,
    SeriesView,
    Snapshot,
    StatusView,
    VenueView,
)

log = structlog.get_logger("nonstop.api")
M = TypeVar("M", bound=BaseModel)

STATIC_DIR = Path(str(resources.files("nonstop.api") / "static"))
_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
}
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "missing or invalid bearer token"}}


def _scrub_obj(obj: Any, scrub: Any) -> Any:
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, list):
        return [_scrub_obj(v, scrub) for v in obj]
    if isinstance(obj, dict):
        return {k: _scrub_obj(v, scrub) for k, v in obj.items()}
    return obj


def snapshot(source: DashboardSource, *, fills: int = 50, alerts: int = 50) -> Snapshot:
    """Everything the dashboard shows, in one document."""
    return Snapshot(
        at=datetime.now(UTC),
        status=source.status(),
        degradation=source.degradation(),
        venues=source.venues(),
        orders=source.orders(),
        positions=source.positions(),
        balances=source.balances(),
        fills=source.fills(fills),
        alerts=source.alerts(alerts),
        series=source.series(),
    )


def create_app(
    source: DashboardSource,
    controls: Controls,
    *,
    token: str | None,
    bind_host: str = "127.0.0.1",
    stream_interval_s: float = 1.0,
    max_stream_clients: int = 16,
    drill_report: Path | None = None,
) -> FastAPI:
    """Build the API and dashboard app. Raises ValueError when `bind_host` is not loopback and no
    `token` is given, or when the token is shorter than 16 characters."""
    if stream_interval_s <= 0 or max_stream_clients < 1:
        raise ValueError("stream_interval_s must be > 0 and max_stream_clients >= 1")
    policy = TokenPolicy(token, bind_host)
    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="token",
        description="the API token: always for state-changing calls, for everything when not bound to loopback",
    )
    # (annotations are strings here: a local Annotated alias would not resolve, so Depends is the default)
    async def read_access(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        policy.check_read(credentials.credentials if credentials else None)

    async def write_access(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        policy.check(credentials.credentials if credentials else None)

    app = FastAPI(
        title="nonstop",
        summary="Monitoring, dashboard and kill switch of a nonstop trading engine",
        version="1",
        openapi_url=None,  # served below, behind the same access rule as every other route
        docs_url=None,
        redoc_url=None,
    )
    api = APIRouter(dependencies=[Depends(read_access)], responses=_UNAUTHORIZED)
    app.state.stopping = asyncio.Event()  # set by ApiServer on shutdown: live streams end
    app.state.source = source
    streams = {"open": 0}

    def clean(model: M) -> M:
        return type(model).model_validate(_scrub_obj(model.model_dump(mode="json"), source.scrub))

    def clean_list(items: list[M]) -> list[M]:
        return [clean(m) for m in items]

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in _SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path.startswith("/api/") or request.url.path in ("/", "/metrics", "/healthz", "/readyz"):
            response.headers.setdefault("cache-control", "no-store")
        return response

    if policy.local_only:
        app.add_middleware(LoopbackHostGuard)

    # ---- probes and metrics ------------------------------------------------------------------

    @api.get("/healthz", tags=["health"], summary="Liveness: the process and its event loop answer")
    async def healthz() -> JSONResponse:
        return JSONResponse(_scrub_obj(source.liveness(), source.scrub))

    @api.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: reconciled, leader, trading enabled, a venue usable (503 with reasons if not)",
        responses={503: {"description": "not ready; `reasons` says why"}},
    )
    async def readyz() -> JSONResponse:
        code, body = source.readiness()
        return JSONResponse(_scrub_obj(body, source.scrub), status_code=code)

    @api.get("/metrics", tags=["health"], summary="Prometheus metrics (text exposition format)")
    async def metrics() -> Response:
        body, content_type = source.metrics()
        return Response(source.scrub(body.decode()), media_type=content_type)

    # ---- JSON API ----------------------------------------------------------------------------

    @api.get("/api/status", tags=["state"])
    async def get_status() -> StatusView:
        return clean(source.status())

    @api.get("/api/degradation", tags=["state"], summary="Degradation level and why")
    async def get_degradation() -> DegradationView:
        return clean(source.degradation())

    @api.get("/api/venues", tags=["state"], summary="Venues and endpoints: latency, health, breaker state")
    async def get_venues() -> list[VenueView]:
        return clean_list(source.venues())

    @api.get("/api/orders", tags=["state"], summary="Open orders")
    async def get_orders() -> list[OrderView]:
        return clean_list(source.orders())

    @api.get("/api/positions", tags=["state"], summary="Net positions per venue and instrument")
    async def get_positions() -> list[PositionView]:
        return clean_list(source.positions())

    @api.get("/api/routing", tags=["state"], summary="Router ranking, stranded exposure, last decisions")
    async def get_routing() -> RoutingView:
        return clean(source.routing())

    @api.get("/api/balances", tags=["state"], summary="Balances per venue")
    async def get_balances() -> list[BalanceView]:
        return clean_list(source.balances())

    @api.get("/api/fills", tags=["state"], summary="Recent fills, newest first")
    async def get_fills(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[FillView]:
        return clean_list(source.fills(limit))

    @api.get("/api/alerts", tags=["state"], summary="Active alerts and recent alert transitions")
    async def get_alerts(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> AlertsView:
        return clean(source.alerts(limit))

    @api.get("/api/series", tags=["state"], summary="Latency and equity series")
    async def get_series() -> SeriesView:
        return clean(source.series())

    @api.get("/api/snapshot", tags=["state"], summary="Everything the dashboard shows, in one document")
    async def get_snapshot() -> Snapshot:
        return clean(snapshot(source))

    @api.get(
        "/api/stream",
        tags=["state"],
        summary="Live updates (Server-Sent Events): a `snapshot` event (a Snapshot document) every interval",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, 503: {"description": "too many live clients"}},
    )
    async def stream() -> StreamingResponse:
        # counted inside the generator, so a client gone before its first byte is never counted;
        # a burst of simultaneous connects may overshoot the bound by the burst, never drift
        if streams["open"] >= max_stream_clients:
            raise HTTPException(503, f"at most {max_stream_clients} live clients")
        return StreamingResponse(
            _events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def _events() -> AsyncIterator[str]:
        stopping: asyncio.Event = app.state.stopping
        streams["open"] += 1
        try:
            yield f"retry: {int(stream_interval_s * 3000)}\n\n"
            while not stopping.is_set():
                doc = clean(snapshot(source)).model_dump_json()
                yield f"event: snapshot\ndata: {doc}\n\n"
                try:
                    async with asyncio.timeout(stream_interval_s):
                        await stopping.wait()
                except TimeoutError:
                    continue
        finally:
            streams["open"] -= 1

    # ---- controls ----------------------------------------------------------------------------

    @api.post(
        "/api/halt",
        tags=["controls"],
        summary="Kill switch: stop strategies and cancel every open order (bearer token required)",
        dependencies=[Depends(write_access)],
    )
    async def halt(request: HaltRequest | None = None) -> HaltResult:
        reason = source.scrub((request or HaltRequest()).reason)
        log.warning("api_halt_requested", reason=reason)
        result = await controls.halt(reason)
        log.warning("api_halt_done", canceled=len(result.canceled), pending=len(result.pending))
        return clean(result)

    # ---- the dashboard -----------------------------------------------------------------------

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @api.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        # Swagger UI's own assets come from its CDN: this page needs internet access, the API does not
        return get_swagger_ui_html(openapi_url="/openapi.json", title="nonstop API")

    @api.get("/drill/report", tags=["drills"], summary="The latest drill scorecard (HTML, self-contained)",
             response_class=FileResponse, responses={404: {"description": "no drill has written a report yet"}})
    async def drill_scorecard() -> FileResponse:
        if drill_report is None or not await asyncio.to_thread(drill_report.is_file):
            raise HTTPException(404, f"no drill report yet at {drill_report}: run `nonstop drill`")
        # inline styles and embedded PNGs only: nothing else may load
        csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
        return FileResponse(drill_report, media_type="text/html", headers={"content-security-policy": csp})

    app.include_router(api)

    @app.get("/", include_in_schema=False)  # the static shell: code, no data (see nonstop.api.auth)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
