"""OKX v5 spot REST (`/api/v5/...`) served by aiohttp for one endpoint of a simulated venue.

The same matching engine, accounts, market flow and faults as the Binance dialect; only the wire
differs: OK-ACCESS-* signed requests (base64 HMAC-SHA256 over timestamp + method + path + body, a
passphrase), the `{"code": "0", "msg": "", "data": [...]}` envelope with OKX's codes, `instId`
symbols (`BTC-USDT`), `clOrdId` client ids and per-endpoint rate limits (`okx_limits`).
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from nonstop.clock import utc_ms
from nonstop.config_sim import SimSymbol
from nonstop.sim import okx_rejects, okx_wire
from nonstop.sim.okx_call import OkxCall, sign
from nonstop.sim.okx_rejects import OkxReject
from nonstop.sim.okx_trade import OkxTrade
from nonstop.sim.records import account_uid

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.okx")
PREFIX = "/api/v5/"
TIMESTAMP_WINDOW_MS = 30_000  # OKX rejects a request whose OK-ACCESS-TIMESTAMP is 30 s off
BARS = {"1m": "1m", "3m": "3m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "2H": "2h", "4H": "4h",
        "6H": "6h", "12H": "12h", "1D": "1d", "6Hutc": "6h", "12Hutc": "12h", "1Dutc": "1d"}
ROUTES: dict[tuple[str, str], tuple[bool, str]] = {
    ("GET", "public/time"): (False, "time"),
    ("GET", "public/instruments"): (False, "instruments"),
    ("GET", "market/tickers"): (False, "tickers"),
    ("GET", "market/ticker"): (False, "ticker"),
    ("GET", "market/books"): (False, "books"),
    ("GET", "market/candles"): (False, "candles"),
    ("GET", "market/history-candles"): (False, "candles"),
    ("GET", "market/trades"): (False, "trades"),
    ("GET", "account/balance"): (True, "balance"),
    ("GET", "account/config"): (True, "config"),
    ("POST", "trade/order"): (True, "place_order"),
    ("POST", "trade/batch-orders"): (True, "place_batch"),
    ("GET", "trade/order"): (True, "get_order"),
    ("POST", "trade/cancel-order"): (True, "cancel_order"),
    ("POST", "trade/cancel-batch-orders"): (True, "cancel_batch"),
    ("GET", "trade/orders-pending"): (True, "orders_pending"),
    ("GET", "trade/orders-history"): (True, "orders_history"),
    ("GET", "trade/fills"): (True, "fills"),
    ("GET", "trade/fills-history"): (True, "fills"),
    ("POST", "trade/cancel-all-after"): (True, "cancel_all_after"),
}


class OkxRest(OkxTrade):
    """The handlers; one instance per endpoint, all endpoints of a venue share its runtime."""

    def __init__(self, rt: VenueRuntime, endpoint: int) -> None:
        self.rt = rt
        self.endpoint = endpoint
        self.by_inst = {okx_wire.inst_id(s): s for s in rt.venue.symbols.values()}

    def spec(self, inst: str | None) -> SimSymbol:
        found = self.by_inst.get(inst or "")
        if found is None:
            raise okx_rejects.INSTRUMENT_MISSING if inst else okx_rejects.missing("instId")
        return found

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(PREFIX)
        route = ROUTES.get((request.method, path))
        if route is None or not request.path.startswith(PREFIX):
            raise OkxReject("404", f"Not Found: {request.method} {request.path}", status=404)
        signed, name = route
        raw_body = ""
        if request.method == "POST":
            if request.content_length and request.content_length > self.rt.max_body_bytes:
                raise OkxReject("50000", f"Body too large (limit {self.rt.max_body_bytes} bytes).", status=413)
            raw_body = (await request.read()).decode("utf-8", errors="replace")
        params: dict[str, Any] = dict(request.query)
        batch: list[dict[str, Any]] = []
        if raw_body:
            try:
                doc = json.loads(raw_body)
            except ValueError:
                raise OkxReject("50002", "JSON syntax error", status=400) from None
            if isinstance(doc, list) and all(isinstance(d, dict) for d in doc):
                batch = doc
            elif isinstance(doc, dict):
                params.update(doc)
            else:
                raise OkxReject("50002", "JSON syntax error", status=400)
        now_ms = utc_ms(self.rt.clock.now())
        account = self._authenticate(request, raw_body, now_ms) if signed else ""
        inst = params.get("instId") if isinstance(params.get("instId"), str) else None
        self.rt.okx_limits.admit(path, request.remote or "?", account or None, inst, now_ms)
        call = OkxCall(params, batch, account, now_ms)
        result = await getattr(self, name)(request, call)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"code": "0", "msg": "", "data": result})

    def _authenticate(self, request: web.Request, raw_body: str, now_ms: int) -> str:
        h = request.headers
        key = h.get("OK-ACCESS-KEY")
        if not key:
            raise okx_rejects.KEY_MISSING
        account = self.rt.venue.accounts.get(key)
        if account is None or not account.secret:
            raise okx_rejects.KEY_INVALID
        passphrase = h.get("OK-ACCESS-PASSPHRASE")
        if not passphrase:
            raise okx_rejects.PASSPHRASE_MISSING
        if account.passphrase and not hmac.compare_digest(passphrase, account.passphrase):
            raise okx_rejects.PASSPHRASE_WRONG
        stamp = h.get("OK-ACCESS-TIMESTAMP", "")
        try:
            ts = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise okx_rejects.TIMESTAMP_INVALID from None
        if ts.tzinfo is None:
            raise okx_rejects.TIMESTAMP_INVALID
        if abs(now_ms - utc_ms(ts)) > TIMESTAMP_WINDOW_MS:
            raise okx_rejects.TIMESTAMP_EXPIRED
        query = request.rel_url.raw_query_string
        target = request.rel_url.raw_path + (f"?{query}" if query else "")
        expected = sign(account.secret, stamp + request.method + target + raw_body)
        if not hmac.compare_digest(expected, h.get("OK-ACCESS-SIGN", "")):
            raise okx_rejects.SIGN_INVALID
        return account.api_key

    # ------------------------------------------------------------ market data
    async def time(self, request: web.Request, call: OkxCall) -> Any:
        return [{"ts": str(call.now_ms)}]

    async def instruments(self, request: web.Request, call: OkxCall) -> Any:
        kind = call.text("instType", required=True)
        if kind not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise okx_rejects.bad_param("instType")
        if kind != "SPOT":
            return []
        wanted = call.text("instId")
        specs = [self.spec(wanted)] if wanted else list(self.rt.venue.symbols.values())
        return [okx_wire.instrument(s) for s in specs]

    def _ticker(self, spec: SimSymbol, now_ms: int) -> dict[str, Any]:
        t = self.rt.ticker(spec.symbol, now_ms)
        n = okx_wire.num
        return {
            "instType": "SPOT",
            "instId": okx_wire.inst_id(spec),
            "last": n(Decimal(t["lastPrice"])),
            "lastSz": "0",
            "askPx": n(Decimal(t["askPrice"])),
            "askSz": n(Decimal(t["askQty"])),
            "bidPx": n(Decimal(t["bidPrice"])),
            "bidSz": n(Decimal(t["bidQty"])),
            "open24h": n(Decimal(t["openPrice"])),
            "high24h": n(Decimal(t["highPrice"])),
            "low24h": n(Decimal(t["lowPrice"])),
            "volCcy24h": n(Decimal(t["quoteVolume"])),
            "vol24h": n(Decimal(t["volume"])),
            "sodUtc0": n(Decimal(t["openPrice"])),
            "sodUtc8": n(Decimal(t["openPrice"])),
            "ts": str(now_ms),
        }

    async def tickers(self, request: web.Request, call: OkxCall) -> Any:
        if call.text("instType", required=True) != "SPOT":
            return []
        return [self._ticker(s, call.now_ms) for s in self.rt.venue.symbols.values()]

    async def ticker(self, request: web.Request, call: OkxCall) -> Any:
        return [self._ticker(self.spec(call.text("instId", required=True)), call.now_ms)]

    async def books(self, request: web.Request, call: OkxCall) -> Any:
        spec = self.spec(call.text("instId", required=True))
        size = call.integer("sz") or 1
        if size > 400:
            raise okx_rejects.bad_param("sz")
        bids, asks = self.rt.venue.books[spec.symbol].depth(size)
        n = okx_wire.num
        return [{
            "asks": [[n(p), n(q), "0", "1"] for p, q in asks],
            "bids": [[n(p), n(q), "0", "1"] for p, q in bids],
            "ts": str(call.now_ms),
        }]

    async def candles(self, request: web.Request, call: OkxCall) -> Any:
        spec = self.spec(call.text("instId", required=True))
        bar = call.text("bar") or "1m"
        interval = BARS.get(bar)
        if interval is None:
            raise okx_rejects.bad_param("bar")
        limit = min(call.integer("limit") or 100, 300)
        after, before = call.integer("after"), call.integer("before")  # older than / newer than (ms)
        store = self.rt.candles[spec.symbol]
        start, end = (before + 1 if before is not None else None), (after - 1 if after is not None else None)
        await store.prepare(store.history_start(interval, start, end, limit, call.now_ms))  # older days on demand
        rows = store.klines(interval, start, end, 1000, call.now_ms)
        n = okx_wire.num
        out = [
            [str(k[0]), n(Decimal(str(k[1]))), n(Decimal(str(k[2]))), n(Decimal(str(k[3]))), n(Decimal(str(k[4]))),
             n(Decimal(str(k[5]))), n(Decimal(str(k[7]))), n(Decimal(str(k[7]))),
             "1" if int(str(k[6])) < call.now_ms else "0"]
            for k in rows
        ]
        out.reverse()  # newest first
        return out[:limit]

    async def trades(self, request: web.Request, call: OkxCall) -> Any:
        spec = self.spec(call.text("instId", required=True))
        limit = min(call.integer("limit") or 100, 500)
        rows = self.rt.venue.trades[spec.symbol][-limit:]
        return [
            {"instId": okx_wire.inst_id(spec), "side": "sell" if t.buyer_is_maker else "buy",
             "sz": okx_wire.num(t.qty), "px": okx_wire.num(t.price), "tradeId": str(t.trade_id),
             "ts": str(t.time_ms)}
            for t in reversed(rows)
        ]

    # ---------------------------------------------------------------- account
    async def balance(self, request: web.Request, call: OkxCall) -> Any:
        acct = self.rt.venue.accounts[call.account]
        wanted = set((call.text("ccy") or "").split(",")) - {""}
        n = okx_wire.num
        details = []
        for ccy in sorted(set(acct.free) | set(acct.locked)):
            if wanted and ccy not in wanted:
                continue
            free, locked = acct.free.get(ccy, Decimal(0)), acct.locked.get(ccy, Decimal(0))
            details.append({
                "ccy": ccy, "eq": n(free + locked), "cashBal": n(free + locked), "availBal": n(free),
                "frozenBal": n(locked), "ordFrozen": n(locked), "availEq": "", "uTime": str(call.now_ms),
            })
        return [{"uTime": str(call.now_ms), "totalEq": "", "details": details}]

    async def config(self, request: web.Request, call: OkxCall) -> Any:
        uid = str(account_uid(call.account))
        return [{"uid": uid, "mainUid": uid, "acctLv": "1", "posMode": "net_mode", "autoLoan": False,
                 "level": "Lv1", "perm": "read_only,trade", "label": "nonstop-sim"}]
