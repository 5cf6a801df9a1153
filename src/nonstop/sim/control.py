"""The simulator's control API (its own port, never part of the Binance API): faults and inspection.

GET    /control/health                     liveness
GET    /control/venues                     venues, endpoint URLs, symbols, fair and last prices
GET    /control/faults                     active faults
POST   /control/faults                     {"kind", "venue", "endpoint"?, "probability"?, "duration_s"?, "params"?}
DELETE /control/faults/{id}                clear one fault
DELETE /control/faults[?venue=NAME]        clear all (of one venue)
GET    /control/faults/log                 every set / cleared / expired, with UTC timestamps
GET    /control/venues/{venue}/orders      every order request received, with its sender [?client_order_id=...]
GET    /control/venues/{venue}/duplicates  client order ids carried by more than one accepted order
GET    /control/venues/{venue}/balances    balances of an account (?api_key=..., default the demo key)
GET    /control/venues/{venue}/trades      the trades (fills) of an account (?api_key=..., ?symbol=BTCUSDT)
GET    /control/venues/{venue}/counters    how many 429 and 418 answers the venue has given
POST   /control/accounts                   {"api_key", "secret", "balances"?}: open an account on every venue
POST   /control/keys                       {"api_key", "secret", "label", "account_key"?}: one more key pair of an
                                           account (default the demo account); its orders record `label` as sender
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nonstop.errors import SimulatorError
from nonstop.sim import wire

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime
    from nonstop.sim.server import SimServer


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def make_control_app(sim: SimServer) -> web.Application:
    routes = web.RouteTableDef()

    def venue_of(request: web.Request) -> VenueRuntime:
        name = request.match_info["venue"]
        if name not in sim.venues:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"venue {name!r} is unknown; allowed: {sorted(sim.venues)}"}),
                content_type="application/json",
            )
        return sim.venues[name]

    async def body_of(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as err:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": f"body is not JSON: {err}"}), content_type="application/json"
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body must be a JSON object"}), content_type="application/json"
            )
        return body

    @routes.get("/control/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @routes.get("/control/venues")
    async def venues(request: web.Request) -> web.Response:
        return web.json_response(
            {
                name: {
                    "endpoints": rt.urls,
                    "symbols": sorted(rt.venue.symbols),
                    "fair": {s: str(rt.flow.fair(s)) for s in rt.venue.symbols},
                    "last": {s: str(p) for s, p in rt.venue.last_price.items()},
                    "frozen": rt.flow.control.frozen,
                }
                for name, rt in sim.venues.items()
            }
        )

    @routes.get("/control/faults")
    async def faults(request: web.Request) -> web.Response:
        sim.faults.sweep()
        return web.json_response([f.to_dict() for f in sim.faults.active.values()])

    @routes.post("/control/faults")
    async def set_fault(request: web.Request) -> web.Response:
        body = await body_of(request)
        allowed = {"kind", "venue", "endpoint", "probability", "duration_s", "params"}
        if set(body) - allowed:
            return _error(400, f"unknown fields {sorted(set(body) - allowed)}; allowed: {sorted(allowed)}")
        try:
            endpoint = body.get("endpoint")
            fault = sim.faults.set(
                str(body.get("kind", "")),
                str(body.get("venue", "")),
                endpoint=int(endpoint) if endpoint is not None else None,
                probability=float(body.get("probability", 1.0)),
                duration_s=float(body["duration_s"]) if body.get("duration_s") is not None else None,
                params=body.get("params") or {},
            )
        except (TypeError, ValueError) as err:
            return _error(400, f"bad field value: {err}")
        except SimulatorError as err:
            return _error(400, str(err))
        return web.json_response(fault.to_dict(), status=201)

    @routes.delete("/control/faults/{fault_id}")
    async def clear_fault(request: web.Request) -> web.Response:
        raw = request.match_info["fault_id"]
        if not raw.isdigit():
            return _error(400, f"fault id {raw!r} must be an integer")
        try:
            return web.json_response(sim.faults.clear(int(raw)).to_dict())
        except SimulatorError as err:
            return _error(404, str(err))

    @routes.delete("/control/faults")
    async def clear_all(request: web.Request) -> web.Response:
        venue = request.query.get("venue")
        if venue is not None and venue not in sim.venues:
            return _error(404, f"venue {venue!r} is unknown; allowed: {sorted(sim.venues)}")
        return web.json_response([f.to_dict() for f in sim.faults.clear_all(venue)])

    @routes.get("/control/faults/log")
    async def fault_log(request: web.Request) -> web.Response:
        return web.json_response(list(sim.faults.log))

    @routes.get("/control/venues/{venue}/orders")
    async def orders(request: web.Request) -> web.Response:
        rt = venue_of(request)
        cid = request.query.get("client_order_id")
        rows = [r for r in rt.venue.received if cid is None or r.client_order_id == cid]
        out = []
        for r in rows:
            order = rt.venue.orders.get(r.order_id) if r.order_id is not None else None
            out.append(
                {
                    "client_order_id": r.client_order_id,
                    "symbol": r.symbol,
                    "time": r.time_ms,
                    "order_id": r.order_id,
                    "rejected": r.rejected,
                    "sender": r.sender,
                    "order": wire.order(order) if order is not None else None,
                }
            )
        return web.json_response(out)

    @routes.get("/control/venues/{venue}/duplicates")
    async def duplicates(request: web.Request) -> web.Response:
        return web.json_response(venue_of(request).venue.duplicates())

    @routes.get("/control/venues/{venue}/balances")
    async def balances(request: web.Request) -> web.Response:
        rt = venue_of(request)
        key = request.query.get("api_key", sim.credentials.api_key)
        acct = rt.venue.accounts.get(key)
        if acct is None or not acct.secret:
            return _error(404, "no such account")
        return web.json_response(
            {
                a: {"free": str(acct.free.get(a, 0)), "locked": str(acct.locked.get(a, 0))}
                for a in sorted(set(acct.free) | set(acct.locked))
            }
        )

    @routes.get("/control/venues/{venue}/trades")
    async def trades(request: web.Request) -> web.Response:
        rt = venue_of(request)
        key = request.query.get("api_key", sim.credentials.api_key)
        acct = rt.venue.accounts.get(key)
        if acct is None or not acct.secret:
            return _error(404, "no such account")
        symbol = request.query.get("symbol")
        if symbol is not None and symbol not in rt.venue.symbols:
            return _error(404, f"symbol {symbol!r} is unknown; allowed: {sorted(rt.venue.symbols)}")
        rows = [t for t in rt.venue.account_trades.get(key, []) if symbol is None or t["symbol"] == symbol]
        return web.json_response([{k: str(v) if isinstance(v, Decimal) else v for k, v in t.items()} for t in rows])

    @routes.get("/control/venues/{venue}/counters")
    async def counters(request: web.Request) -> web.Response:
        rt = venue_of(request)
        return web.json_response({"http_429": rt.answers[429], "http_418": rt.answers[418]})

    @routes.post("/control/accounts")
    async def add_account(request: web.Request) -> web.Response:
        body = await body_of(request)
        key, secret = body.get("api_key"), body.get("secret")
        if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
            return _error(400, "api_key and secret must be non-empty strings")
        try:
            balances = {str(a): Decimal(str(v)) for a, v in (body.get("balances") or {}).items()} or None
        except (InvalidOperation, AttributeError):
            return _error(400, "balances must map asset names to decimal amounts")
        sim.add_account(key, secret, balances)
        return web.json_response({"api_key": key}, status=201)

    @routes.post("/control/keys")
    async def add_key(request: web.Request) -> web.Response:
        body = await body_of(request)
        key, secret, label = body.get("api_key"), body.get("secret"), body.get("label")
        owner = body.get("account_key", sim.credentials.api_key)
        if not all(isinstance(v, str) and v for v in (key, secret, label, owner)):
            return _error(400, "api_key, secret, label (and account_key, if given) must be non-empty strings")
        if not re.fullmatch(r"[a-z0-9_-]{1,30}", str(label)):
            return _error(400, "label must be 1..30 characters of [a-z0-9_-]")
        try:
            sim.add_api_key(str(owner), str(key), str(secret), str(label))
        except SimulatorError as err:
            return _error(400, str(err))
        return web.json_response({"label": label}, status=201)

    app = web.Application(client_max_size=65_536)
    app.add_routes(routes)
    return app
