"""Binance websockets of one venue: market streams (`/ws`, `/stream`), the WebSocket API user-data
subscription (`/ws-api/v3`) and legacy listenKey streams (`/ws/<listenKey>`).

Each connection has a bounded outbox drained by its own writer task; a client too slow to keep
up is disconnected (as Binance does) rather than letting memory grow. A connection ends either
abruptly (`drop`: the TCP connection is aborted, the client sees 1006) or with a close frame
carrying a code (`close`: 1001 going away, 1008 policy violation, ...), sent by its writer after
what was already queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import WSMsgType, web

from nonstop.clock import utc_ms
from nonstop.sim.auth import check_signature, check_timestamp, key_holder
from nonstop.sim.faults import FaultKind
from nonstop.sim.market_streams import valid_stream
from nonstop.sim.rejects import BinanceReject
from nonstop.sim.ws_api import ws_api_call

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.ws")
OUTBOX_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """Queued in an outbox: the writer sends a close frame with this code and ends the connection."""

    code: int
    reason: str


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    endpoint: int
    combined: bool = False
    streams: set[str] = field(default_factory=set)
    account: str | None = None  # user data: the account whose events this connection receives
    user_wrapped: bool = False  # WebSocket API pushes {"subscriptionId", "event"}
    user_stream: str = ""  # a listenKey opened on /stream: events come as {"stream": key, "data": ...}
    outbox: asyncio.Queue[str | CloseFrame] = field(default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT))
    transport: asyncio.BaseTransport | None = None

    def push(self, text: str | CloseFrame) -> bool:
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class StreamHub:
    """Who is subscribed to what, and the handlers that serve the websocket paths."""

    def __init__(self, rt: VenueRuntime) -> None:
        self.rt = rt
        self.connections: set[Connection] = set()

    def add_routes(self, app: web.Application, endpoint: int) -> None:
        async def market(request: web.Request) -> web.StreamResponse:
            return await self._serve_market(request, endpoint)

        async def ws_api(request: web.Request) -> web.StreamResponse:
            return await self._serve_ws_api(request, endpoint)

        app.router.add_get("/ws", market)
        app.router.add_get("/ws/{name}", market)
        app.router.add_get("/stream", market)
        app.router.add_get("/ws-api/v3", ws_api)

    # ------------------------------------------------------------- publishing
    def publish(self, stream: str, payload: dict[str, Any]) -> None:
        raw = combined = None
        for conn in list(self.connections):
            if stream not in conn.streams:
                continue
            if conn.combined:
                combined = combined or json.dumps({"stream": stream, "data": payload})
                ok = conn.push(combined)
            else:
                raw = raw or json.dumps(payload)
                ok = conn.push(raw)
            if not ok:
                self._evict(conn, "slow consumer")

    def publish_user(self, account: str, payload: dict[str, Any]) -> None:
        for conn in list(self.connections):
            if conn.account != account:
                continue
            if conn.user_wrapped:
                text = json.dumps({"subscriptionId": 0, "event": payload})
            elif conn.user_stream:
                text = json.dumps({"stream": conn.user_stream, "data": payload})
            else:
                text = json.dumps(payload)
            if not conn.push(text):
                self._evict(conn, "slow consumer")

    def _evict(self, conn: Connection, reason: str) -> None:
        log.warning("ws_evicted", venue=self.rt.name, endpoint=conn.endpoint, reason=reason)
        self.connections.discard(conn)
        if conn.transport is not None:
            conn.transport.abort()

    def drop(self, endpoint: int | None, reason: str) -> int:
        """Abort matching connections abruptly (no close frame: the client sees 1006)."""
        victims = [c for c in self.connections if endpoint is None or c.endpoint == endpoint]
        for conn in victims:
            self._evict(conn, reason)
        return len(victims)

    def close(self, endpoint: int | None, code: int, reason: str) -> int:
        """Close matching connections with a close frame carrying `code` (the server initiates it)."""
        victims = [c for c in self.connections if endpoint is None or c.endpoint == endpoint]
        for conn in victims:
            self.connections.discard(conn)  # nothing more is published to it
            if not conn.push(CloseFrame(code, reason[:100])):
                self._evict(conn, reason)  # its outbox is full: no room for a close frame either
        return len(victims)

    # ---------------------------------------------------------------- serving
    async def _run(self, request: web.Request, conn: Connection, on_text: Any) -> web.WebSocketResponse:
        ws = conn.ws
        await ws.prepare(request)
        conn.transport = request.transport
        self.connections.add(conn)

        async def writer() -> None:
            while True:
                item = await conn.outbox.get()
                if isinstance(item, CloseFrame):
                    log.info("ws_closing", venue=self.rt.name, endpoint=conn.endpoint, code=item.code,
                             reason=item.reason)
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                await ws.send_str(item)

        try:
            async with asyncio.TaskGroup() as tg:
                write_task = tg.create_task(writer())
                try:
                    async for msg in ws:
                        if msg.type == WSMsgType.TEXT:
                            await on_text(msg.data)
                        elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                            break
                finally:
                    write_task.cancel()
        except* (ConnectionResetError, RuntimeError) as errors:
            log.info("ws_connection_lost", venue=self.rt.name, endpoint=conn.endpoint, error=str(errors.exceptions[0]))
        finally:
            self.connections.discard(conn)
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await ws.close()
        return ws

    async def _serve_market(self, request: web.Request, endpoint: int) -> web.StreamResponse:
        name = request.match_info.get("name", "")
        conn = Connection(web.WebSocketResponse(heartbeat=None, max_msg_size=65_536), endpoint)
        if request.path == "/stream":
            conn.combined = True
            for stream in (s for s in request.query.get("streams", "").split("/") if s):
                if stream in self.rt.listen_keys:
                    conn.account, conn.user_stream = self.rt.listen_keys[stream], stream
                elif valid_stream(stream):
                    conn.streams.add(stream)
                else:
                    raise BinanceReject(-1100, f"Invalid stream name {stream!r}.")
        elif "@" in name or name.startswith("!"):
            if not valid_stream(name):
                raise BinanceReject(-1100, f"Invalid stream name {name!r}.")
            conn.streams.add(name)
        elif name and name in self.rt.listen_keys:
            conn.account = self.rt.listen_keys[name]
        elif name and not name.isdigit():
            raise BinanceReject(-1125, "This listenKey does not exist.")

        async def on_text(data: str) -> None:
            conn.push(json.dumps(self._market_request(conn, data)))

        return await self._run(request, conn, on_text)

    def _market_request(self, conn: Connection, data: str) -> dict[str, Any]:
        try:
            msg = json.loads(data)
            method, params, req_id = msg["method"], msg.get("params", []), msg.get("id")
        except (ValueError, KeyError, TypeError):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object with 'method', 'params', 'id'"}}
        if method == "SUBSCRIBE" and isinstance(params, list) and all(isinstance(p, str) for p in params):
            bad = [p for p in params if not valid_stream(p) and p not in self.rt.listen_keys]
            if bad:  # Binance refuses the whole request and subscribes to nothing
                return {"error": {"code": 2, "msg": f"Invalid request: invalid stream name {bad[0]!r}"}, "id": req_id}
            for p in params:
                if p in self.rt.listen_keys:
                    conn.account = self.rt.listen_keys[p]
                    conn.user_stream = p if conn.combined else ""
                else:
                    conn.streams.add(p)
            return {"result": None, "id": req_id}
        if method == "UNSUBSCRIBE" and isinstance(params, list):
            conn.streams.difference_update(params)
            return {"result": None, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.streams), "id": req_id}
        return {"error": {"code": 1, "msg": f"Invalid request: unknown method or params for {method!r}"}, "id": req_id}

    async def _serve_ws_api(self, request: web.Request, endpoint: int) -> web.StreamResponse:
        conn = Connection(web.WebSocketResponse(heartbeat=None, max_msg_size=65_536), endpoint, user_wrapped=True)

        async def on_text(data: str) -> None:
            answer = self._api_request(conn, data)
            if answer is not None:
                conn.push(json.dumps(answer))

        return await self._run(request, conn, on_text)

    def _answer_dropped(self, conn: Connection, method: str, result: Any) -> bool:
        """Fault injection on the WebSocket API: `drop_order_response` places the order, then sends
        no answer (`hang`) or aborts the connection (`reset`), exactly as over REST."""
        if method != "order.place":
            return False
        drop = self.rt.faults.strike(self.rt.name, conn.endpoint, FaultKind.DROP_ORDER_RESPONSE)
        if drop is None:
            return False
        log.warning("order_response_dropped", venue=self.rt.name, endpoint=conn.endpoint, channel="ws-api",
                    client_order_id=result.get("clientOrderId") if isinstance(result, dict) else None,
                    mode=drop.params["mode"])
        if drop.params["mode"] == "reset":
            self._evict(conn, "order response dropped (reset)")
        return True

    def _api_request(self, conn: Connection, data: str) -> dict[str, Any] | None:
        try:
            msg = json.loads(data)
            req_id, method, params = msg.get("id"), msg["method"], msg.get("params", {})
            if not isinstance(params, dict):
                raise TypeError("params")
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": "Malformed request."}}
        now = utc_ms(self.rt.clock.now())
        try:
            if method == "ping":
                return {"id": req_id, "status": 200, "result": {}}
            if method == "time":
                return {"id": req_id, "status": 200, "result": {"serverTime": now}}
            if method == "userDataStream.subscribe.signature":
                flat = {k: str(v) for k, v in params.items()}
                account = key_holder(self.rt.venue, flat.get("apiKey"))
                payload = "&".join(f"{k}={flat[k]}" for k in sorted(flat) if k != "signature")
                check_signature(account, payload, flat.get("signature"))
                check_timestamp(flat, now)
                conn.account = account.account.api_key
                return {"id": req_id, "status": 200, "result": {"subscriptionId": 0}}
            if method == "userDataStream.unsubscribe":
                conn.account = None
                return {"id": req_id, "status": 200, "result": {}}
            result = ws_api_call(self.rt, method, params, now)
            if self._answer_dropped(conn, method, result):
                return None
            return {"id": req_id, "status": 200, "result": result}
        except BinanceReject as reject:
            return {"id": req_id, "status": reject.status, "error": reject.body()}
