"""classify() with Binance's code table: every mapping of a ccxt / aiohttp / asyncio failure, HTTP
status and Binance code (the generic layer alone knows no venue code: see the last tests)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import ccxt
import pytest
from aiohttp.client_reqrep import ConnectionKey

from nonstop.connectivity import (
    AuthError,
    BadRequestError,
    ClockSkewError,
    DuplicateOrderError,
    ErrorClass,
    FatalVenueError,
    InsufficientFundsError,
    InvalidOrderError,
    IpBannedError,
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
    parse_retry_after,
)
from nonstop.connectivity import classify as generic_classify
from nonstop.venues.binance_errors import BINANCE_CODES


def classify(exc: BaseException | None, **kwargs: Any) -> VenueError:
    """The classification the Binance adapter makes: the generic one with Binance's codes."""
    return generic_classify(exc, codes=BINANCE_CODES, **kwargs)

READ, SUBMIT, CANCEL = OperationKind.READ, OperationKind.SUBMIT, OperationKind.CANCEL
SPOT = "https://api.binance.com/api/v3/order"
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 418: "I'm a teapot",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


@pytest.fixture(scope="module")
def binance() -> ccxt.binance:
    return ccxt.binance()


def ccxt_raises(ex: ccxt.binance, status: int, body: str, *, method: str = "POST") -> ccxt.BaseError:
    """The exception ccxt 4.5.90 itself raises for this HTTP answer (same calls as its fetch())."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    reason = _REASONS.get(status, "")
    try:
        ex.handle_errors(status, reason, SPOT, method, {}, body, parsed, {}, None)
        ex.handle_http_status_code(status, reason, SPOT, method, body)
    except ccxt.BaseError as exc:
        return exc
    raise AssertionError(f"ccxt raised nothing for {status} {body}")


def err(code: int, msg: str) -> str:
    return json.dumps({"code": code, "msg": msg})


# (id, status, body, operation, expected exact type)
HTTP_ROWS: list[tuple[str, int, str, OperationKind, type[VenueError]]] = [
    ("-2010 insufficient", 400, err(-2010, "Account has insufficient balance for requested action."), SUBMIT,
     InsufficientFundsError),
    ("-2010 duplicate", 400, err(-2010, "Duplicate order sent."), SUBMIT, DuplicateOrderError),
    ("-2010 would match", 400, err(-2010, "Order would immediately match and take."), SUBMIT, InvalidOrderError),
    ("-2010 other", 400, err(-2010, "New order rejected."), SUBMIT, InvalidOrderError),
    ("-2011 unknown order", 400, err(-2011, "Unknown order sent."), CANCEL, OrderNotFoundError),
    ("-2011 other", 400, err(-2011, "Cancel rejected."), CANCEL, RequestRejectedError),
    ("-2013 no such order", 400, err(-2013, "Order does not exist."), READ, OrderNotFoundError),
    ("-2014 key format", 401, err(-2014, "API-key format invalid."), READ, AuthError),
    ("-2015 key/ip/perm", 401, err(-2015, "Invalid API-key, IP, or permissions for action."), SUBMIT, AuthError),
    ("-1022 signature", 400, err(-1022, "Signature for this request is not valid."), SUBMIT, AuthError),
    ("-1013 lot size", 400, err(-1013, "Filter failure: LOT_SIZE"), SUBMIT, InvalidOrderError),
    ("-1013 notional", 400, err(-1013, "Filter failure: NOTIONAL"), SUBMIT, InvalidOrderError),
    ("-1100 illegal chars", 400, err(-1100, "Illegal characters found in parameter 'price'"), SUBMIT,
     BadRequestError),
    ("-1101 too many params", 400, err(-1101, "Too many parameters sent for this endpoint."), READ, BadRequestError),
    ("-1102 mandatory param", 400, err(-1102, "Mandatory parameter 'quantity' was not sent."), SUBMIT,
     BadRequestError),
    ("-1121 bad symbol", 400, err(-1121, "Invalid symbol."), READ, BadRequestError),
    ("-1021 clock skew", 400, err(-1021, "Timestamp for this request is outside of the recvWindow."), SUBMIT,
     ClockSkewError),
    ("-1003 weight 429", 429, err(-1003, "Too much request weight used."), READ, RateLimitedError),
    ("-1003 ban 418", 418, err(-1003, "Way too much request weight used; IP banned until 1."), READ,
     IpBannedError),
    ("-1015 orders 429", 429, err(-1015, "Too many new orders."), SUBMIT, RateLimitedError),
    ("-1015 orders 400", 400, err(-1015, "Too many new orders."), SUBMIT, RateLimitedError),
    ("-1007 backend timeout submit", 408, err(-1007, "Timeout waiting for response from backend server."), SUBMIT,
     OutcomeUnknownError),
    ("-1007 backend timeout read", 408, err(-1007, "Timeout waiting for response from backend server."), READ,
     TransientNetworkError),
    ("-1006 message bus submit", 500, err(-1006, "Unexpected response. Execution status unknown."), SUBMIT,
     OutcomeUnknownError),
    ("-1000 unknown submit", 500, err(-1000, "An unknown error occurred."), SUBMIT, OutcomeUnknownError),
    ("-1000 unknown read", 500, err(-1000, "An unknown error occurred."), READ, VenueUnavailableError),
    ("-1001 internal submit", 503, err(-1001, "Internal error; unable to process your request. Please try again."),
     SUBMIT, VenueUnavailableError),
    ("-1008 busy submit", 503, err(-1008, "Server is currently overloaded."), SUBMIT, VenueUnavailableError),
    ("-1016 service gone", 400, err(-1016, "This service is no longer available."), READ, FatalVenueError),
    ("maintenance", 503, json.dumps({"code": 1, "msg": "System is under maintenance."}), READ, MaintenanceError),
    ("503 unknown submit", 503, json.dumps({"msg": "Unknown error, please check your request or try again later."}),
     SUBMIT, OutcomeUnknownError),
    ("503 unknown read", 503, json.dumps({"msg": "Unknown error, please check your request or try again later."}),
     READ, VenueUnavailableError),
    ("503 service unavailable submit", 503, json.dumps({"msg": "Service Unavailable."}), SUBMIT,
     VenueUnavailableError),
    ("503 html submit", 503, "<html>503</html>", SUBMIT, OutcomeUnknownError),
    ("500 html submit", 500, "<html>oops</html>", SUBMIT, OutcomeUnknownError),
    ("500 html cancel", 500, "<html>oops</html>", CANCEL, OutcomeUnknownError),
    ("500 html read", 500, "<html>oops</html>", READ, VenueUnavailableError),
    ("502 html read", 502, "bad gateway", READ, VenueUnavailableError),
    ("504 submit", 504, "gateway timeout", SUBMIT, OutcomeUnknownError),
    ("504 read", 504, "gateway timeout", READ, TransientNetworkError),
    ("429 no code", 429, "", READ, RateLimitedError),
    ("418 no code", 418, "", READ, IpBannedError),
    ("403 waf", 403, "<html>forbidden</html>", READ, RateLimitedError),
    ("404 path", 404, "<html>not found</html>", READ, FatalVenueError),
    ("401 no code", 401, "", READ, AuthError),
]


@pytest.mark.parametrize(("status", "body", "operation", "expected"), [r[1:] for r in HTTP_ROWS],
                         ids=[r[0] for r in HTTP_ROWS])
def test_classify_ccxt_http_answer_maps_to_expected_type(
    binance: ccxt.binance, status: int, body: str, operation: OperationKind, expected: type[VenueError]
) -> None:
    exc = ccxt_raises(binance, status, body)
    got = classify(exc, operation=operation, venue="binance", endpoint=SPOT)
    assert type(got) is expected, f"{type(exc).__name__}: {exc}"
    assert got.original is exc
    assert got.operation is operation
    assert (got.venue, got.endpoint) == ("binance", SPOT)


@pytest.mark.parametrize(("status", "body", "operation", "expected"), [r[1:] for r in HTTP_ROWS],
                         ids=[r[0] for r in HTTP_ROWS])
def test_classify_raw_http_answer_without_exception_maps_to_same_type(
    status: int, body: str, operation: OperationKind, expected: type[VenueError]
) -> None:
    got = classify(None, http_status=status, body=body, operation=operation)
    assert type(got) is expected
    assert got.http_status == status


def test_classify_binance_code_is_parsed_from_ccxt_message(binance: ccxt.binance) -> None:
    got = classify(ccxt_raises(binance, 400, err(-2010, "Duplicate order sent.")), operation=SUBMIT)
    assert got.venue_code == -2010


def test_classify_status_is_parsed_from_ccxt_message(binance: ccxt.binance) -> None:
    assert classify(ccxt_raises(binance, 503, "<html/>")).http_status == 503
    assert classify(ccxt_raises(binance, 429, "")).http_status == 429


def test_classify_unknown_code_on_submit_without_status_is_outcome_unknown(binance: ccxt.binance) -> None:
    exc = ccxt_raises(binance, 400, err(-9999, "Something new."))
    assert type(classify(exc, operation=SUBMIT)) is OutcomeUnknownError
    assert type(classify(exc, operation=READ)) is FatalVenueError


def test_classify_unknown_code_with_4xx_status_is_rejected(binance: ccxt.binance) -> None:
    exc = ccxt_raises(binance, 400, err(-9999, "Something new."))
    assert type(classify(exc, http_status=400, operation=SUBMIT)) is BadRequestError


def _chained(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


def _connector_error() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


# (id, exception factory, operation, expected exact type)
EXC_ROWS: list[tuple[str, Callable[[], BaseException], OperationKind, type[VenueError]]] = [
    ("RequestTimeout(asyncio) submit", lambda: _chained(ccxt.RequestTimeout("t"), TimeoutError()), SUBMIT,
     OutcomeUnknownError),
    ("RequestTimeout(asyncio) read", lambda: _chained(ccxt.RequestTimeout("t"), TimeoutError()), READ,
     TransientNetworkError),
    ("RequestTimeout(connect timeout) submit",
     lambda: _chained(ccxt.RequestTimeout("t"), aiohttp.ConnectionTimeoutError()), SUBMIT, TransientNetworkError),
    ("RequestTimeout bare submit", lambda: ccxt.RequestTimeout("t"), SUBMIT, OutcomeUnknownError),
    ("ExchangeNotAvailable(connector) submit",
     lambda: _chained(ccxt.ExchangeNotAvailable("x"), _connector_error()), SUBMIT, TransientNetworkError),
    ("ExchangeNotAvailable(dns) submit",
     lambda: _chained(ccxt.ExchangeNotAvailable("x"), socket.gaierror(-2, "Name or service not known")), SUBMIT,
     TransientNetworkError),
    ("ExchangeNotAvailable(disconnected) submit",
     lambda: _chained(ccxt.ExchangeNotAvailable("x"), aiohttp.ServerDisconnectedError()), SUBMIT,
     OutcomeUnknownError),
    ("ExchangeNotAvailable(disconnected) read",
     lambda: _chained(ccxt.ExchangeNotAvailable("x"), aiohttp.ServerDisconnectedError()), READ,
     TransientNetworkError),
    ("ExchangeNotAvailable bare read", lambda: ccxt.ExchangeNotAvailable("x"), READ, VenueUnavailableError),
    ("ExchangeNotAvailable bare submit", lambda: ccxt.ExchangeNotAvailable("x"), SUBMIT, OutcomeUnknownError),
    ("ExchangeError(payload) submit", lambda: _chained(ccxt.ExchangeError("x"), aiohttp.ClientPayloadError("cut")),
     SUBMIT, OutcomeUnknownError),
    ("OnMaintenance", lambda: ccxt.OnMaintenance("m"), SUBMIT, MaintenanceError),
    ("DDoSProtection", lambda: ccxt.DDoSProtection("d"), READ, RateLimitedError),
    ("RateLimitExceeded", lambda: ccxt.RateLimitExceeded("r"), SUBMIT, RateLimitedError),
    ("InvalidNonce", lambda: ccxt.InvalidNonce("n"), SUBMIT, ClockSkewError),
    ("ChecksumError", lambda: ccxt.ChecksumError("c"), READ, TransientNetworkError),
    ("NetworkError submit", lambda: ccxt.NetworkError("n"), SUBMIT, OutcomeUnknownError),
    ("NetworkError read", lambda: ccxt.NetworkError("n"), READ, TransientNetworkError),
    ("BadResponse submit", lambda: ccxt.BadResponse("b"), SUBMIT, OutcomeUnknownError),
    ("NullResponse read", lambda: ccxt.NullResponse("b"), READ, TransientNetworkError),
    ("CancelPending cancel", lambda: ccxt.CancelPending("p"), CANCEL, OutcomeUnknownError),
    ("OperationFailed read", lambda: ccxt.OperationFailed("o"), READ, VenueUnavailableError),
    ("OperationFailed submit", lambda: ccxt.OperationFailed("o"), SUBMIT, OutcomeUnknownError),
    ("AuthenticationError", lambda: ccxt.AuthenticationError("a"), READ, AuthError),
    ("PermissionDenied", lambda: ccxt.PermissionDenied("p"), SUBMIT, AuthError),
    ("AccountSuspended", lambda: ccxt.AccountSuspended("s"), SUBMIT, AuthError),
    ("InsufficientFunds", lambda: ccxt.InsufficientFunds("f"), SUBMIT, InsufficientFundsError),
    ("InvalidOrder", lambda: ccxt.InvalidOrder("i"), SUBMIT, InvalidOrderError),
    ("OrderNotFound", lambda: ccxt.OrderNotFound("o"), CANCEL, OrderNotFoundError),
    ("DuplicateOrderId", lambda: ccxt.DuplicateOrderId("d"), SUBMIT, DuplicateOrderError),
    ("BadRequest", lambda: ccxt.BadRequest("b"), READ, BadRequestError),
    ("BadSymbol", lambda: ccxt.BadSymbol("b"), READ, BadRequestError),
    ("MarketClosed", lambda: ccxt.MarketClosed("m"), SUBMIT, RequestRejectedError),
    ("NotSupported", lambda: ccxt.NotSupported("n"), SUBMIT, FatalVenueError),
    ("ArgumentsRequired", lambda: ccxt.ArgumentsRequired("a"), SUBMIT, FatalVenueError),
    ("ExchangeError read", lambda: ccxt.ExchangeError("e"), READ, FatalVenueError),
    ("ExchangeError submit", lambda: ccxt.ExchangeError("e"), SUBMIT, OutcomeUnknownError),
    ("aiohttp ClientConnectorError submit", _connector_error, SUBMIT, TransientNetworkError),
    ("aiohttp ServerDisconnectedError submit", aiohttp.ServerDisconnectedError, SUBMIT, OutcomeUnknownError),
    ("aiohttp ServerDisconnectedError read", aiohttp.ServerDisconnectedError, READ, TransientNetworkError),
    ("aiohttp ClientConnectionError submit", lambda: aiohttp.ClientConnectionError("x"), SUBMIT,
     OutcomeUnknownError),
    ("aiohttp SocketTimeoutError submit", aiohttp.SocketTimeoutError, SUBMIT, OutcomeUnknownError),
    ("asyncio.TimeoutError submit", asyncio.TimeoutError, SUBMIT, OutcomeUnknownError),
    ("asyncio.TimeoutError read", asyncio.TimeoutError, READ, TransientNetworkError),
    ("ConnectionResetError submit", lambda: ConnectionResetError(104, "reset"), SUBMIT, OutcomeUnknownError),
    ("ConnectionRefusedError submit", lambda: ConnectionRefusedError(111, "refused"), SUBMIT,
     TransientNetworkError),
    ("ValueError read", lambda: ValueError("bug"), READ, FatalVenueError),
    ("ValueError submit", lambda: ValueError("bug"), SUBMIT, OutcomeUnknownError),
]


@pytest.mark.parametrize(("factory", "operation", "expected"), [r[1:] for r in EXC_ROWS],
                         ids=[r[0] for r in EXC_ROWS])
def test_classify_exception_maps_to_expected_type(
    factory: Callable[[], BaseException], operation: OperationKind, expected: type[VenueError]
) -> None:
    exc = factory()
    got = classify(exc, operation=operation)
    assert type(got) is expected
    assert got.original is exc


def test_classify_connect_error_only_in_context_does_not_make_submit_safe() -> None:
    try:
        try:
            raise _connector_error()
        except aiohttp.ClientConnectorError:
            raise ccxt.ExchangeError("something else went wrong later") from None
    except ccxt.ExchangeError as exc:
        exc.__suppress_context__ = False
        got = classify(exc, operation=SUBMIT)
    assert type(got) is OutcomeUnknownError


def test_classify_http_429_with_retry_after_header_carries_seconds() -> None:
    got = classify(None, http_status=429, headers={"Retry-After": "7"})
    assert type(got) is RateLimitedError
    assert got.retry_after == 7.0
    assert got.venue_wide


def test_classify_http_418_is_critical_and_venue_wide() -> None:
    got = classify(None, http_status=418, headers={"retry-after": "120"})
    assert got.severity is Severity.CRITICAL
    assert got.venue_wide
    assert got.retry_after == 120.0


def test_classify_clock_skew_is_critical_rejection() -> None:
    got = classify(None, http_status=400, body=err(-1021, "outside recvWindow"), operation=SUBMIT)
    assert got.error_class is ErrorClass.REJECTED
    assert got.severity is Severity.CRITICAL
    assert not got.outcome_unknown


def test_classify_maintenance_is_venue_wide() -> None:
    assert classify(ccxt.OnMaintenance("m")).venue_wide


def test_classify_body_as_mapping_is_read() -> None:
    got = classify(None, http_status=400, body={"code": -2013, "msg": "Order does not exist."})
    assert type(got) is OrderNotFoundError
    assert got.venue_code == -2013


def test_classify_venue_error_is_returned_unchanged() -> None:
    original = TransientNetworkError("x")
    assert classify(original) is original


def test_classify_cancelled_error_refuses_with_type_error() -> None:
    with pytest.raises(TypeError):
        classify(asyncio.CancelledError())


def test_classify_signature_in_message_is_redacted() -> None:
    exc = ccxt.RequestTimeout("binance GET https://x/api/v3/order?symbol=BTCUSDT&signature=deadbeef01")
    got = classify(exc)
    assert "deadbeef01" not in str(got)
    assert "signature=<redacted>" in str(got)


def test_classify_message_names_class_and_evidence() -> None:
    got = classify(None, http_status=503, body="<html/>", operation=SUBMIT, venue="binance-a", endpoint="u1")
    text = str(got)
    for part in ("class=timeout_unknown", "severity=critical", "op=submit", "venue=binance-a", "endpoint=u1",
                 "http=503"):
        assert part in text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"RETRY-AFTER": " 3 "}, 3.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": "-1"}, None),
        ({"X-Other": "1"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after_header_value_gives_seconds_or_none(
    headers: dict[str, str] | None, expected: float | None
) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date_counts_from_now() -> None:
    from datetime import UTC, datetime

    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert parse_retry_after(headers, now=now) == 30.0
    assert parse_retry_after(headers, now=datetime(2016, 1, 1, tzinfo=UTC)) == 0.0  # already past
    assert parse_retry_after({"Retry-After": "not a date"}, now=now) is None


def test_classify_429_with_http_date_retry_after_uses_now() -> None:
    from datetime import UTC, datetime

    got = classify(None, http_status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
                   now=datetime(2015, 10, 21, 7, 27, 50, tzinfo=UTC))
    assert got.retry_after == 10.0


def test_classify_ccxt_on_maintenance_with_its_503_status_is_maintenance() -> None:
    got = classify(ccxt.OnMaintenance("binance System is under maintenance."), http_status=503)
    assert isinstance(got, MaintenanceError)
    assert got.venue_wide


def test_generic_classify_knows_no_venue_code_only_status_and_exception() -> None:
    body = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert type(generic_classify(None, http_status=400, body=body, operation=SUBMIT)) is BadRequestError
    assert type(classify(None, http_status=400, body=body, operation=SUBMIT)) is InsufficientFundsError
    assert generic_classify(None, http_status=400, body=body).venue_code is None
