"""The OKX dialect's trade endpoints: place (one or a batch), look up, cancel (one or a batch), open
orders, order history, fills, and cancel-all-after — all on the shared matching engine."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from nonstop.config_sim import SimSymbol
from nonstop.sim import okx_rejects, okx_wire, rejects
from nonstop.sim.faults import FaultKind
from nonstop.sim.okx_call import OkxCall
from nonstop.sim.okx_rejects import OkxReject
from nonstop.sim.rejects import BinanceReject

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

log = structlog.get_logger("nonstop.sim.okx")
CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class OkxTrade:
    """Order handlers, mixed into `OkxRest` (which provides `rt`, `endpoint` and `spec`)."""

    rt: VenueRuntime
    endpoint: int

    def spec(self, inst: str | None) -> SimSymbol:
        raise NotImplementedError

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
