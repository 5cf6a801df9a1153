"""Every mapping of the OKX classifier, row by row through ccxt's own `okx.handle_errors`."""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest

from nonstop.connectivity import (
    AuthError,
    BadRequestError,
    ClockSkewError,
    DuplicateOrderError,
    FatalVenueError,
    InsufficientFundsError,
    InvalidOrderError,
    MaintenanceError,
    OperationKind,
    OrderNotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestRejectedError,
    Severity,
    TransientNetworkError,
    VenueError,
    VenueUnavailableError,
    classify,
)
from nonstop.venues.okx_errors import OKX_CODES

READ, SUBMIT, CANCEL = OperationKind.READ, OperationKind.SUBMIT, OperationKind.CANCEL
URL = "https://www.okx.com/api/v5/trade/order"


@pytest.fixture(scope="module")
def okx() -> ccxt.okx:
    return ccxt.okx()


def ccxt_raises(ex: ccxt.okx, status: int, body: str) -> ccxt.BaseError:
    """The exception ccxt 4.5.90 raises for this answer (its handle_errors, then the status fallback)."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    try:
        ex.handle_errors(status, "", URL, "POST", {}, body, parsed, {}, None)
        ex.handle_http_status_code(status, "", URL, "POST", body)
    except ccxt.BaseError as exc:
        return exc
    raise AssertionError(f"ccxt raised nothing for {status} {body}")


def top(code: str, msg: str) -> str:
    return json.dumps({"code": code, "msg": msg, "data": []})


def order(s_code: str, s_msg: str, code: str = "1") -> str:
    return json.dumps({"code": code, "msg": "All operations failed",
                       "data": [{"clOrdId": "a1", "ordId": "", "sCode": s_code, "sMsg": s_msg, "tag": ""}]})


ROWS: list[tuple[str, int, str, OperationKind, type[VenueError]]] = [
    ("51008 insufficient", 200, order("51008", "Order failed. Insufficient USDT balance"), SUBMIT,
     InsufficientFundsError),
    ("51119 insufficient", 200, order("51119", "Insufficient balance"), SUBMIT, InsufficientFundsError),
    ("51131 insufficient", 200, order("51131", "Insufficient balance"), SUBMIT, InsufficientFundsError),
    ("51127 zero balance", 200, order("51127", "Available balance is 0"), SUBMIT, InsufficientFundsError),
    ("51016 duplicate clOrdId", 200, order("51016", "Duplicated clOrdId"), SUBMIT, DuplicateOrderError),
    ("51400 cancel missing", 200, order("51400", "Order does not exist"), CANCEL, OrderNotFoundError),
    ("51401 already canceled", 200, order("51401", "Order already canceled"), CANCEL, OrderNotFoundError),
    ("51402 already done", 200, order("51402", "Order already completed"), CANCEL, OrderNotFoundError),
    ("51603 no such order", 200, top("51603", "Order does not exist"), READ, OrderNotFoundError),
    ("51020 min size", 200, order("51020", "Order amount should meet the minimum"), SUBMIT, InvalidOrderError),
    ("51121 lot size", 200, order("51121", "Order count should be a multiple of the lot size"), SUBMIT,
     InvalidOrderError),
    ("51006 price limit", 200, order("51006", "Order price out of the limit"), SUBMIT, InvalidOrderError),
    ("51004 tier limit", 200, order("51004", "Order amount exceeds tier limit"), SUBMIT, InvalidOrderError),
    ("51116 price above", 200, order("51116", "Order price exceeds"), SUBMIT, InvalidOrderError),
    ("51137 max buy", 200, order("51137", "max buy price"), SUBMIT, InvalidOrderError),
    ("51138 min sell", 200, order("51138", "min sell price"), SUBMIT, InvalidOrderError),
    ("51094 tp limit", 200, order("51094", "no TP limit in spot"), SUBMIT, InvalidOrderError),
    ("51000 param", 400, order("51000", "Parameter clOrdId error"), SUBMIT, BadRequestError),
    ("51001 instrument", 400, top("51001", "Instrument ID does not exist"), READ, BadRequestError),
    ("51002 instrument", 400, top("51002", "Instrument ID does not match"), READ, BadRequestError),
    ("51015 inst type", 400, top("51015", "Instrument ID does not match instrument type"), READ, BadRequestError),
    ("50000 empty body", 400, top("50000", "Body can not be empty"), SUBMIT, BadRequestError),
    ("50002 json", 400, top("50002", "JSON syntax error"), SUBMIT, BadRequestError),
    ("50014 missing param", 400, top("50014", "Parameter instId can not be empty"), READ, BadRequestError),
    ("51009 blocked", 200, order("51009", "Order placement function is blocked"), SUBMIT, RequestRejectedError),
    ("51024 suspended", 200, order("51024", "Unified account blocked"), SUBMIT, RequestRejectedError),
    ("51010 other trade refusal", 200, order("51010", "account mode does not support"), SUBMIT,
     RequestRejectedError),
    ("50001 maintenance", 503, top("50001", "Service temporarily unavailable"), READ, MaintenanceError),
    ("50011 rate limit", 429, top("50011", "Too Many Requests"), READ, RateLimitedError),
    ("50011 rate limit submit", 429, top("50011", "Too Many Requests"), SUBMIT, RateLimitedError),
    ("50061 sub-account limit", 429, top("50061", "Sub-account rate limit exceeded"), SUBMIT, RateLimitedError),
    ("50004 timeout submit", 200, top("50004", "Endpoint request timeout"), SUBMIT, OutcomeUnknownError),
    ("50004 timeout read", 200, top("50004", "Endpoint request timeout"), READ, TransientNetworkError),
    ("50026 system error submit", 500, top("50026", "System error, try again later"), SUBMIT, OutcomeUnknownError),
    ("50026 system error read", 500, top("50026", "System error, try again later"), READ, VenueUnavailableError),
    ("50005 offline", 503, top("50005", "API is offline or unavailable"), SUBMIT, VenueUnavailableError),
    ("50013 busy", 200, top("50013", "System is busy"), SUBMIT, VenueUnavailableError),
    ("50102 timestamp expired", 401, top("50102", "Timestamp request expired"), SUBMIT, ClockSkewError),
    ("50113 invalid sign", 401, top("50113", "Invalid Sign"), SUBMIT, AuthError),
    ("50111 invalid key", 401, top("50111", "Invalid OK-ACCESS-KEY"), READ, AuthError),
    ("50112 invalid timestamp", 401, top("50112", "Invalid OK-ACCESS-TIMESTAMP"), READ, AuthError),
    ("50103 key missing", 401, top("50103", "OK-ACCESS-KEY can not be empty"), READ, AuthError),
    ("50104 passphrase missing", 401, top("50104", "OK-ACCESS-PASSPHRASE can not be empty"), READ, AuthError),
    ("50105 passphrase wrong", 401, top("50105", "OK-ACCESS-PASSPHRASE incorrect"), READ, AuthError),
    ("50110 ip", 401, top("50110", "Invalid IP"), READ, AuthError),
    ("50100 frozen", 200, top("50100", "API frozen"), READ, AuthError),
    ("1 without reason submit", 200, json.dumps({"code": "1", "msg": "Operation failed", "data": []}), SUBMIT,
     OutcomeUnknownError),
    ("503 html submit", 503, "<html>503</html>", SUBMIT, OutcomeUnknownError),
    ("503 html read", 503, "<html>503</html>", READ, VenueUnavailableError),
    ("504 read", 504, "gateway timeout", READ, TransientNetworkError),
    ("429 no body", 429, "", READ, RateLimitedError),
    ("404 path", 404, top("404", "Not Found"), READ, FatalVenueError),
]


@pytest.mark.parametrize(("status", "body", "operation", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_okx_answer_through_ccxt_handle_errors_maps_to_expected_type(
    okx: ccxt.okx, status: int, body: str, operation: OperationKind, expected: type[VenueError]
) -> None:
    exc = ccxt_raises(okx, status, body)
    got = classify(exc, http_status=status, body=body, operation=operation, venue="okx", codes=OKX_CODES)
    assert type(got) is expected, f"{type(exc).__name__}: {exc}"


def test_okx_per_order_code_is_the_venue_code_and_critical_flags() -> None:
    got = classify(None, http_status=200, body=order("51008", "Insufficient"), operation=SUBMIT, codes=OKX_CODES)
    assert got.venue_code == 51008
    skew = classify(None, http_status=401, body=top("50102", "Timestamp request expired"), codes=OKX_CODES)
    assert skew.severity is Severity.CRITICAL
    assert classify(None, http_status=429, body=top("50011", "Too Many Requests"), codes=OKX_CODES).venue_wide


def test_okx_codes_are_not_binance_codes() -> None:
    from nonstop.venues.binance_errors import BINANCE_CODES

    body = order("51016", "Duplicated clOrdId")
    assert type(classify(None, http_status=200, body=body, operation=SUBMIT, codes=BINANCE_CODES)) is not (
        DuplicateOrderError
    )
