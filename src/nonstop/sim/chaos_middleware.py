"""The aiohttp middleware that applies injected faults to an endpoint and renders its dialect's errors.

The faults are the same on every dialect; only how a refusal looks on the wire differs (`WireErrors`:
Binance's `{"code": -N, "msg"}` with usage headers, or OKX's `{"code": "N", "msg", "data"}`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from nonstop.clock import utc_ms
from nonstop.sim import rejects
from nonstop.sim.faults import FaultKind
from nonstop.sim.rejects import BinanceReject

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.http")
_PLAIN = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _plain(status: int) -> web.Response:
    return web.Response(
        status=status, text=f"<html><body><h1>{status} {_PLAIN[status]}</h1></body></html>", content_type="text/html"
    )


def _render(reject: Any, extra: dict[str, str]) -> web.Response:
    return web.json_response(reject.body(), status=reject.status, headers={**extra, **reject.headers})


@dataclass(frozen=True)
class WireErrors:
    """How one dialect refuses: its reject types and the refusals the faults produce."""

    rejects: tuple[type[Exception], ...]
    maintenance: Callable[[], Exception]
    storm: Callable[[str, int, int], Exception]  # (ip, now_ms, retry_after_s) -> the 429 to raise
    internal: Callable[[], Exception]
    headers: Callable[[str, int, Any], dict[str, str]]  # extra headers on a refusal (ip, now_ms, reject)
    translate: Callable[[Exception], Any] = lambda reject: reject  # a leaked engine reject, in dialect


def binance_errors(rt: VenueRuntime) -> WireErrors:
    return WireErrors(
        rejects=(BinanceReject,),
        maintenance=lambda: rejects.MAINTENANCE,
        storm=rt.limits.storm,
        internal=lambda: rejects.UNKNOWN,
        headers=lambda ip, now, reject: rt.limits.headers(ip, now) if reject.status not in (418,) else {},
    )


_KEY_HEADERS = ("X-MBX-APIKEY", "OK-ACCESS-KEY", "OK-ACCESS-SIGN")
_PRIVATE_PATHS = ("/ws-api/", "/ws/v5/private", "/api/v5/account", "/api/v5/trade", "/api/v5/asset")


def is_private(rt: VenueRuntime, request: web.Request) -> bool:
    """A request that carries an API key or a signature, or opens a private channel (the WebSocket
    API, OKX's private websocket, a listen key's stream): what a keyless client never sends."""
    path = request.path
    return (any(h in request.headers for h in _KEY_HEADERS) or "signature" in request.query
            or path.startswith(_PRIVATE_PATHS) or path.removeprefix("/ws/") in rt.listen_keys
            or any(s in rt.listen_keys for s in request.query.get("streams", "").split("/")))


def fault_middleware(
    rt: VenueRuntime, endpoint: int, wire: WireErrors | None = None
) -> Callable[[web.Request, HandlerFn], Awaitable[web.StreamResponse]]:
    faults, venue = rt.faults, rt.name
    errors = wire or binance_errors(rt)

    @web.middleware
    async def middleware(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
        ip = request.remote or "?"
        if is_private(rt, request):
            rt.private_requests.append(f"{request.method} {request.path}")
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        if faults.strike(venue, None, FaultKind.VENUE_OUTAGE):
            return _plain(503)
        if faults.strike(venue, endpoint, FaultKind.BLACKHOLE):
            return await rt.drop_response(request, "hang")
        if faults.strike(venue, endpoint, FaultKind.RESET):
            return await rt.drop_response(request, "reset")
        slow = faults.strike(venue, endpoint, FaultKind.LATENCY)
        if slow is not None:
            if request.body_exists and request.content_length is not None \
                    and request.content_length <= rt.max_body_bytes:
                await request.read()  # a request that was sent executes even if its client leaves meanwhile
            await asyncio.sleep(slow.params["ms"] / 1000)
        if is_ws:
            if faults.strike(venue, endpoint, FaultKind.WS_DISCONNECT):
                return _plain(503)
            if faults.strike(venue, endpoint, FaultKind.MAINTENANCE):
                return _render(errors.maintenance(), {})
            return await handler(request)
        response = await answer(request, handler, ip)
        if response.status in (418, 429):
            rt.answers[response.status] += 1
        return response

    async def answer(request: web.Request, handler: HandlerFn, ip: str) -> web.StreamResponse:
        now = utc_ms(rt.clock.now())
        try:
            if faults.strike(venue, endpoint, FaultKind.MAINTENANCE):
                raise errors.maintenance()
            broken = faults.strike(venue, endpoint, FaultKind.HTTP_ERROR)
            if broken is not None:
                return _plain(broken.params["status"])
            storm = faults.strike(venue, endpoint, FaultKind.RATE_LIMIT)
            if storm is not None:
                raise errors.storm(ip, now, storm.params["retry_after"])
            response = await handler(request)
            if request.method != "GET":
                late = faults.strike(venue, endpoint, FaultKind.ERROR_AFTER_EXECUTE)
                if late is not None:  # executed (an order placed or canceled), but the client learns nothing
                    log.warning("error_after_execute", venue=venue, endpoint=endpoint, path=request.path,
                                executed_status=response.status, answered=late.params["status"])
                    return _plain(late.params["status"])
            return response
        except errors.rejects as reject:
            shown = errors.translate(reject)
            return _render(shown, errors.headers(ip, now, shown))
        except web.HTTPException:
            raise
        except Exception:  # a bug in the simulator must still answer in the dialect's error shape
            log.exception("sim_internal_error", venue=venue, endpoint=endpoint, path=request.path)
            return _render(errors.internal(), {})

    return middleware
