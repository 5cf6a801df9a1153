"""OKX v5 spot REST (`/api/v5/...`) served by aiohttp for one endpoint of a simulated venue.

The same matching engine, accounts, market flow and faults as the Binance dialect; only the wire
differs: OK-ACCESS-* signed requests (base64 HMAC-SHA256 over timestamp + method + path + body, a
passphrase), the `{"code": "0", "msg": "", "data": [...]}` envelope with OKX's codes, `instId`
symbols (`BTC-USDT`), `clOrdId` client ids and per-endpoint rate limits (`okx_limits`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from nonstop.clock import utc_ms
from nonstop.config import SimSymbol
from nonstop.sim import okx_rejects, okx_wire, rejects
from nonstop.sim.faults import FaultKind
from nonstop.sim.okx_rejects import OkxReject
from nonstop.sim.records import account_uid
from nonstop.sim.rejects import BinanceReject

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.okx")
PREFIX = "/api/v5/"
TIMESTAMP_WINDOW_MS = 30_000  # OKX rejects a request whose OK-ACCESS-TIMESTAMP is 30 s off
CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
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


def sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


class OkxCall:
    """One parsed call: its parameters (query or JSON body), the account when signed, the time."""

    def __init__(self, params: dict[str, Any], batch: list[dict[str, Any]], account: str, now_ms: int) -> None:
        self.params = params
        self.batch = batch
        self.account = account
        self.now_ms = now_ms

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.params.get(name)
        if value in (None, ""):
            if required:
                raise okx_rejects.missing(name)
            return None
        return str(value)

    def decimal(self, name: str, *, required: bool = True) -> Decimal | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise okx_rejects.bad_param(name) from None
        if not d.is_finite() or d <= 0:
            raise okx_rejects.bad_param(name)
        return d

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.isdigit():
            raise okx_rejects.bad_param(name)
        return int(value)


class OkxRest:
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
        rows = self.rt.candles[spec.symbol].klines(
            interval, before + 1 if before is not None else None, after - 1 if after is not None else None,
            1000, call.now_ms,
        )
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

    # ------------------------------------------------------------------ orders
    async def place_order(self, request: web.Request, call: OkxCall) -> Any:
        order = self._place(call, call.params)
        return await self._placed(request, call, [(str(call.params.get("clOrdId") or ""), order)])

    async def place_batch(self, request: web.Request, call: OkxCall) -> Any:
        if not call.batch or len(call.batch) > 20:
            raise okx_rejects.bad_param("orders (1..20 per request)")
        placed: list[tuple[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for entry in call.batch:
            cl = str(entry.get("clOrdId") or "")
            try:
                placed.append((cl, self._place(call, entry)))
            except OkxReject as reject:
                row = reject.data[0] if reject.data else {"sCode": reject.code, "sMsg": reject.msg}
                failures.append({"clOrdId": cl, "ordId": "", "tag": "", "ts": str(call.now_ms),
                                 "sCode": row["sCode"], "sMsg": row["sMsg"]})
        if failures:
            ok = [self._ack(call, cl, o) for cl, o in placed]
            code = "1" if not placed else "2"
            raise OkxReject(code, "All operations failed" if code == "1" else "Bulk operation partially succeeded",
                            data=ok + failures)
        return await self._placed(request, call, placed)

    @staticmethod
    def _ack(call: OkxCall, cl: str, order: Any) -> dict[str, Any]:
        return {"clOrdId": cl, "ordId": str(order.order_id), "tag": "", "ts": str(call.now_ms),
                "sCode": "0", "sMsg": "Order placed"}

    async def _placed(self, request: web.Request, call: OkxCall, placed: list[tuple[str, Any]]) -> Any:
        drop = self.rt.faults.strike(self.rt.name, self.endpoint, FaultKind.DROP_ORDER_RESPONSE)
        if drop is not None:
            log.warning("order_response_dropped", venue=self.rt.name, endpoint=self.endpoint,
                        client_order_ids=[cl for cl, _ in placed], mode=drop.params["mode"])
            return await self.rt.drop_response(request, drop.params["mode"])
        return [self._ack(call, cl, o) for cl, o in placed]

    def _place(self, call: OkxCall, params: dict[str, Any]) -> Any:
        """Validate one order request and hand it to the matching engine (OkxReject when refused)."""
        p = OkxCall(params, [], call.account, call.now_ms)
        cl = p.text("clOrdId") or ""
        if cl and not CLIENT_ID.match(cl):
            raise okx_rejects.order_failed("51000", "Parameter clOrdId error", cl)
        spec = self.spec(p.text("instId", required=True))
        if p.text("tdMode", required=True) != "cash":
            raise okx_rejects.order_failed("51000", "Parameter tdMode error", cl)
        side = p.text("side", required=True)
        if side not in ("buy", "sell"):
            raise okx_rejects.bad_param("side")
        kind = okx_wire.ENGINE_TYPE.get(p.text("ordType", required=True) or "")
        if kind is None:
            raise okx_rejects.bad_param("ordType")
        order_type, tif = kind
        size = p.decimal("sz")
        price = p.decimal("px") if order_type != "MARKET" else None
        qty, quote_qty = size, None
        if order_type == "MARKET":
            tgt = p.text("tgtCcy") or ("quote_ccy" if side == "buy" else "base_ccy")
            if tgt not in ("base_ccy", "quote_ccy"):
                raise okx_rejects.bad_param("tgtCcy")
            if tgt == "quote_ccy":
                qty, quote_qty = None, size
        try:
            return self.rt.venue.new_order(
                call.account, spec.symbol, side.upper(), order_type, quantity=qty, price=price,
                quote_order_qty=quote_qty, time_in_force=tif,
                client_order_id=cl or "sim" + secrets.token_hex(12),
            )
        except BinanceReject as reject:
            raise okx_rejects.from_binance(reject, cl) from None

    def _find(self, call: OkxCall, params: dict[str, Any], *, cancel: bool) -> Any:
        spec = self.spec(params.get("instId") or None)
        ord_id, cl = str(params.get("ordId") or ""), str(params.get("clOrdId") or "")
        if not ord_id and not cl:
            raise okx_rejects.missing("ordId or clOrdId")
        if ord_id and not ord_id.isdigit():
            raise okx_rejects.from_binance(rejects.NO_SUCH_ORDER, cl, ord_id, cancel=cancel)
        by_id = int(ord_id) if ord_id else None
        try:
            if cancel:
                return spec, self.rt.venue.cancel(call.account, spec.symbol, by_id, cl or None)
            return spec, self.rt.venue.find(call.account, spec.symbol, by_id, cl or None, rejects.NO_SUCH_ORDER)
        except BinanceReject as reject:
            raise okx_rejects.from_binance(reject, cl, ord_id, cancel=cancel) from None

    async def get_order(self, request: web.Request, call: OkxCall) -> Any:
        spec, order = self._find(call, call.params, cancel=False)
        return [okx_wire.order(order, spec)]

    async def cancel_order(self, request: web.Request, call: OkxCall) -> Any:
        _, order = self._find(call, call.params, cancel=True)
        return [{"clOrdId": order.client_order_id, "ordId": str(order.order_id), "ts": str(call.now_ms),
                 "sCode": "0", "sMsg": ""}]

    async def cancel_batch(self, request: web.Request, call: OkxCall) -> Any:
        if not call.batch or len(call.batch) > 20:
            raise okx_rejects.bad_param("orders (1..20 per request)")
        out, failed = [], 0
        for entry in call.batch:
            try:
                _, order = self._find(call, entry, cancel=True)
                out.append({"clOrdId": order.client_order_id, "ordId": str(order.order_id),
                            "ts": str(call.now_ms), "sCode": "0", "sMsg": ""})
            except OkxReject as reject:
                failed += 1
                row = reject.data[0] if reject.data else {"sCode": reject.code, "sMsg": reject.msg}
                out.append({"clOrdId": str(entry.get("clOrdId", "")), "ordId": str(entry.get("ordId", "")),
                            "ts": str(call.now_ms), "sCode": row["sCode"], "sMsg": row["sMsg"]})
        if failed:
            code = "1" if failed == len(out) else "2"
            raise OkxReject(code, "All operations failed" if code == "1" else "Bulk operation partially succeeded",
                            data=out)
        return out

    def _rows(self, call: OkxCall, orders: list[Any]) -> list[dict[str, Any]]:
        inst = call.text("instId")
        if call.text("instType") not in (None, "SPOT"):
            return []
        specs = self.rt.venue.symbols
        rows = [o for o in orders
                if o.account == call.account and (inst is None or okx_wire.inst_id(specs[o.symbol]) == inst)]
        if inst is not None:
            self.spec(inst)
        rows.sort(key=lambda o: o.order_id, reverse=True)  # newest first
        after, before = call.integer("after"), call.integer("before")  # ordId older than / newer than
        rows = [o for o in rows if (after is None or o.order_id < after) and (before is None or o.order_id > before)]
        return [okx_wire.order(o, specs[o.symbol]) for o in rows[: min(call.integer("limit") or 100, 100)]]

    async def orders_pending(self, request: web.Request, call: OkxCall) -> Any:
        return self._rows(call, [o for o in self.rt.venue.orders.values() if o.is_open])

    async def orders_history(self, request: web.Request, call: OkxCall) -> Any:
        call.text("instType", required=True)
        return self._rows(call, [o for o in self.rt.venue.orders.values() if not o.is_open])

    async def fills(self, request: web.Request, call: OkxCall) -> Any:
        if call.text("instType") not in (None, "SPOT"):
            return []
        inst = call.text("instId")
        symbol = self.spec(inst).symbol if inst else None
        ord_id = call.text("ordId")
        after, before = call.integer("after"), call.integer("before")  # billId older than / newer than
        begin, end = call.integer("begin"), call.integer("end")
        rows = [
            t for t in self.rt.venue.account_trades.get(call.account, [])
            if (symbol is None or t["symbol"] == symbol)
            and (ord_id is None or str(t["orderId"]) == ord_id)
            and (after is None or int(str(t["id"])) < after)
            and (before is None or int(str(t["id"])) > before)
            and (begin is None or int(str(t["time"])) >= begin)
            and (end is None or int(str(t["time"])) <= end)
        ]
        limit = min(call.integer("limit") or 100, 100)
        # answered newest first; after `begin` or `before` the page is the `limit` rows nearest to it, so a
        # reader pages forward from a start time (`begin`, then `before` = the newest billId seen)
        rows = rows[:limit] if (begin is not None or before is not None) else rows[-limit:]
        orders = self.rt.venue.orders
        specs = self.rt.venue.symbols
        return [
            okx_wire.fill(t, specs[str(t["symbol"])], orders[int(str(t["orderId"]))].client_order_id
                          if int(str(t["orderId"])) in orders else "")
            for t in reversed(rows)
        ]

    async def cancel_all_after(self, request: web.Request, call: OkxCall) -> Any:
        raw = call.text("timeOut", required=True)
        if raw is None or not raw.isdigit() or (int(raw) != 0 and not 10 <= int(raw) <= 120):
            raise okx_rejects.bad_param("timeOut (0, or 10..120 seconds)")
        trigger = self.rt.dead_mans_switch.arm(call.account, int(raw), call.now_ms)
        return [{"triggerTime": str(trigger or 0), "tag": "", "ts": str(call.now_ms)}]
