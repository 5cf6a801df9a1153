"""Binance spot's error codes (`{"code": -2010, "msg": "..."}`) and what each means to us.

The venue side of `nonstop.connectivity.classify`: the Binance adapter passes `BINANCE_CODES` to
every classification, so the connectivity layer itself knows no Binance code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nonstop.connectivity.classify import Verdict, after_send, read_error
from nonstop.connectivity.errors import (
    AuthError,
    BadRequestError,
    ClockSkewError,
    DuplicateOrderError,
    FatalVenueError,
    InsufficientFundsError,
    InvalidOrderError,
    IpBannedError,
    MaintenanceError,
    OrderNotFoundError,
    RateLimitedError,
    RequestRejectedError,
    Severity,
    TransientNetworkError,
    VenueUnavailableError,
)

_MAINTENANCE = "System is under maintenance."
_INSUFFICIENT = "insufficient balance"
_DUPLICATE = "Duplicate order sent."
_UNKNOWN_ORDER = "Unknown order sent."
# Binance's 503 messages that mean "failed, not executed, try again" (any other 503: unknown).
_503_NOT_EXECUTED = ("Service Unavailable", "Internal error; unable to process your request")


class BinanceCodes:
    """Binance spot's code table (`VenueCodes`)."""

    def read(self, body: str | Mapping[str, Any] | None, exc: BaseException | None) -> tuple[int | None, str | None]:
        return read_error(body, exc)

    def verdict(self, code: int | None, msg: str | None, status: int | None, write: bool) -> Verdict | None:
        text = msg or ""
        if _MAINTENANCE in text:
            return Verdict(MaintenanceError, venue_wide=True)
        found = _by_code(code, text, status, write) if code is not None else None
        if found is None and status == 503 and any(m in text for m in _503_NOT_EXECUTED):
            return Verdict(VenueUnavailableError)
        return found


def _by_code(code: int, text: str, status: int | None, write: bool) -> Verdict | None:
    if code == -1003:  # too much request weight (429), or the ban itself (418)
        if status == 418:
            return Verdict(IpBannedError, Severity.CRITICAL, venue_wide=True)
        return Verdict(RateLimitedError, venue_wide=True)
    if code == -1015:  # too many new orders
        return Verdict(RateLimitedError, venue_wide=True)
    if code == -1021:
        return Verdict(ClockSkewError, Severity.CRITICAL)
    if code in (-1002, -1022, -1099, -2014, -2015):
        return Verdict(AuthError)
    if code in (-1000, -1006, -1007):  # "execution status unknown"
        return after_send(write, VenueUnavailableError if code == -1000 else TransientNetworkError)
    if code in (-1001, -1008):  # internal error / server busy: not executed, try again
        return Verdict(VenueUnavailableError)
    if code == -1016:  # this service is no longer available
        return Verdict(FatalVenueError)
    if code in (-1013, -1014):
        return Verdict(InvalidOrderError)
    if code in (-1020, -1121) or -1199 <= code <= -1100:
        return Verdict(BadRequestError)
    if code == -2010:
        if _INSUFFICIENT in text.lower():
            return Verdict(InsufficientFundsError)
        if _DUPLICATE in text:
            return Verdict(DuplicateOrderError)
        return Verdict(InvalidOrderError)
    if code == -2011:
        return Verdict(OrderNotFoundError if _UNKNOWN_ORDER in text else RequestRejectedError)
    if code in (-2013, -2026):
        return Verdict(OrderNotFoundError)
    if -2099 <= code <= -2000:
        return Verdict(RequestRejectedError)
    return None  # an unknown code: let the status / exception decide


BINANCE_CODES = BinanceCodes()
