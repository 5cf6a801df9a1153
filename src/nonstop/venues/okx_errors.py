"""OKX v5's error codes and what each means to us (the OKX adapter's `VenueCodes`).

OKX answers `{"code": "NNNNN", "msg": "...", "data": [...]}`; an order-level failure (place, cancel,
amend) is `code "1"` (or "2" for a partly failed batch) with the reason per order in
`data[].sCode` / `sMsg`, which is the code we judge — as ccxt's own `okx.handle_errors` does.
Codes per OKX's v5 error list: 500xx general, 501xx auth, 51xxx trade, 60xxx websocket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nonstop.connectivity.classify import Verdict, after_send, error_document, parse_error_doc, read_error
from nonstop.connectivity.errors import (
    AuthError,
    BadRequestError,
    ClockSkewError,
    DuplicateOrderError,
    InsufficientFundsError,
    InvalidOrderError,
    MaintenanceError,
    OrderNotFoundError,
    RateLimitedError,
    RequestRejectedError,
    Severity,
    TransientNetworkError,
    VenueUnavailableError,
)

_AUTH = frozenset({50100, 50101, 50103, 50104, 50105, 50106, 50107, 50110, 50111, 50112, 50113, 50114, 50030,
                   60004, 60005, 60007, 60009, 60011, 60024})
_BAD_REQUEST = frozenset({50000, 50002, 50006, 50014, 50015, 50016, 51000, 51001, 51002, 51015, 60012, 60018})
_INVALID_ORDER = frozenset({51004, 51006, 51020, 51094, 51116, 51121, 51137, 51138})
_INSUFFICIENT = frozenset({51008, 51119, 51127, 51131})
_NOT_FOUND = frozenset({51400, 51401, 51402, 51503, 51603})
_SUSPENDED = frozenset({51009, 51024})


def _parse(src: str | Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(code, msg) of one OKX answer: the first failing order's `sCode` under code 1 / 2."""
    doc = error_document(src)
    if doc is None:
        return parse_error_doc(src)
    code = str(doc.get("code", ""))
    if code == "0":
        return None, None
    data = doc.get("data")
    if code in ("1", "2") and isinstance(data, list):
        for row in data:
            if isinstance(row, Mapping) and str(row.get("sCode", "0")) not in ("0", ""):
                s_code = str(row["sCode"])
                return (int(s_code) if s_code.isdigit() else None), str(row.get("sMsg") or "")
    return parse_error_doc(doc)


class OkxCodes:
    """OKX's code table (`VenueCodes`)."""

    def read(self, body: str | Mapping[str, Any] | None, exc: BaseException | None) -> tuple[int | None, str | None]:
        return read_error(body, exc, _parse)

    def verdict(self, code: int | None, msg: str | None, status: int | None, write: bool) -> Verdict | None:
        if code is None or code in (1, 2):
            return None  # no per-order reason: the HTTP status and the exception decide
        if code == 50001:  # service temporarily unavailable (maintenance, matching engine upgrade)
            return Verdict(MaintenanceError, venue_wide=True)
        if code in (50011, 50061, 50040):  # too many requests (per endpoint / sub-account / too frequent)
            return Verdict(RateLimitedError, venue_wide=True)
        if code == 50004:  # "endpoint request timeout: does not indicate success or failure"
            return after_send(write, TransientNetworkError)
        if code == 50026:  # system error: the request may or may not have been processed
            return after_send(write, VenueUnavailableError)
        if code in (50005, 50013):  # API offline / system busy: not processed, try again
            return Verdict(VenueUnavailableError)
        if code in (50102, 60006):
            return Verdict(ClockSkewError, Severity.CRITICAL)
        if code in _AUTH:
            return Verdict(AuthError)
        if code == 51016:
            return Verdict(DuplicateOrderError)
        if code in _INSUFFICIENT:
            return Verdict(InsufficientFundsError)
        if code in _NOT_FOUND:
            return Verdict(OrderNotFoundError)
        if code in _INVALID_ORDER:
            return Verdict(InvalidOrderError)
        if code in _BAD_REQUEST:
            return Verdict(BadRequestError)
        if code in _SUSPENDED:
            return Verdict(RequestRejectedError, Severity.CRITICAL)
        if 51000 <= code <= 51999:  # any other trade refusal: a definite answer, nothing placed
            return Verdict(RequestRejectedError)
        return None  # an unknown code: let the status / exception decide


OKX_CODES = OkxCodes()
