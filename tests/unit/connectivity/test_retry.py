"""Retrier: backoff with full jitter, bounds, Retry-After, and what is (never) retried."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nonstop.clock import ManualClock
from nonstop.connectivity import (
    CircuitOpenError,
    ErrorClass,
    OperationKind,
    OrderNotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    Retrier,
    RetryPolicy,
    RetryScheduled,
    TransientNetworkError,
    VenueError,
    VenueUnavailableError,
)
from nonstop.errors import ConfigError
from tests.unit.connectivity.conftest import drive

READ, SUBMIT, CANCEL = OperationKind.READ, OperationKind.SUBMIT, OperationKind.CANCEL

pytestmark = pytest.mark.timeout(10)


class Script:
    """A fake request: raises the scripted errors in turn, then returns 'ok'; records call times."""

    def __init__(self, clock: ManualClock, *outcomes: BaseException | str) -> None:
        self.clock = clock
        self.outcomes = list(outcomes)
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(self.clock.monotonic())
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "hang":
            await asyncio.Event().wait()
        return outcome


async def run(clock: ManualClock, retrier: Retrier, fn: Callable[[], Awaitable[str]], op: OperationKind) -> str:
    task = asyncio.ensure_future(retrier.call(fn, operation=op))
    await drive(clock, task)
    return task.result()


async def test_retrier_read_transient_then_ok_returns_after_jittered_wait(clock: ManualClock) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    expected_wait = policy.backoff(1, random.Random(7))
    events: list[RetryScheduled] = []
    fn = Script(clock, TransientNetworkError("reset"))
    result = await run(clock, Retrier(policy, clock, rng=random.Random(7), on_retry=events.append), fn, READ)
    assert result == "ok"
    assert len(fn.calls) == 2
    assert fn.calls[1] - fn.calls[0] == pytest.approx(expected_wait, abs=0.011)
    assert [(e.attempt, e.error_class) for e in events] == [(1, ErrorClass.TRANSIENT_NETWORK)]
    assert events[0].delay == pytest.approx(expected_wait)


async def test_retrier_submit_outcome_unknown_is_raised_without_retry(clock: ManualClock) -> None:
    fn = Script(clock, OutcomeUnknownError("504", operation=SUBMIT))
    with pytest.raises(OutcomeUnknownError) as info:
        await run(clock, Retrier(RetryPolicy(), clock), fn, SUBMIT)
    assert len(fn.calls) == 1
    assert "not retried for submit" in "".join(info.value.__notes__)


async def test_retrier_submit_even_transient_is_never_retried(clock: ManualClock) -> None:
    fn = Script(clock, TransientNetworkError("refused"))
    with pytest.raises(TransientNetworkError):
        await run(clock, Retrier(RetryPolicy(), clock), fn, SUBMIT)
    assert len(fn.calls) == 1


async def test_retrier_submit_raw_timeout_becomes_outcome_unknown(clock: ManualClock) -> None:
    raw = TimeoutError()
    fn = Script(clock, raw)
    with pytest.raises(OutcomeUnknownError) as info:
        await run(clock, Retrier(RetryPolicy(), clock), fn, SUBMIT)
    assert info.value.__cause__ is raw


async def test_retrier_submit_hanging_past_attempt_timeout_becomes_outcome_unknown(clock: ManualClock) -> None:
    fn = Script(clock, "hang")
    with pytest.raises(OutcomeUnknownError):
        await run(clock, Retrier(RetryPolicy(attempt_timeout=2.0), clock), fn, SUBMIT)
    assert clock.monotonic() == pytest.approx(2.0, abs=0.02)


async def test_retrier_read_hanging_attempt_times_out_and_retries(clock: ManualClock) -> None:
    fn = Script(clock, "hang")
    result = await run(clock, Retrier(RetryPolicy(attempt_timeout=1.0, base_delay=0.1), clock), fn, READ)
    assert result == "ok"
    assert len(fn.calls) == 2


async def test_retrier_read_rejected_is_not_retried(clock: ManualClock) -> None:
    fn = Script(clock, OrderNotFoundError("-2013"))
    with pytest.raises(OrderNotFoundError):
        await run(clock, Retrier(RetryPolicy(), clock), fn, READ)
    assert len(fn.calls) == 1


async def test_retrier_cancel_outcome_unknown_is_not_retried(clock: ManualClock) -> None:
    fn = Script(clock, OutcomeUnknownError("500", operation=CANCEL))
    with pytest.raises(OutcomeUnknownError):
        await run(clock, Retrier(RetryPolicy(), clock), fn, CANCEL)
    assert len(fn.calls) == 1


async def test_retrier_cancel_unavailable_is_retried(clock: ManualClock) -> None:
    fn = Script(clock, VenueUnavailableError("-1008"))
    assert await run(clock, Retrier(RetryPolicy(base_delay=0.1), clock), fn, CANCEL) == "ok"
    assert len(fn.calls) == 2


async def test_retrier_always_failing_stops_at_max_attempts(clock: ManualClock) -> None:
    fn = Script(clock, *[TransientNetworkError("x") for _ in range(10)])
    with pytest.raises(TransientNetworkError) as info:
        await run(clock, Retrier(RetryPolicy(max_attempts=3, base_delay=0.1), clock), fn, READ)
    assert len(fn.calls) == 3
    assert "max_attempts" in "".join(info.value.__notes__)


async def test_retrier_total_timeout_bounds_attempts_and_waits(clock: ManualClock) -> None:
    policy = RetryPolicy(max_attempts=100, base_delay=1.0, max_delay=1.0, total_timeout=5.0)
    fn = Script(clock, *[TransientNetworkError("x") for _ in range(100)])
    with pytest.raises(TransientNetworkError) as info:
        await run(clock, Retrier(policy, clock, rng=random.Random(1)), fn, READ)
    assert clock.monotonic() <= 5.0
    assert 2 <= len(fn.calls) < 100
    assert "total_timeout" in "".join(info.value.__notes__)


async def test_retrier_retry_after_is_never_undercut(clock: ManualClock) -> None:
    fn = Script(clock, RateLimitedError("429", retry_after=4.0))
    await run(clock, Retrier(RetryPolicy(base_delay=0.01), clock), fn, READ)
    assert fn.calls[1] - fn.calls[0] >= 4.0


async def test_retrier_retry_after_past_total_budget_gives_up_at_once(clock: ManualClock) -> None:
    fn = Script(clock, RateLimitedError("418", retry_after=120.0))
    with pytest.raises(RateLimitedError):
        await run(clock, Retrier(RetryPolicy(total_timeout=20.0), clock), fn, READ)
    assert len(fn.calls) == 1
    assert clock.monotonic() < 1.0


async def test_retrier_raw_exception_on_read_is_classified(clock: ManualClock) -> None:
    fn = Script(clock, ConnectionResetError(104, "reset"))
    assert await run(clock, Retrier(RetryPolicy(base_delay=0.1), clock), fn, READ) == "ok"
    assert len(fn.calls) == 2


async def test_retrier_local_refusal_propagates_untouched(clock: ManualClock) -> None:
    refusal = CircuitOpenError("open", scope="endpoint", name="u1")
    fn = Script(clock, refusal)
    with pytest.raises(CircuitOpenError) as info:
        await run(clock, Retrier(RetryPolicy(), clock), fn, READ)
    assert info.value is refusal
    assert len(fn.calls) == 1


async def test_retrier_cancelled_during_backoff_propagates_cancellation(clock: ManualClock) -> None:
    fn = Script(clock, TransientNetworkError("x"))
    task = asyncio.ensure_future(Retrier(RetryPolicy(base_delay=5.0, max_delay=5.0), clock,
                                         rng=random.Random(3)).call(fn, operation=READ))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fn.calls) == 1


@given(attempt=st.integers(1, 30), base=st.floats(0, 5), extra=st.floats(0, 60), seed=st.integers(0, 2**32))
def test_retry_policy_backoff_stays_within_full_jitter_bounds(attempt: int, base: float, extra: float,
                                                            seed: int) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=base + extra)
    delay = policy.backoff(attempt, random.Random(seed))
    assert 0 <= delay <= min(policy.max_delay, base * 2 ** (attempt - 1)) + 1e-9


def test_retry_policy_same_seed_gives_same_delays() -> None:
    policy = RetryPolicy()
    a, b = random.Random(42), random.Random(42)
    assert [policy.backoff(n, a) for n in range(1, 6)] == [policy.backoff(n, b) for n in range(1, 6)]


@pytest.mark.parametrize("kwargs", [
    {"max_attempts": 0}, {"base_delay": -1.0}, {"base_delay": 5.0, "max_delay": 1.0}, {"total_timeout": 0.0},
    {"attempt_timeout": 0.0}, {"retry_on": frozenset({ErrorClass.REJECTED})},
])
def test_retry_policy_invalid_values_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_policy_should_retry_table() -> None:
    policy = RetryPolicy()
    transient: VenueError = TransientNetworkError("x")
    unknown: VenueError = OutcomeUnknownError("x")
    assert policy.should_retry(transient, READ)
    assert policy.should_retry(transient, CANCEL)
    assert not policy.should_retry(transient, SUBMIT)
    assert not policy.should_retry(unknown, CANCEL)
    assert not policy.should_retry(unknown, SUBMIT)
