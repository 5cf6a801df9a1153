"""Order entry over Binance's WebSocket API (`order.place`, `order.cancel`, `order.status` on ws-api).

One persistent connection per venue, kept up by a supervised task (reconnect with backoff), with
requests matched to answers by id. Each request is signed exactly as ccxt signs ws-api requests
(`sign`: ccxt.pro's own `sign_params`, HMAC/RSA/Ed25519 by the key) and carries our client order
id, so what the venue sees is what REST would have sent.

Why hand-written, not ccxt.pro's `create_order_ws`: order entry needs to know, for every request,
whether any byte of it may have left — "not up, nothing sent" (the adapter then sends over REST)
versus "sent, answer lost" (the order is IN DOUBT exactly as over REST: a timeout, a dropped
connection or a 5xx-like status after the send all raise `OutcomeUnknownError`). ccxt's websocket
client connects lazily inside the call and reports both as the same NetworkError, has no per-request
timeout, and parses every answer through its unified layer, which the adapter does not need (it
reads Binance's raw payload).

Error answers (`{"status": 400, "error": {"code": -2010, ...}}`) are classified by the same
`classify` and Binance code table as REST answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog

from nonstop.clock import Clock
from nonstop.connectivity import OperationKind, classify
from nonstop.connectivity.classify import VenueCodes
from nonstop.connectivity.errors import OutcomeUnknownError, RequestNotSent, TransientNetworkError, VenueError

log = structlog.get_logger("nonstop.venues.binance_ws_api")

Signer = Callable[[dict[str, Any]], dict[str, Any]]
UrlPicker = Callable[[], tuple[str, ssl.SSLContext | None]]


class WsApiDown(RequestNotSent):
    """The ws-api session is not up: nothing was sent (the caller uses REST)."""


class WsApiSession:
    """A persistent, supervised ws-api connection carrying signed requests."""

    def __init__(self, venue: str, pick_url: UrlPicker, sign: Signer, clock: Clock, *, codes: VenueCodes,
                 timeout_s: float, min_backoff_s: float = 0.25, max_backoff_s: float = 15.0) -> None:
        self.venue = venue
        self._pick_url = pick_url
        self._sign = sign
        self._clock = clock
        self._codes = codes
        self._timeout_s = timeout_s
        self._min_backoff, self._max_backoff = min_backoff_s, max_backoff_s
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._url = ""
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connects = 0  # successful connections so far (for tests and metrics)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the supervisor (idempotent); it connects and reconnects until `stop`."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"ws-api-{self.venue}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def up(self) -> bool:
        """True while the connection is open: a request now goes over it."""
        return self._up.is_set() and self._ws is not None and not self._ws.closed

    async def wait_up(self, timeout_s: float) -> bool:
        """Until the session is up, or `timeout_s` (loop time) passed; True if it is up."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._up.wait()
        return self.up

    async def _supervise(self) -> None:
        backoff = self._min_backoff
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    url, ssl_context = self._pick_url()
                    async with asyncio.timeout(self._timeout_s):
                        ws = await http.ws_connect(url, heartbeat=20.0, ssl=ssl_context if ssl_context else True,
                                                   max_msg_size=4 * 1024 * 1024)
                except (aiohttp.ClientError, OSError, TimeoutError, RequestNotSent) as err:
                    log.info("ws_api_connect_failed", venue=self.venue, error=str(err), retry_in_s=backoff)
                    await self._clock.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                self._ws, self._url = ws, url
                self.connects += 1
                self._up.set()
                log.info("ws_api_up", venue=self.venue, url=url)
                started = self._clock.monotonic()
                try:
                    await self._read(ws)
                finally:
                    self._up.clear()
                    self._ws = None
                    self._fail_pending("the ws-api connection closed before the answer")
                    with contextlib.suppress(aiohttp.ClientError, OSError, RuntimeError):
                        await ws.close()
                log.warning("ws_api_down", venue=self.venue, url=url, close_code=ws.close_code)
                if self._clock.monotonic() - started > 5 * self._max_backoff:
                    backoff = self._min_backoff  # it had been up a good while: a fresh failure
                await self._clock.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                if msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    return
                continue
            try:
                answer = json.loads(msg.data)
            except ValueError:
                log.error("ws_api_bad_message", venue=self.venue, head=str(msg.data)[:200])
                continue
            fut = self._pending.pop(str(answer.get("id")), None) if isinstance(answer, dict) else None
            if fut is not None and not fut.done():
                fut.set_result(answer)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionResetError(why))

    # ------------------------------------------------------------- requests
    async def request(self, method: str, params: dict[str, Any], operation: OperationKind) -> Any:
        """Send one signed request; its `result`, or a classified error.

        Raises `WsApiDown` when the session is not up (nothing sent), `OutcomeUnknownError` for a
        write whose answer was lost (timeout, connection gone after the send), and the classified
        venue error of an error answer.
        """
        ws = self._ws
        if ws is None or not self.up:
            raise WsApiDown(f"venue {self.venue!r}: the ws-api session is not up")
        req_id = f"n{next(self._ids)}"
        payload = json.dumps({"id": req_id, "method": method, "params": self._sign(dict(params))})
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            try:
                await ws.send_str(payload)
                async with asyncio.timeout(self._timeout_s):
                    answer = await fut
            except (ConnectionError, aiohttp.ClientError, RuntimeError, TimeoutError) as err:
                raise self._lost(err, method, operation) from err
        finally:
            self._pending.pop(req_id, None)
        status = int(answer.get("status", 0) or 0)
        if status == 200:
            return answer.get("result")
        raise classify(None, http_status=status or None, body=answer.get("error"), operation=operation,
                       venue=self.venue, endpoint=self._url, codes=self._codes)

    def _lost(self, err: BaseException, method: str, operation: OperationKind) -> VenueError:
        """The request may have reached the venue and its answer is lost: unknown for a write."""
        kind = OutcomeUnknownError if operation.is_write else TransientNetworkError
        return kind(f"ws-api {method}: no answer ({type(err).__name__}: {err})", venue=self.venue,
                    endpoint=self._url, operation=operation, original=err)
