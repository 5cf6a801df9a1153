"""OKX v5 websockets of one venue: `/ws/v5/public` (tickers, books, books5, bbo-tbt, trades),
`/ws/v5/business` (candles) and `/ws/v5/private` (login, then `orders` and `account`).

Shares the Binance hub's connection handling (bounded outbox, slow-consumer eviction, fault drops);
only the protocol differs: `{"op": "subscribe", "args": [...]}` answered by `{"event": ...}`, text
`ping` answered by `pong`, an error event (never silence) for an unknown channel or a private
channel before login. The `books` channel sends a snapshot of the top 400 levels per side, then
updates that keep each subscriber's 400-level window equal to the venue's (levels that changed,
entered or left it; `_window_changes`), carrying `seqId` / `prevSeqId` (per connection, so a late
subscriber's chain is unbroken) and OKX's CRC32 checksum of the top 25 levels of each side (`checksum`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import zlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from nonstop.clock import utc_ms
from nonstop.config_sim import SimSymbol
from nonstop.sim import okx_wire
from nonstop.sim.records import BalanceUpdate, Execution, PublicTrade, VenueEvent, account_uid
from nonstop.sim.streams import Connection, StreamHub

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.okx_ws")
PUBLIC = {"tickers", "books", "books5", "bbo-tbt", "trades"}
CANDLES = {"candle1m": "1m", "candle3m": "3m", "candle5m": "5m", "candle15m": "15m", "candle30m": "30m",
           "candle1H": "1h", "candle4H": "4h", "candle1D": "1d"}
PRIVATE = {"orders", "account"}
CHECKSUM_LEVELS = 25
LOGIN_WINDOW_S = 30


def checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    """OKX's book checksum: CRC32 (signed) of `bidPx:bidSz:askPx:askSz:...` over the top 25 levels."""
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _window_changes(held: dict[str, str], now: dict[str, str], sign: int) -> list[tuple[str, str]]:
    """What turns the levels a subscriber holds into the venue's top 400 of one side, best first: a
    level that changed or entered the window with its size, one that left it (gone, or pushed below
    the 400th by levels above it) with size 0. The window, not the raw level changes: a deep level
    that never changed but rises into view must still reach the subscriber, or its book (and the top
    25 the checksum covers) drifts from the venue's."""
    changes = [(p, q) for p, q in now.items() if held.get(p) != q]
    changes += [(p, "0") for p in held.keys() - now.keys()]
    return sorted(changes, key=lambda pq: sign * Decimal(pq[0]))


class OkxStreamHub(StreamHub):
    """Who is subscribed to what on the OKX paths; publishes the venue's events in OKX's shape."""

    def __init__(self, rt: VenueRuntime) -> None:
        super().__init__(rt)
        self.by_inst = {okx_wire.inst_id(s): s for s in rt.venue.symbols.values()}
        self.book_seq: dict[tuple[int, str], int] = {}  # (connection id, instId) -> last seqId sent
        # (connection id, instId) -> the `books` levels that subscriber holds: (bids, asks), price -> size
        self.book_views: dict[tuple[int, str], tuple[dict[str, str], dict[str, str]]] = {}

    def add_routes(self, app: web.Application, endpoint: int) -> None:
        async def serve(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, endpoint, request.match_info["kind"])

        app.router.add_get("/ws/v5/{kind:public|private|business}", serve)

    async def _serve(self, request: web.Request, endpoint: int, kind: str) -> web.StreamResponse:
        conn = Connection(web.WebSocketResponse(heartbeat=None, max_msg_size=65_536), endpoint)
        conn_id = secrets.token_hex(4)

        async def on_text(data: str) -> None:
            if data == "ping":
                conn.push("pong")
                return
            for reply in self._request(conn, kind, conn_id, data):
                conn.push(json.dumps(reply))

        try:
            return await self._run(request, conn, on_text)
        finally:
            for key in [k for k in self.book_seq if k[0] == id(conn)]:
                del self.book_seq[key]
                self.book_views.pop(key, None)

    # ---------------------------------------------------------------- requests
    def _request(self, conn: Connection, kind: str, conn_id: str, data: str) -> list[dict[str, Any]]:
        try:
            msg = json.loads(data)
            op, args = msg["op"], msg.get("args", [])
            if not isinstance(args, list) or not all(isinstance(a, dict) for a in args):
                raise TypeError("args")
        except (ValueError, KeyError, TypeError):
            return [{"event": "error", "code": "60012", "msg": f"Invalid request: {data[:200]}", "connId": conn_id}]
        if op == "login":
            return [self._login(conn, kind, conn_id, args)]
        if op in ("subscribe", "unsubscribe"):
            out: list[dict[str, Any]] = []
            for arg in args:
                out.extend(self._subscribe(conn, kind, conn_id, op, arg))
            return out
        return [{"event": "error", "code": "60012", "msg": f"Invalid request: {data[:200]}", "connId": conn_id}]

    def _login(self, conn: Connection, kind: str, conn_id: str, args: list[dict[str, Any]]) -> dict[str, Any]:
        fail = {"event": "error", "code": "60009", "msg": "Login failed.", "connId": conn_id}
        if len(args) != 1:
            return fail
        a = {k: str(v) for k, v in args[0].items()}
        account = self.rt.venue.accounts.get(a.get("apiKey", ""))
        if account is None or not account.secret:
            return {**fail, "code": "60005", "msg": "Invalid apiKey."}
        if account.passphrase and not hmac.compare_digest(a.get("passphrase", ""), account.passphrase):
            return {**fail, "code": "60024", "msg": "Wrong passphrase."}
        stamp = a.get("timestamp", "")
        now_s = utc_ms(self.rt.clock.now()) / 1000
        try:
            if abs(now_s - float(stamp)) > LOGIN_WINDOW_S:
                return {**fail, "code": "60006", "msg": "Timestamp request expired."}
        except ValueError:
            return {**fail, "code": "60004", "msg": "Invalid timestamp."}
        expected = base64.b64encode(
            hmac.new(account.secret.encode(), f"{stamp}GET/users/self/verify".encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, a.get("sign", "")):
            return {**fail, "code": "60007", "msg": "Invalid sign."}
        conn.account = account.api_key
        return {"event": "login", "code": "0", "msg": "", "connId": conn_id}

    def _subscribe(
        self, conn: Connection, kind: str, conn_id: str, op: str, arg: dict[str, Any]
    ) -> list[dict[str, Any]]:
        channel, inst = str(arg.get("channel", "")), arg.get("instId")
        allowed = PUBLIC if kind == "public" else set(CANDLES) if kind == "business" else PRIVATE
        if channel not in allowed or (inst is not None and inst not in self.by_inst) or (
            channel not in PRIVATE and inst is None
        ):
            return [{"event": "error", "code": "60018",
                     "msg": f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use the correct URL, "
                            "channel and parameters referring to API document.", "connId": conn_id}]
        if channel in PRIVATE and conn.account is None:
            return [{"event": "error", "code": "60011", "msg": "Please log in.", "connId": conn_id}]
        key = f"{channel}:{inst or arg.get('instType') or arg.get('ccy') or ''}"
        if op == "unsubscribe":
            conn.streams.discard(key)
            return [{"event": "unsubscribe", "arg": arg, "connId": conn_id}]
        conn.streams.add(key)
        replies: list[dict[str, Any]] = [{"event": "subscribe", "arg": arg, "connId": conn_id}]
        if channel in ("books", "books5", "bbo-tbt") and inst is not None:
            replies.append(self._book_message(conn, channel, self.by_inst[inst], snapshot=True))
        return replies

    # -------------------------------------------------------------- publishing
    def _push(self, conn: Connection, payload: dict[str, Any]) -> None:
        if not conn.push(json.dumps(payload)):
            self._evict(conn, "slow consumer")

    def _book_message(self, conn: Connection, channel: str, spec: SimSymbol, *, snapshot: bool) -> dict[str, Any]:
        book = self.rt.venue.books[spec.symbol]
        inst = okx_wire.inst_id(spec)
        n = okx_wire.num
        depth = {"books": 400, "books5": 5, "bbo-tbt": 1}[channel]
        bids, asks = book.depth(max(depth, CHECKSUM_LEVELS))
        top_bids = [(n(p), n(q)) for p, q in bids[:CHECKSUM_LEVELS]]
        top_asks = [(n(p), n(q)) for p, q in asks[:CHECKSUM_LEVELS]]
        now = str(utc_ms(self.rt.clock.now()))
        arg = {"channel": channel, "instId": inst}
        if channel != "books":  # books5 / bbo-tbt: a full top-N snapshot every time
            row = {"asks": [[n(p), n(q), "0", "1"] for p, q in asks[:depth]],
                   "bids": [[n(p), n(q), "0", "1"] for p, q in bids[:depth]], "ts": now, "seqId": book.update_id}
            return {"arg": arg, "data": [row]}
        key = (id(conn), inst)
        seq = book.update_id
        prev = -1 if snapshot else self.book_seq.get(key, -1)
        self.book_seq[key] = seq
        view = ({n(p): n(q) for p, q in bids[:depth]}, {n(p): n(q) for p, q in asks[:depth]})
        held = ({}, {}) if snapshot else self.book_views.get(key, ({}, {}))
        self.book_views[key] = view
        sent_bids = _window_changes(held[0], view[0], -1)
        sent_asks = _window_changes(held[1], view[1], 1)
        row = {
            "asks": [[p, q, "0", "0" if q == "0" else "1"] for p, q in sent_asks],
            "bids": [[p, q, "0", "0" if q == "0" else "1"] for p, q in sent_bids],
            "ts": now,
            "checksum": checksum(top_bids, top_asks),
            "seqId": seq,
            "prevSeqId": prev,
        }
        return {"arg": arg, "action": "snapshot" if snapshot else "update", "data": [row]}

    def publish_books(self) -> None:
        """Every 100 ms, when the book changed: each `books` subscriber's changes to its top-400 window;
        books5 / bbo-tbt refreshed."""
        for symbol, book in self.rt.venue.books.items():
            if book.take_diff() is None:
                continue
            spec = self.rt.venue.symbols[symbol]
            inst = okx_wire.inst_id(spec)
            for conn in list(self.connections):
                for channel in ("books", "books5", "bbo-tbt"):
                    if f"{channel}:{inst}" in conn.streams:
                        self._push(conn, self._book_message(conn, channel, spec, snapshot=False))

    def publish_tickers(self) -> None:
        """Every second: tickers and the current candle of each subscribed bar."""
        now = utc_ms(self.rt.clock.now())
        for spec in self.rt.venue.symbols.values():
            inst = okx_wire.inst_id(spec)
            ticker: dict[str, Any] | None = None
            for conn in list(self.connections):
                if f"tickers:{inst}" in conn.streams:
                    ticker = ticker or self._ticker(spec, now)
                    self._push(conn, {"arg": {"channel": "tickers", "instId": inst}, "data": [ticker]})
                for channel, interval in CANDLES.items():
                    if f"{channel}:{inst}" in conn.streams:
                        rows = self.rt.candles[spec.symbol].klines(interval, None, None, 1, now)
                        if rows:
                            k = rows[-1]
                            row = [str(k[0]), *(okx_wire.num(Decimal(str(v))) for v in (k[1], k[2], k[3], k[4], k[5])),
                                   okx_wire.num(Decimal(str(k[7]))), okx_wire.num(Decimal(str(k[7]))), "0"]
                            self._push(conn, {"arg": {"channel": channel, "instId": inst}, "data": [row]})

    def _ticker(self, spec: SimSymbol, now: int) -> dict[str, Any]:
        t = self.rt.ticker(spec.symbol, now)
        n = okx_wire.num
        return {
            "instType": "SPOT", "instId": okx_wire.inst_id(spec), "last": n(Decimal(t["lastPrice"])), "lastSz": "0",
            "askPx": n(Decimal(t["askPrice"])), "askSz": n(Decimal(t["askQty"])),
            "bidPx": n(Decimal(t["bidPrice"])), "bidSz": n(Decimal(t["bidQty"])),
            "open24h": n(Decimal(t["openPrice"])), "high24h": n(Decimal(t["highPrice"])),
            "low24h": n(Decimal(t["lowPrice"])), "volCcy24h": n(Decimal(t["quoteVolume"])),
            "vol24h": n(Decimal(t["volume"])), "sodUtc0": n(Decimal(t["openPrice"])),
            "sodUtc8": n(Decimal(t["openPrice"])), "ts": str(now),
        }

    def on_event(self, event: VenueEvent) -> None:
        if self.rt.flow.control.frozen and isinstance(event, PublicTrade):
            return
        if isinstance(event, PublicTrade):
            spec = self.rt.venue.symbols[event.symbol]
            inst = okx_wire.inst_id(spec)
            row = {"instId": inst, "tradeId": str(event.trade_id), "px": okx_wire.num(event.price),
                   "sz": okx_wire.num(event.qty), "side": "sell" if event.buyer_is_maker else "buy",
                   "ts": str(event.time_ms), "count": "1"}
            for conn in list(self.connections):
                if f"trades:{inst}" in conn.streams:
                    self._push(conn, {"arg": {"channel": "trades", "instId": inst}, "data": [row]})
        elif isinstance(event, Execution):
            self._publish_order(event)
        elif isinstance(event, BalanceUpdate):
            self._publish_account(event)

    def _subscribed(self, conn: Connection, channel: str, spec: SimSymbol | None) -> bool:
        if not any(s.startswith(f"{channel}:") for s in conn.streams):
            return False
        if spec is None:
            return True
        inst = okx_wire.inst_id(spec)
        return any(s in conn.streams for s in (f"{channel}:{inst}", f"{channel}:SPOT", f"{channel}:ANY",
                                               f"{channel}:"))

    def _publish_order(self, event: Execution) -> None:
        order = event.order
        spec = self.rt.venue.symbols[order.symbol]
        row = okx_wire.order(order, spec)
        status = {"TRADE": event.status}.get(event.exec_type, event.status)
        trade = event.exec_type == "TRADE" and event.last_qty > 0
        n = okx_wire.num
        row.update({
            "state": okx_wire.STATE.get(status, "live"),
            "accFillSz": n(event.executed_qty),
            "avgPx": n(event.cum_quote / event.executed_qty) if event.executed_qty else "",
            "fillPx": n(event.last_price) if trade else "",
            "fillSz": n(event.last_qty) if trade else "0",
            "tradeId": str(event.trade_id) if trade else "",
            "fillTime": str(event.time_ms) if trade else "",
            "fillFee": n(-event.commission) if trade else "0",
            "fillFeeCcy": (event.commission_asset or "") if trade else "",
            "execType": ("M" if event.is_maker else "T") if trade else "",
            "uTime": str(event.time_ms),
            "amendResult": "", "code": "0", "msg": "",
        })
        uid = str(account_uid(order.account))
        for conn in list(self.connections):
            if conn.account == order.account and self._subscribed(conn, "orders", spec):
                self._push(conn, {"arg": {"channel": "orders", "instType": "SPOT", "uid": uid}, "data": [row]})

    def _publish_account(self, event: BalanceUpdate) -> None:
        n = okx_wire.num
        details = [
            {"ccy": ccy, "eq": n(free + locked), "cashBal": n(free + locked), "availBal": n(free),
             "frozenBal": n(locked), "ordFrozen": n(locked), "availEq": "", "uTime": str(event.time_ms)}
            for ccy, (free, locked) in event.assets.items()
        ]
        payload = {"arg": {"channel": "account", "uid": str(account_uid(event.account))},
                   "data": [{"uTime": str(event.time_ms), "totalEq": "", "details": details}]}
        for conn in list(self.connections):
            if conn.account == event.account and self._subscribed(conn, "account", None):
                self._push(conn, payload)


