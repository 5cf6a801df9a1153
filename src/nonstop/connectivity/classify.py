"""`classify`: the one function that turns a foreign failure into a classified `VenueError`.

Inputs it understands, most specific first (the first that decides wins):

1. the venue's own error code, read and judged by the venue's `VenueCodes` (each adapter brings
   its own: `nonstop.venues.binance_errors`, `nonstop.venues.okx_errors`; this module knows no
   venue's codes) from `body` or from the ccxt message, which embeds the response body; a code wins
   over the HTTP status, as in ccxt (so does ccxt's `OnMaintenance`, derived from the body);
2. the HTTP status (`http_status`, else the status ccxt writes into its message, else aiohttp's);
3. the exception type: the ccxt tree (`ccxt.base.errors`), aiohttp, asyncio and OS errors.

The operation kind matters: a 5xx means "execution status unknown" (Binance and OKX say so), so a 5xx, a
timeout or a reset on a SUBMIT or CANCEL is TIMEOUT_UNKNOWN (the order is IN DOUBT), while the same
on a READ is merely transient. Only failures proven to happen before any byte was sent (DNS, connect
refused, connect timeout) stay transient for writes. When in doubt on a write we say
TIMEOUT_UNKNOWN: a needless lookup is cheap, a wrong "rejected" is an untracked position.

Retry-After comes from `headers` (ccxt does not read it, so the adapter passes the response
headers): delta-seconds, or an HTTP-date when the caller passes `now` (from its clock). Request
signatures are redacted from messages (invariant 9).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, Protocol

import aiohttp
from ccxt.base import errors as cx

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
    OperationKind,
    OrderNotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestRejectedError,
    Severity,
    TransientNetworkError,
    VenueError,
    VenueUnavailableError,
)

__all__ = [
    "VenueCodes",
    "Verdict",
    "after_send",
    "classify",
    "error_document",
    "parse_error_doc",
    "parse_retry_after",
    "read_error",
]


class Verdict(NamedTuple):
    kind: type[VenueError]
    severity: Severity | None = None
    venue_wide: bool = False


_Verdict = Verdict


class VenueCodes(Protocol):
    """One venue's error vocabulary: how to read its code from an answer, and what each code means."""

    def read(self, body: str | Mapping[str, Any] | None, exc: BaseException | None) -> tuple[int | None, str | None]:
        """(code, message) of the venue's error in `body` or in the ccxt message embedding it."""
        ...

    def verdict(self, code: int | None, msg: str | None, status: int | None, write: bool) -> Verdict | None:
        """The class of this code (None: let the HTTP status and the exception decide)."""
        ...


_CODE_RE = re.compile(r'"code"\s*:\s*(-?\d+)')
_MSG_RE = re.compile(r'"msg"\s*:\s*"((?:[^"\\]|\\.)*)"')
_STATUS_RES = (
    re.compile(r"^\S+ (?:GET|POST|PUT|DELETE|PATCH|HEAD) \S+ (\d{3})\b"),  # base handle_http_status_code
    re.compile(r"^\S+ (418|429)\b"),  # binance handle_errors (DDoSProtection)
)
_SIGNATURE_RE = re.compile(r"(signature=)[0-9a-fA-F]+")
# Exceptions proving the request never left: nothing can have executed.
_NOT_SENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    socket.gaierror,
    ConnectionRefusedError,
)
# Transport failures that may strike after the request was sent.
_AFTER_SEND: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    ConnectionError,
    TimeoutError,  # asyncio.TimeoutError is TimeoutError on 3.11
    OSError,
)


def classify(
    exc: BaseException | None,
    *,
    http_status: int | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | Mapping[str, Any] | None = None,
    operation: OperationKind = OperationKind.READ,
    venue: str = "",
    endpoint: str = "",
    now: datetime | None = None,
    codes: VenueCodes | None = None,
) -> VenueError:
    """Classify a failed request; return (do not raise) a `VenueError` carrying the evidence.

    `codes` is the venue's error vocabulary (its adapter's); without it only the HTTP status and the
    exception decide.

    `exc` may be None when only a raw HTTP answer is at hand. A `VenueError` is returned unchanged.
    Cancellation and interpreter exits are not failures to classify: they raise TypeError here,
    so a caller that catches too wide notices at once.
    """
    if isinstance(exc, VenueError):
        return exc
    if exc is not None and not isinstance(exc, Exception):
        raise TypeError(f"{type(exc).__name__} must propagate, not be classified")
    status = http_status if http_status is not None else _status_of(exc)
    code, msg = codes.read(body, exc) if codes is not None else (None, None)
    write = operation.is_write
    verdict = (
        (codes.verdict(code, msg, status, write) if codes is not None else None)
        or (_Verdict(MaintenanceError, venue_wide=True) if isinstance(exc, cx.OnMaintenance) else None)
        or _by_status(status, msg, write)
        or _by_exception(exc, write)
    )
    retry_after = parse_retry_after(headers, now=now)
    message = _SIGNATURE_RE.sub(r"\1<redacted>", _describe(exc, status, msg))
    return verdict.kind(
        message,
        venue=venue,
        endpoint=endpoint,
        operation=operation,
        original=exc,
        venue_code=code,
        http_status=status,
        retry_after=retry_after,
        severity=verdict.severity,
        venue_wide=verdict.venue_wide,
    )


def parse_retry_after(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (any case): delta-seconds, or an HTTP-date counted from
    `now` (aware UTC; without it a date gives None). None when absent or unreadable."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            text = str(value).strip()
            try:
                seconds = float(text)
            except ValueError:
                return _seconds_until(text, now)
            return seconds if seconds >= 0 else None
    return None


def _seconds_until(http_date: str, now: datetime | None) -> float | None:
    if now is None:
        return None  # Binance sends seconds; without a clock the limiter's default applies
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; `-0000` parses naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def after_send(write: bool, read_kind: type[VenueError]) -> Verdict:
    """Unknown outcome for a write, `read_kind` for a read: the request may have been processed."""
    return Verdict(OutcomeUnknownError if write else read_kind)


_after_send = after_send


def _by_status(status: int | None, msg: str | None, write: bool) -> _Verdict | None:
    if status is None or status < 400:
        return None
    if status == 418:
        return _Verdict(IpBannedError, Severity.CRITICAL, venue_wide=True)
    if status == 429:
        return _Verdict(RateLimitedError, venue_wide=True)
    if status == 403:  # Binance: the WAF limit was violated; back off like a 429, and tell a person
        return _Verdict(RateLimitedError, Severity.CRITICAL, venue_wide=True)
    if status in (401, 407):
        return _Verdict(AuthError)
    if status == 404:  # a wrong path is a bug or a misconfigured endpoint, not a blip
        return _Verdict(FatalVenueError)
    if status == 408:  # the server gave up waiting for our request: it did not process it
        return _Verdict(TransientNetworkError)
    if status < 500:
        return _Verdict(BadRequestError)
    if status == 504:
        return _after_send(write, TransientNetworkError)
    return _after_send(write, VenueUnavailableError)


def _by_exception(exc: BaseException | None, write: bool) -> _Verdict:
    if exc is None:
        return _after_send(write, FatalVenueError)
    if _caused_by(exc, _NOT_SENT, follow_context=False):
        return _Verdict(TransientNetworkError)
    table: tuple[tuple[type[BaseException], _Verdict | None], ...] = (
        (cx.OnMaintenance, _Verdict(MaintenanceError, venue_wide=True)),
        (cx.RateLimitExceeded, _Verdict(RateLimitedError, venue_wide=True)),
        (cx.DDoSProtection, _Verdict(RateLimitedError, venue_wide=True)),
        (cx.ChecksumError, _Verdict(TransientNetworkError)),
        (cx.InvalidNonce, _Verdict(ClockSkewError, Severity.CRITICAL)),
        (cx.RequestTimeout, None),
        (cx.ExchangeNotAvailable, None),
        (cx.NetworkError, None),
        (cx.BadResponse, None),
        (cx.CancelPending, None),
        (cx.OperationFailed, None),
        (cx.AuthenticationError, _Verdict(AuthError)),
        (cx.InsufficientFunds, _Verdict(InsufficientFundsError)),
        (cx.DuplicateOrderId, _Verdict(DuplicateOrderError)),
        (cx.OrderNotFound, _Verdict(OrderNotFoundError)),
        (cx.InvalidOrder, _Verdict(InvalidOrderError)),
        (cx.BadRequest, _Verdict(BadRequestError)),  # includes BadSymbol
        (cx.NotSupported, _Verdict(FatalVenueError)),  # raised by ccxt before sending
        (cx.ArgumentsRequired, _Verdict(FatalVenueError)),
        (cx.InvalidProxySettings, _Verdict(FatalVenueError)),
        (cx.ExchangeClosedByUser, _Verdict(FatalVenueError)),
        (cx.OperationRejected, _Verdict(RequestRejectedError)),
        (cx.InvalidAddress, _Verdict(RequestRejectedError)),
    )
    for kind, verdict in table:
        if isinstance(exc, kind):
            return verdict if verdict is not None else _transport(exc, write)
    if isinstance(exc, _AFTER_SEND) or _caused_by(exc, _AFTER_SEND):
        return _after_send(write, TransientNetworkError)
    # ccxt.ExchangeError / BaseError with nothing we recognise, or a foreign exception.
    return _after_send(write, FatalVenueError)


def _transport(exc: BaseException, write: bool) -> _Verdict:
    """ccxt's NetworkError side: transient for reads, unknown for writes."""
    if isinstance(exc, cx.ExchangeNotAvailable) and not _caused_by(exc, _AFTER_SEND):
        return _after_send(write, VenueUnavailableError)  # an HTTP 5xx ccxt did not parse further
    if isinstance(exc, cx.OperationFailed) and not isinstance(exc, cx.NetworkError | cx.BadResponse
                                                              | cx.CancelPending):
        return _after_send(write, VenueUnavailableError)  # an "unknown error" / "system abnormality" answer
    return _after_send(write, TransientNetworkError)


def _caused_by(
    exc: BaseException, kinds: tuple[type[BaseException], ...], *, follow_context: bool = True
) -> bool:
    # "Not sent" is only believed through explicit `raise ... from` links: an unrelated exception
    # that happened to be in flight (__context__) must never make a write look safe.
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kinds):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or (cur.__context__ if follow_context else None)
    return False


def _status_of(exc: BaseException | None) -> int | None:
    if exc is None:
        return None
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status
    if isinstance(exc, cx.BaseError):
        text = str(exc)
        for pattern in _STATUS_RES:
            m = pattern.match(text)
            if m:
                return int(m.group(1))
    return None


def read_error(
    body: str | Mapping[str, Any] | None,
    exc: BaseException | None,
    parse: Callable[[str | Mapping[str, Any]], tuple[int | None, str | None]] | None = None,
) -> tuple[int | None, str | None]:
    """(code, msg) of a venue's error, from `body` or the ccxt message embedding it (`parse` reads
    one document; default: a top-level `{"code", "msg"}`)."""
    reader = parse or parse_error_doc
    sources: list[str | Mapping[str, Any]] = []
    if body is not None:
        sources.append(body)
    if isinstance(exc, cx.BaseError):
        sources.append(str(exc))
    for src in sources:
        found = reader(src)
        if found != (None, None):
            return found
    return None, None


def error_document(src: str | Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON object in `src` (a mapping, or text holding one), or None."""
    if isinstance(src, Mapping):
        return src
    start, end = src.find("{"), src.rfind("}")
    if 0 <= start < end:
        try:
            doc = json.loads(src[start : end + 1])
        except ValueError:
            return None
        return doc if isinstance(doc, Mapping) else None
    return None


def parse_error_doc(src: str | Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(code, msg) of a `{"code": ..., "msg": ...}` error document (a mapping, or text holding one)."""
    doc: Any = src
    if isinstance(src, str):
        start, end = src.find("{"), src.rfind("}")
        doc = None
        if 0 <= start < end:
            try:
                doc = json.loads(src[start : end + 1])
            except ValueError:
                doc = None
        if not isinstance(doc, Mapping):  # not clean JSON: fall back to the two fields we need
            code_m, msg_m = _CODE_RE.search(src), _MSG_RE.search(src)
            return (int(code_m.group(1)) if code_m else None, msg_m.group(1) if msg_m else None)
    code: int | None = None
    raw_code = doc.get("code")
    if isinstance(raw_code, int | str) and not isinstance(raw_code, bool):
        try:
            code = int(raw_code)
        except ValueError:
            code = None
    raw_msg = doc.get("msg")
    return code, raw_msg if isinstance(raw_msg, str) else None


def _describe(exc: BaseException | None, status: int | None, msg: str | None) -> str:
    if exc is None:
        return f"HTTP {status}: {msg}" if msg else f"HTTP {status}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError) and not str(exc):
        text = "timed out"
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 500 else text[:497] + "..."
