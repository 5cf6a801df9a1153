"""Circuit breakers: thresholds, half-open probing, stale verdicts, events, venue aggregation."""

from __future__ import annotations

import asyncio

import pytest

from nonstop.clock import ManualClock
from nonstop.connectivity import (
    AuthError,
    BreakerConfig,
    BreakerScope,
    BreakerState,
    BreakerStateChanged,
    CircuitBreaker,
    CircuitOpenError,
    IpBannedError,
    MaintenanceError,
    RateLimitedError,
    RequestRejectedError,
    TransientNetworkError,
    VenueBreaker,
    VenueUnavailableError,
)
from nonstop.errors import ConfigError

CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
pytestmark = pytest.mark.timeout(10)


def make(clock: ManualClock, **cfg: object) -> tuple[CircuitBreaker, list[BreakerStateChanged]]:
    events: list[BreakerStateChanged] = []
    config = BreakerConfig(**{"consecutive_failures": 3, "failure_rate": None, "open_duration": 5.0,
                              **cfg})  # type: ignore[arg-type]
    return CircuitBreaker("u1", clock, config, on_change=events.append), events


def fail(b: CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        b.record(b.acquire(), TransientNetworkError("reset"))


def test_breaker_consecutive_failures_reach_threshold_opens_and_emits(clock: ManualClock) -> None:
    b, events = make(clock)
    fail(b, 2)
    assert b.state is CLOSED
    fail(b)
    assert b.state is OPEN
    assert len(events) == 1
    e = events[0]
    assert (e.scope, e.name, e.old, e.new) == (BreakerScope.ENDPOINT, "u1", CLOSED, OPEN)
    assert "3 consecutive failures" in e.reason
    assert e.at == clock.now()


def test_breaker_success_resets_consecutive_count(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 2)
    b.record(b.acquire(), None)
    fail(b, 2)
    assert b.state is CLOSED


def test_breaker_failure_rate_in_window_opens(clock: ManualClock) -> None:
    b, _ = make(clock, consecutive_failures=None, failure_rate=0.5, min_calls=4, window=10.0)
    for outcome in (None, TransientNetworkError("x"), None):
        b.record(b.acquire(), outcome)
    assert b.state is CLOSED  # 3 calls < min_calls
    b.record(b.acquire(), TransientNetworkError("x"))
    assert b.state is OPEN  # 2/4 failed


def test_breaker_failure_rate_forgets_calls_outside_window(clock: ManualClock) -> None:
    b, _ = make(clock, consecutive_failures=None, failure_rate=0.5, min_calls=4, window=10.0)
    fail(b, 3)
    clock.advance(11.0)
    for _ in range(3):
        b.record(b.acquire(), None)
    b.record(b.acquire(), TransientNetworkError("x"))
    assert b.state is CLOSED  # 1/4 in the window


@pytest.mark.parametrize("error", [RequestRejectedError("-2010"), AuthError("-2015"), RateLimitedError("429")])
def test_breaker_rejected_auth_or_rate_limited_never_trip(clock: ManualClock, error: Exception) -> None:
    b, events = make(clock)
    for _ in range(10):
        b.record(b.acquire(), error)
    assert b.state is CLOSED
    assert events == []


def test_breaker_open_refuses_with_retry_in(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 3)
    clock.advance(2.0)
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.retry_in == pytest.approx(3.0)
    assert (info.value.scope, info.value.name) == ("endpoint", "u1")


def test_breaker_open_duration_elapsed_goes_half_open_with_limited_probes(clock: ManualClock) -> None:
    b, events = make(clock, half_open_probes=2)
    fail(b, 3)
    clock.advance(5.0)
    assert b.state is HALF
    p1, p2 = b.acquire(), b.acquire()
    assert p1.probe and p2.probe
    with pytest.raises(CircuitOpenError):
        b.acquire()
    b.on_success(p1)
    assert b.state is HALF
    b.on_success(p2)
    assert b.state is CLOSED
    assert [(e.old, e.new) for e in events] == [(CLOSED, OPEN), (OPEN, HALF), (HALF, CLOSED)]


def test_breaker_failed_probe_reopens_with_longer_capped_duration(clock: ManualClock) -> None:
    b, _ = make(clock, open_backoff=2.0, max_open_duration=8.0)
    fail(b, 3)
    clock.advance(5.0)
    b.on_failure(b.acquire(), "still down")
    assert b.state is OPEN
    clock.advance(7.9)
    assert b.state is OPEN  # 5 s x 2 = 10 s, capped at 8 s
    clock.advance(0.1)
    assert b.state is HALF


def test_breaker_closing_resets_open_duration(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 3)
    clock.advance(5.0)
    b.on_failure(b.acquire(), "down")  # next open: 10 s
    clock.advance(10.0)
    b.on_success(b.acquire())
    assert b.state is CLOSED
    fail(b, 3)
    clock.advance(5.0)
    assert b.state is HALF  # back to 5 s


def test_breaker_stale_success_from_before_opening_does_not_close(clock: ManualClock) -> None:
    b, _ = make(clock)
    slow = b.acquire()  # admitted while CLOSED
    fail(b, 3)
    clock.advance(5.0)
    assert b.state is HALF
    b.on_success(slow)
    assert b.state is HALF
    probe = b.acquire()  # the probe slot is still free for a real probe
    assert probe.probe


def test_breaker_stale_failure_arriving_in_half_open_does_not_reopen(clock: ManualClock) -> None:
    b, _ = make(clock)
    slow = b.acquire()  # admitted while CLOSED
    fail(b, 3)
    clock.advance(5.0)
    b.on_failure(slow, "late timeout of a call from before")
    assert b.state is HALF


def test_breaker_stale_probe_success_from_earlier_half_open_does_not_close(clock: ManualClock) -> None:
    b, _ = make(clock, half_open_probes=2)
    fail(b, 3)
    clock.advance(5.0)
    old_probe, failing_probe = b.acquire(), b.acquire()
    b.on_failure(failing_probe, "down")  # reopens; old_probe is still in flight
    clock.advance(10.0)
    assert b.state is HALF
    new_probe = b.acquire()
    b.on_success(old_probe)  # stale: frees no slot, counts no success
    second = b.acquire()
    with pytest.raises(CircuitOpenError):
        b.acquire()
    b.on_success(new_probe)
    assert b.state is HALF  # one real success of the two needed
    b.on_success(second)
    assert b.state is CLOSED


def test_breaker_stale_failure_after_opening_does_not_extend_open(clock: ManualClock) -> None:
    b, events = make(clock)
    permits = [b.acquire() for _ in range(5)]
    for p in permits:
        b.on_failure(p, "x")
    assert [e.new for e in events] == [OPEN]
    clock.advance(5.0)
    assert b.state is HALF


def test_breaker_release_frees_probe_slot_without_verdict(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 3)
    clock.advance(5.0)
    b.on_release(b.acquire())
    assert b.state is HALF
    assert b.acquire().probe


async def test_breaker_guard_cancelled_call_releases_probe_and_propagates(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 3)
    clock.advance(5.0)

    async def body() -> None:
        async with b.guard():
            await asyncio.Event().wait()

    task = asyncio.ensure_future(body())
    await asyncio.sleep(0)
    assert not b.allows()  # the only probe slot is taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.state is HALF
    assert b.allows()


async def test_breaker_guard_counting_error_fails_probe_and_reraises(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 3)
    clock.advance(5.0)
    with pytest.raises(VenueUnavailableError):
        async with b.guard():
            raise VenueUnavailableError("503")
    assert b.state is OPEN


async def test_breaker_guard_success_closes_half_open(clock: ManualClock) -> None:
    b, _ = make(clock)
    fail(b, 3)
    clock.advance(5.0)
    async with b.guard():
        pass
    assert b.state is CLOSED


def test_breaker_trip_forces_open_for_given_duration(clock: ManualClock) -> None:
    b, events = make(clock)
    b.trip("maintenance", 30.0)
    assert b.state is OPEN
    clock.advance(29.9)
    assert b.state is OPEN
    clock.advance(0.1)
    assert b.state is HALF
    assert events[0].reason == "maintenance"


@pytest.mark.parametrize("kwargs", [
    {"consecutive_failures": 0}, {"failure_rate": 0.0}, {"failure_rate": 1.5}, {"window": 0.0},
    {"min_calls": 0}, {"open_duration": 0.0}, {"open_duration": 100.0, "max_open_duration": 10.0},
    {"open_backoff": 0.5}, {"half_open_probes": 0},
])
def test_breaker_config_invalid_values_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        BreakerConfig(**kwargs)  # type: ignore[arg-type]


# ---- venue breaker ------------------------------------------------------------------------------

def make_venue(clock: ManualClock, share: float = 1.0) -> tuple[VenueBreaker, list[BreakerStateChanged]]:
    events: list[BreakerStateChanged] = []
    cfg = BreakerConfig(consecutive_failures=1, failure_rate=None, open_duration=5.0)
    vb = VenueBreaker("binance-a", ["u1", "u2", "u3"], clock, endpoint_config=cfg,
                      venue_config=BreakerConfig(open_duration=10.0), open_share=share, on_change=events.append)
    return vb, events


def venue_events(events: list[BreakerStateChanged]) -> list[tuple[BreakerState, BreakerState]]:
    return [(e.old, e.new) for e in events if e.scope is BreakerScope.VENUE]


def test_venue_breaker_all_endpoints_open_opens_venue(clock: ManualClock) -> None:
    vb, events = make_venue(clock)
    fail(vb.endpoint("u1"))
    fail(vb.endpoint("u2"))
    assert vb.state is CLOSED
    fail(vb.endpoint("u3"))
    assert vb.state is OPEN
    venue_open = [e for e in events if e.scope is BreakerScope.VENUE][-1]
    assert venue_open.name == "binance-a"
    assert "3/3 endpoints open" in venue_open.reason
    assert [e.name for e in events if e.scope is BreakerScope.ENDPOINT] == ["u1", "u2", "u3"]


def test_venue_breaker_most_endpoints_open_with_share_opens(clock: ManualClock) -> None:
    vb, _ = make_venue(clock, share=0.66)
    fail(vb.endpoint("u1"))
    assert vb.state is CLOSED
    fail(vb.endpoint("u2"))
    assert vb.state is OPEN


def test_venue_breaker_endpoints_probing_then_recovered_goes_half_open_then_closed(clock: ManualClock) -> None:
    vb, events = make_venue(clock)
    for name in ("u1", "u2", "u3"):
        fail(vb.endpoint(name))
    clock.advance(5.0)
    assert vb.state is HALF
    vb.endpoint("u2").on_success(vb.endpoint("u2").acquire())
    assert vb.state is CLOSED
    assert venue_events(events) == [(CLOSED, OPEN), (OPEN, HALF), (HALF, CLOSED)]


def test_venue_breaker_maintenance_trips_venue_for_retry_after(clock: ManualClock) -> None:
    vb, events = make_venue(clock)
    vb.record(vb.acquire(), MaintenanceError("maintenance", retry_after=60.0, venue_wide=True))
    assert vb.state is OPEN
    with pytest.raises(CircuitOpenError) as info:
        vb.acquire()
    assert info.value.scope == "venue"
    clock.advance(59.0)
    assert vb.state is OPEN
    clock.advance(1.0)
    assert vb.state is HALF
    vb.record(vb.acquire(), None)
    assert vb.state is CLOSED
    assert venue_events(events) == [(CLOSED, OPEN), (OPEN, HALF), (HALF, CLOSED)]


def test_venue_breaker_ip_ban_trips_venue(clock: ManualClock) -> None:
    vb, _ = make_venue(clock)
    vb.record(vb.acquire(), IpBannedError("418", retry_after=120.0, venue_wide=True))
    assert vb.state is OPEN


def test_venue_breaker_plain_429_does_not_trip(clock: ManualClock) -> None:
    vb, events = make_venue(clock)
    vb.record(vb.acquire(), RateLimitedError("429", retry_after=10.0, venue_wide=True))
    assert vb.state is CLOSED
    assert events == []


def test_venue_breaker_rejects_bad_setup(clock: ManualClock) -> None:
    with pytest.raises(ConfigError):
        VenueBreaker("v", [], clock)
    with pytest.raises(ConfigError):
        VenueBreaker("v", ["u1", "u1"], clock)
    with pytest.raises(ConfigError):
        VenueBreaker("v", ["u1"], clock, open_share=0.0)


def test_venue_breaker_allows_and_retry_in_follow_a_venue_wide_trip(clock: ManualClock) -> None:
    vb, _ = make_venue(clock)
    assert vb.allows() and vb.retry_in() == 0.0
    vb.record(vb.acquire(), MaintenanceError("maintenance", retry_after=20.0, venue_wide=True))
    assert not vb.allows()
    assert vb.retry_in() == pytest.approx(20.0)
    clock.advance(20.0)
    assert vb.allows()  # half-open: one probe may pass
