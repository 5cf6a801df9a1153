"""The aiohttp application of one endpoint, in its venue's dialect (Binance spot or OKX v5).

Every dialect shares the venue's runtime (matching engine, accounts, market flow, limits, faults);
each contributes its REST routes, its websocket paths and how its refusals look (`WireErrors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from nonstop.sim import okx_rejects
from nonstop.sim.chaos_middleware import WireErrors, fault_middleware
from nonstop.sim.okx_rejects import OkxReject
from nonstop.sim.okx_rest import OkxRest
from nonstop.sim.rejects import BinanceReject
from nonstop.sim.rest import make_rest_app

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime


def okx_errors() -> WireErrors:
    return WireErrors(
        rejects=(OkxReject, BinanceReject),
        maintenance=lambda: okx_rejects.MAINTENANCE,
        storm=lambda ip, now, retry_after: okx_rejects.rate_limited(retry_after),
        internal=lambda: okx_rejects.INTERNAL,
        headers=lambda ip, now, reject: {},
        translate=lambda r: okx_rejects.from_binance(r) if isinstance(r, BinanceReject) else r,
    )


def make_okx_app(rt: VenueRuntime, endpoint: int) -> web.Application:
    rest = OkxRest(rt, endpoint)
    app = web.Application(middlewares=[fault_middleware(rt, endpoint, okx_errors())], client_max_size=rt.max_body_bytes)
    app.router.add_route("*", "/api/{tail:.*}", rest.dispatch)
    rt.okx_streams.add_routes(app, endpoint)
    return app


def make_app(rt: VenueRuntime, endpoint: int) -> web.Application:
    if rt.dialect == "okx":
        return make_okx_app(rt, endpoint)
    return make_rest_app(rt, endpoint)
