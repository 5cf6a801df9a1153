"""The connectivity error taxonomy: one `ErrorClass` per way a venue request can fail, and the
exception tree nonstop raises for it. Foreign exceptions (ccxt, aiohttp, asyncio) are translated at
the boundary by one function, `nonstop.connectivity.classify.classify`; callers decide "retry or
not" by class, never by parsing messages.

    NonstopError
    └── ConnectivityError                anything this layer raises on purpose
        ├── VenueError                   a request to a venue failed; carries the classification
        │   ├── TransientNetworkError    TRANSIENT_NETWORK: connect failure, reset/timeout on a read
        │   ├── OutcomeUnknownError      TIMEOUT_UNKNOWN: a write was sent and no verdict came back
        │   ├── RateLimitedError         RATE_LIMITED: 429, -1003, -1015 (`retry_after` when known)
        │   │   └── IpBannedError        418: the IP is banned; nothing may be sent until retry_after
        │   ├── VenueUnavailableError    UNAVAILABLE: 5xx on a read, 503 "try again", -1001, -1008
        │   │   └── MaintenanceError     the venue says it is in maintenance (venue-wide)
        │   ├── RequestRejectedError     REJECTED: the venue refused the request; it did NOT execute
        │   │   ├── InvalidOrderError        -2010, -1013 filters, ...
        │   │   │   ├── DuplicateOrderError  -2010 "Duplicate order sent." (the client id exists)
        │   │   │   └── OrderNotFoundError   -2011 "Unknown order sent.", -2013
        │   │   ├── InsufficientFundsError   -2010 "Account has insufficient balance ..."
        │   │   ├── BadRequestError          -11xx, BadSymbol (-1121)
        │   │   └── ClockSkewError           -1021: our timestamp is outside recvWindow; resync first
        │   ├── AuthError                AUTH: -1022, -2014, -2015, 401
        │   └── FatalVenueError          FATAL: an answer we do not understand on a read, 404, bugs
        └── RequestNotSent               nonstop refused locally: not one byte left the process
            ├── CircuitOpenError         a breaker (endpoint or venue) is open
            │   └── NoEndpointAvailable  every endpoint of the venue is open or busy probing
            └── RateLimitBackpressure    the limiter would not grant the request
                ├── DataDropped          a droppable (market-data) request found no budget
                ├── LimiterQueueFull     the priority's bounded queue is full
                └── LimiterTimeout       the request could not get budget within its max wait

`RequestNotSent` is a promise to the order manager: the order certainly did not reach the venue,
so it is safe to resend it (with the same client order id) later. `OutcomeUnknownError` is the
opposite: the order is IN DOUBT and is resolved by lookup, never by a blind resend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from nonstop.errors import NonstopError


class Severity(StrEnum):
    """Critical errors need a person or an engine-wide reaction; non-critical ones heal by themselves."""

    CRITICAL = "critical"
    NON_CRITICAL = "non_critical"


class OperationKind(StrEnum):
    """What a request does, which decides how a failure after send is read.

    A READ has no side effect, so any failure is just a failure. A SUBMIT (new order) or a CANCEL
    changes venue state, so a failure after the request left (timeout, reset, 5xx) leaves the outcome
    unknown.
    """

    READ = "read"
    SUBMIT = "submit"
    CANCEL = "cancel"

    @property
    def is_write(self) -> bool:
        return self is not OperationKind.READ


@dataclass(frozen=True, slots=True)
class ErrorTraits:
    """What an error class means for the layers above."""

    severity: Severity
    retry_safe_for_reads: bool  # a read failing so may be retried (after backoff / Retry-After)
    outcome_unknown: bool  # a write failing so may or may not have executed: IN DOUBT
    counts_for_breaker: bool  # the failure says something about the endpoint's health


class ErrorClass(StrEnum):
    """The one taxonomy of venue failures (see `TRAITS` for each class's flags)."""

    TRANSIENT_NETWORK = "transient_network"
    TIMEOUT_UNKNOWN = "timeout_unknown"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"
    AUTH = "auth"
    FATAL = "fatal"

    @property
    def traits(self) -> ErrorTraits:
        return TRAITS[self]

    @property
    def severity(self) -> Severity:
        return TRAITS[self].severity

    @property
    def retry_safe_for_reads(self) -> bool:
        return TRAITS[self].retry_safe_for_reads

    @property
    def outcome_unknown(self) -> bool:
        return TRAITS[self].outcome_unknown

    @property
    def counts_for_breaker(self) -> bool:
        return TRAITS[self].counts_for_breaker


_C, _N = Severity.CRITICAL, Severity.NON_CRITICAL

TRAITS: Mapping[ErrorClass, ErrorTraits] = {
    ErrorClass.TRANSIENT_NETWORK: ErrorTraits(_N, retry_safe_for_reads=True, outcome_unknown=False,
                                              counts_for_breaker=True),
    # An order whose fate is unknown is money at risk until a lookup settles it.
    ErrorClass.TIMEOUT_UNKNOWN: ErrorTraits(_C, retry_safe_for_reads=True, outcome_unknown=True,
                                            counts_for_breaker=True),
    # The limiter handles it; a 418 (ban) is escalated to critical per error.
    ErrorClass.RATE_LIMITED: ErrorTraits(_N, retry_safe_for_reads=True, outcome_unknown=False,
                                         counts_for_breaker=False),
    ErrorClass.UNAVAILABLE: ErrorTraits(_N, retry_safe_for_reads=True, outcome_unknown=False,
                                        counts_for_breaker=True),
    ErrorClass.REJECTED: ErrorTraits(_N, retry_safe_for_reads=False, outcome_unknown=False,
                                     counts_for_breaker=False),
    ErrorClass.AUTH: ErrorTraits(_C, retry_safe_for_reads=False, outcome_unknown=False,
                                 counts_for_breaker=False),
    ErrorClass.FATAL: ErrorTraits(_C, retry_safe_for_reads=False, outcome_unknown=False,
                                  counts_for_breaker=False),
}


class ConnectivityError(NonstopError):
    """Root of everything the connectivity layer raises on purpose."""


class VenueError(ConnectivityError):
    """A request to a venue failed. Subclasses fix `error_class`; instances carry the evidence.

    Build one with `classify(...)`, then `raise err from original`.
    """

    error_class: ErrorClass = ErrorClass.FATAL

    def __init__(
        self,
        message: str,
        *,
        venue: str = "",
        endpoint: str = "",
        operation: OperationKind = OperationKind.READ,
        original: BaseException | None = None,
        venue_code: int | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        severity: Severity | None = None,
        venue_wide: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.venue = venue
        self.endpoint = endpoint
        self.operation = operation
        self.original = original
        self.venue_code = venue_code
        self.http_status = http_status
        self.retry_after = retry_after
        self.severity: Severity = severity or self.error_class.severity
        # True when the failure concerns the whole venue (maintenance, an IP ban), not one endpoint.
        self.venue_wide = venue_wide

    @property
    def outcome_unknown(self) -> bool:
        return self.error_class.outcome_unknown

    @property
    def counts_for_breaker(self) -> bool:
        return self.error_class.counts_for_breaker

    def __str__(self) -> str:
        facts = [f"class={self.error_class.value}", f"severity={self.severity.value}",
                 f"op={self.operation.value}"]
        if self.venue:
            facts.append(f"venue={self.venue}")
        if self.endpoint:
            facts.append(f"endpoint={self.endpoint}")
        if self.http_status is not None:
            facts.append(f"http={self.http_status}")
        if self.venue_code is not None:
            facts.append(f"code={self.venue_code}")
        if self.retry_after is not None:
            facts.append(f"retry_after={self.retry_after:g}s")
        return f"{self.message} [{' '.join(facts)}]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"


class TransientNetworkError(VenueError):
    error_class = ErrorClass.TRANSIENT_NETWORK


class OutcomeUnknownError(VenueError):
    error_class = ErrorClass.TIMEOUT_UNKNOWN


class RateLimitedError(VenueError):
    error_class = ErrorClass.RATE_LIMITED


class IpBannedError(RateLimitedError):
    pass


class VenueUnavailableError(VenueError):
    error_class = ErrorClass.UNAVAILABLE


class MaintenanceError(VenueUnavailableError):
    pass


class RequestRejectedError(VenueError):
    error_class = ErrorClass.REJECTED


class InvalidOrderError(RequestRejectedError):
    pass


class DuplicateOrderError(InvalidOrderError):
    pass


class OrderNotFoundError(InvalidOrderError):
    pass


class InsufficientFundsError(RequestRejectedError):
    pass


class BadRequestError(RequestRejectedError):
    pass


class ClockSkewError(RequestRejectedError):
    pass


class AuthError(VenueError):
    error_class = ErrorClass.AUTH


class FatalVenueError(VenueError):
    error_class = ErrorClass.FATAL


class RequestNotSent(ConnectivityError):
    """Refused locally before sending: the request certainly did not reach the venue."""


class CircuitOpenError(RequestNotSent):
    """A circuit breaker is open; `retry_in` says when it will let a probe through (if known)."""

    def __init__(self, message: str, *, scope: str, name: str, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.scope = scope
        self.name = name
        self.retry_in = retry_in


class NoEndpointAvailable(CircuitOpenError):
    """No endpoint of the venue can take this request now."""


class RateLimitBackpressure(RequestNotSent):
    """The rate limiter did not grant the request; `retry_in` is what is left of a 429/418 pause
    (None when the limiter is not paused), before which nothing is sent to the venue anyway."""

    def __init__(self, message: str, *, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class DataDropped(RateLimitBackpressure):
    """A droppable request was dropped instead of queued (a newer update will come)."""


class LimiterQueueFull(RateLimitBackpressure):
    """The bounded queue of this priority is full."""


class LimiterTimeout(RateLimitBackpressure):
    """Budget could not be had within the request's maximum wait."""


CLASS_TO_ERROR: Mapping[ErrorClass, type[VenueError]] = {
    ErrorClass.TRANSIENT_NETWORK: TransientNetworkError,
    ErrorClass.TIMEOUT_UNKNOWN: OutcomeUnknownError,
    ErrorClass.RATE_LIMITED: RateLimitedError,
    ErrorClass.UNAVAILABLE: VenueUnavailableError,
    ErrorClass.REJECTED: RequestRejectedError,
    ErrorClass.AUTH: AuthError,
    ErrorClass.FATAL: FatalVenueError,
}
