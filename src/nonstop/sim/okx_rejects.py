"""OKX v5's error answers: `{"code": "NNNNN", "msg": "...", "data": [...]}` with OKX's HTTP status.

Order-level failures (place, cancel) are `code "1"` with the reason per order in `data[].sCode`,
as OKX sends them; request-level failures carry the code at the top. The matching engine raises
Binance's rejects (`nonstop.sim.rejects`); `from_binance` renders each one as OKX would.
"""

from __future__ import annotations

from typing import Any

from nonstop.sim import rejects
from nonstop.sim.rejects import BinanceReject


class OkxReject(Exception):
    """A request the OKX dialect refuses, rendered as OKX would."""

    def __init__(
        self, code: str, msg: str, status: int = 200, headers: dict[str, str] | None = None,
        data: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}
        self.data = data or []

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg, "data": self.data}


def order_failed(s_code: str, s_msg: str, cl_ord_id: str = "", ord_id: str = "") -> OkxReject:
    """One order's failure: the envelope OKX uses for trade/order and trade/cancel-order."""
    return OkxReject("1", "All operations failed", data=[
        {"clOrdId": cl_ord_id, "ordId": ord_id, "sCode": s_code, "sMsg": s_msg, "tag": "", "ts": ""}
    ])


def missing(name: str) -> OkxReject:
    return OkxReject("50014", f"Parameter {name} can not be empty.", status=400)


def bad_param(name: str) -> OkxReject:
    return OkxReject("51000", f"Parameter {name} error", status=400)


INSTRUMENT_MISSING = OkxReject("51001", "Instrument ID does not exist.", status=400)
ORDER_MISSING_CODE, ORDER_MISSING_MSG = "51603", "Order does not exist"
CANCEL_MISSING_CODE = "51400"
CANCEL_MISSING_MSG = "Order cancellation failed as the order has been filled, canceled or does not exist."
DUPLICATE_CODE, DUPLICATE_MSG = "51016", "Duplicated clOrdId"
INSUFFICIENT_CODE, INSUFFICIENT_MSG = "51008", "Order failed. Insufficient balance."
KEY_MISSING = OkxReject("50103", 'Request header "OK-ACCESS-KEY" can not be empty.', status=401)
PASSPHRASE_MISSING = OkxReject("50104", 'Request header "OK-ACCESS-PASSPHRASE" can not be empty.', status=401)
PASSPHRASE_WRONG = OkxReject("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', status=401)
KEY_INVALID = OkxReject("50111", "Invalid OK-ACCESS-KEY.", status=401)
TIMESTAMP_INVALID = OkxReject("50112", "Invalid OK-ACCESS-TIMESTAMP.", status=401)
TIMESTAMP_EXPIRED = OkxReject("50102", "Timestamp request expired.", status=401)
SIGN_INVALID = OkxReject("50113", "Invalid Sign.", status=401)
MAINTENANCE = OkxReject("50001", "Service temporarily unavailable. Please try again later.", status=503)
INTERNAL = OkxReject("50026", "System error. Try again later.", status=500)


def rate_limited(retry_after_s: int) -> OkxReject:
    return OkxReject("50011", "Too Many Requests", status=429, headers={"Retry-After": str(retry_after_s)})


def from_binance(reject: BinanceReject, cl_ord_id: str = "", ord_id: str = "", *, cancel: bool = False) -> OkxReject:
    """The matching engine's refusal as OKX renders it (per-order failures in `data[].sCode`)."""
    if reject is rejects.INVALID_SYMBOL:
        return INSTRUMENT_MISSING
    if reject in (rejects.UNKNOWN_ORDER, rejects.NO_SUCH_ORDER):
        if cancel:
            return order_failed(CANCEL_MISSING_CODE, CANCEL_MISSING_MSG, cl_ord_id, ord_id)
        return OkxReject(ORDER_MISSING_CODE, ORDER_MISSING_MSG)
    if reject is rejects.DUPLICATE_ORDER:
        return order_failed(DUPLICATE_CODE, DUPLICATE_MSG, cl_ord_id)
    if reject is rejects.INSUFFICIENT_BALANCE:
        return order_failed(INSUFFICIENT_CODE, INSUFFICIENT_MSG, cl_ord_id)
    if reject is rejects.WOULD_TAKE:
        # OKX accepts such an order and cancels it at once; the simulator refuses it instead (README)
        return order_failed("51000", "Parameter ordType error: post_only order would take liquidity.", cl_ord_id)
    text = reject.msg
    if "LOT_SIZE" in text:
        return order_failed("51121", "Order quantity must be a multiple of the lot size.", cl_ord_id)
    if "PRICE_FILTER" in text:
        return order_failed("51006", "Order price is not within the price limit.", cl_ord_id)
    if "NOTIONAL" in text or "MIN" in text.upper():
        return order_failed("51020", "Your order should meet or exceed the minimum order amount.", cl_ord_id)
    return order_failed("51000", f"Parameter error: {text}", cl_ord_id)
