"""The taxonomy: every class's traits, the exception tree, and the package's public names."""

from __future__ import annotations

import pytest

import nonstop.connectivity as connectivity
from nonstop.connectivity import errors as E
from nonstop.connectivity.errors import ErrorClass, Severity
from nonstop.errors import NonstopError

C, N = Severity.CRITICAL, Severity.NON_CRITICAL

# class: (severity, retry_safe_for_reads, outcome_unknown, counts_for_breaker)
TRAIT_ROWS = {
    ErrorClass.TRANSIENT_NETWORK: (N, True, False, True),
    ErrorClass.TIMEOUT_UNKNOWN: (C, True, True, True),
    ErrorClass.RATE_LIMITED: (N, True, False, False),
    ErrorClass.UNAVAILABLE: (N, True, False, True),
    ErrorClass.REJECTED: (N, False, False, False),
    ErrorClass.AUTH: (C, False, False, False),
    ErrorClass.FATAL: (C, False, False, False),
}


def test_error_class_table_covers_every_class() -> None:
    assert set(TRAIT_ROWS) == set(ErrorClass) == set(E.TRAITS)


@pytest.mark.parametrize("cls", list(ErrorClass))
def test_error_class_traits_match_the_documented_table(cls: ErrorClass) -> None:
    severity, retry_reads, unknown, breaker = TRAIT_ROWS[cls]
    assert (cls.severity, cls.retry_safe_for_reads, cls.outcome_unknown, cls.counts_for_breaker) == (
        severity, retry_reads, unknown, breaker)


@pytest.mark.parametrize(("exc_type", "cls"), [
    (E.TransientNetworkError, ErrorClass.TRANSIENT_NETWORK),
    (E.OutcomeUnknownError, ErrorClass.TIMEOUT_UNKNOWN),
    (E.RateLimitedError, ErrorClass.RATE_LIMITED),
    (E.IpBannedError, ErrorClass.RATE_LIMITED),
    (E.VenueUnavailableError, ErrorClass.UNAVAILABLE),
    (E.MaintenanceError, ErrorClass.UNAVAILABLE),
    (E.RequestRejectedError, ErrorClass.REJECTED),
    (E.InvalidOrderError, ErrorClass.REJECTED),
    (E.DuplicateOrderError, ErrorClass.REJECTED),
    (E.OrderNotFoundError, ErrorClass.REJECTED),
    (E.InsufficientFundsError, ErrorClass.REJECTED),
    (E.BadRequestError, ErrorClass.REJECTED),
    (E.ClockSkewError, ErrorClass.REJECTED),
    (E.AuthError, ErrorClass.AUTH),
    (E.FatalVenueError, ErrorClass.FATAL),
])
def test_venue_error_subclass_carries_its_class(exc_type: type[E.VenueError], cls: ErrorClass) -> None:
    err = exc_type("x")
    assert err.error_class is cls
    assert err.severity is cls.severity
    assert isinstance(err, E.VenueError)
    assert isinstance(err, NonstopError)


def test_class_to_error_maps_every_class_to_its_base_type() -> None:
    for cls in ErrorClass:
        assert E.CLASS_TO_ERROR[cls].error_class is cls


@pytest.mark.parametrize("exc_type", [E.CircuitOpenError, E.NoEndpointAvailable])
def test_breaker_refusals_are_not_sent_and_not_venue_errors(exc_type: type[E.CircuitOpenError]) -> None:
    err = exc_type("open", scope="endpoint", name="u1", retry_in=1.5)
    assert isinstance(err, E.RequestNotSent)
    assert not isinstance(err, E.VenueError)
    assert err.retry_in == 1.5


@pytest.mark.parametrize("exc_type", [E.DataDropped, E.LimiterQueueFull, E.LimiterTimeout])
def test_limiter_refusals_are_not_sent_backpressure(exc_type: type[E.RateLimitBackpressure]) -> None:
    err = exc_type("x")
    assert isinstance(err, E.RateLimitBackpressure)
    assert isinstance(err, E.RequestNotSent)
    assert isinstance(err, E.ConnectivityError)


def test_venue_error_severity_override_wins_over_class_default() -> None:
    assert E.RateLimitedError("x", severity=Severity.CRITICAL).severity is Severity.CRITICAL


def test_operation_kind_writes_are_submit_and_cancel() -> None:
    assert [k for k in E.OperationKind if k.is_write] == [E.OperationKind.SUBMIT, E.OperationKind.CANCEL]


def test_package_all_names_exist_and_are_sorted() -> None:
    assert connectivity.__all__ == sorted(connectivity.__all__)
    for name in connectivity.__all__:
        assert hasattr(connectivity, name), name
