"""EndpointPool: routing, health, hedge delay, hedged reads, single-shot writes, probing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from nonstop.clock import ManualClock
from nonstop.connectivity import (
    BreakerConfig,
    BreakerStateChanged,
    EndpointHealth,
    EndpointPool,
    NoEndpointAvailable,
    OperationKind,
    OutcomeUnknownError,
    PoolConfig,
    RequestRejectedError,
    TransientNetworkError,
    VenueUnavailableError,
)
from nonstop.errors import ConfigError
from tests.unit.connectivity.conftest import advance, drive, settle

pytestmark = pytest.mark.timeout(10)
READ, SUBMIT = OperationKind.READ, OperationKind.SUBMIT
URLS = ["http://a", "http://b", "http://c"]


def pool(clock: ManualClock, *, events: list[BreakerStateChanged] | None = None, urls: list[str] = URLS,
         threshold: int = 2, **cfg: object) -> EndpointPool:
    config = PoolConfig(**{"hedge_min": 0.05, "hedge_max": 1.0, "slow_call": 2.0, **cfg})  # type: ignore[arg-type]
    breaker = BreakerConfig(consecutive_failures=threshold, failure_rate=None, open_duration=5.0)
    return EndpointPool("binance-a", urls, clock, config=config, rng=random.Random(1), endpoint_breaker=breaker,
                        on_change=events.append if events is not None else None)


def two_preferring_a(clock: ManualClock, **kw: object) -> EndpointPool:
    """Two endpoints, so power-of-two-choices always compares both: the lower EWMA (a) is primary."""
    p = pool(clock, urls=["http://a", "http://b"], **kw)  # type: ignore[arg-type]
    p.endpoints[0].stats.latency(0.2)
    p.endpoints[0].stats.latency(0.1)
    p.endpoints[1].stats.latency(0.3)
    return p


def eject(p: EndpointPool, url: str) -> None:
    b = p.breaker.endpoint(url)
    for _ in range(2):
        b.on_failure(b.acquire(), "test")


class Fake:
    """A request function per base URL: 'hang', an exception, or a value after `delay` clock seconds."""

    def __init__(self, clock: ManualClock, plan: dict[str, object], delay: float = 0.0) -> None:
        self.clock, self.plan, self.delay = clock, plan, delay
        self.calls: list[tuple[str, float]] = []
        self.cancelled: list[str] = []

    async def __call__(self, url: str) -> object:
        self.calls.append((url, self.clock.monotonic()))
        outcome = self.plan.get(url, f"ok:{url}")
        try:
            if outcome == "hang":
                await asyncio.Event().wait()
            if self.delay:
                await self.clock.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled.append(url)
            raise
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_pool_choose_spreads_over_equal_endpoints(clock: ManualClock) -> None:
    p = pool(clock)
    counts = Counter(p.choose().url for _ in range(300))
    assert set(counts) == set(URLS)


def test_pool_choose_never_picks_the_slowest_of_three(clock: ManualClock) -> None:
    p = pool(clock)
    for ep, latency in zip(p.endpoints, (0.01, 0.02, 0.5), strict=True):
        ep.stats.latency(latency)
    counts = Counter(p.choose().url for _ in range(300))
    assert counts["http://c"] == 0
    assert counts["http://a"] > counts["http://b"] > 0


def test_pool_choose_skips_ejected_and_raises_when_none_left(clock: ManualClock) -> None:
    p = pool(clock)
    eject(p, "http://a")
    eject(p, "http://b")
    assert {p.choose().url for _ in range(50)} == {"http://c"}
    eject(p, "http://c")
    with pytest.raises(NoEndpointAvailable) as info:
        p.choose()
    assert info.value.retry_in == pytest.approx(5.0)


def test_pool_probing_endpoint_gets_reads_but_never_writes(clock: ManualClock) -> None:
    p = pool(clock)
    eject(p, "http://a")
    clock.advance(5.0)
    assert p.endpoints[0].health is EndpointHealth.PROBING
    assert p.choose(READ).url == "http://a"
    assert all(p.choose(SUBMIT).url != "http://a" for _ in range(50))


def test_pool_hedge_delay_is_p99_clamped(clock: ManualClock) -> None:
    p = pool(clock)
    a = p.endpoints[0]
    assert p.hedge_delay(a) == 1.0  # nothing measured: the max
    for ms in range(1, 101):
        a.stats.latency(ms / 1000)
    assert p.hedge_delay(a) == pytest.approx(0.099)
    for _ in range(5):
        a.stats.latency(30.0)
    assert p.hedge_delay(a) == 1.0
    b = p.endpoints[1]
    b.stats.latency(0.001)
    assert p.hedge_delay(b) == 0.05


async def test_pool_hedged_fast_loser_is_released_not_failed(clock: ManualClock) -> None:
    p = two_preferring_a(clock, threshold=1, slow_call=2.0)
    fake = Fake(clock, {"http://a": "hang"})
    task = asyncio.ensure_future(p.hedged(fake))
    await drive(clock, task, step=0.01)
    assert task.result() == "ok:http://b"
    assert p.endpoints[0].health is EndpointHealth.HEALTHY  # cancelled at 0.2 s: no verdict
    assert p.endpoints[0].stats.ewma is not None and p.endpoints[0].stats.ewma > 0.1  # but known to be slower


async def test_pool_hedged_slow_primary_is_hedged_after_delay_and_cancelled(clock: ManualClock) -> None:
    p = two_preferring_a(clock)
    primary = p.endpoints[0]
    fake = Fake(clock, {"http://a": "hang"})
    task = asyncio.ensure_future(p.hedged(fake))
    await drive(clock, task, step=0.01)
    assert task.result() == "ok:http://b"
    assert [u for u, _ in fake.calls] == ["http://a", "http://b"]
    assert fake.calls[1][1] == pytest.approx(0.2, abs=0.02)  # p99 of the primary's [0.2, 0.1]
    assert fake.cancelled == ["http://a"]
    assert primary.in_flight == 0


async def test_pool_hedged_fast_failure_fails_over_at_once(clock: ManualClock) -> None:
    p = two_preferring_a(clock)
    fake = Fake(clock, {"http://a": TransientNetworkError("reset")})
    result = await p.hedged(fake)
    assert result == "ok:http://b"
    assert [(u, t) for u, t in fake.calls] == [("http://a", 0.0), ("http://b", 0.0)]  # no hedge delay waited


async def test_pool_hedged_definitive_answer_is_raised_without_second_try(clock: ManualClock) -> None:
    p = pool(clock)
    fake = Fake(clock, {u: RequestRejectedError("-1121") for u in URLS})
    with pytest.raises(RequestRejectedError):
        await p.hedged(fake)
    assert len(fake.calls) == 1


async def test_pool_hedged_all_attempts_failing_raises_last_error(clock: ManualClock) -> None:
    p = pool(clock, hedge_attempts=3)
    fake = Fake(clock, {u: VenueUnavailableError(f"503 {u}") for u in URLS})
    with pytest.raises(VenueUnavailableError):
        await p.hedged(fake)
    assert sorted(u for u, _ in fake.calls) == URLS


async def test_pool_hedged_cancelled_cancels_every_attempt(clock: ManualClock) -> None:
    p = pool(clock)
    fake = Fake(clock, {u: "hang" for u in URLS})
    task = asyncio.ensure_future(p.hedged(fake))
    await advance(clock, 1.5, step=0.1)
    assert len(fake.calls) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(fake.cancelled) == sorted(u for u, _ in fake.calls)
    assert all(ep.in_flight == 0 for ep in p.endpoints)


async def test_pool_black_holed_endpoint_is_ejected_by_slow_losses(clock: ManualClock) -> None:
    events: list[BreakerStateChanged] = []
    p = two_preferring_a(clock, events=events, threshold=1, hedge_max=3.0, hedge_min=3.0, slow_call=2.0)
    fake = Fake(clock, {"http://a": "hang"}, delay=0.5)
    task = asyncio.ensure_future(p.hedged(fake))
    await drive(clock, task, step=0.1)
    assert task.result() == "ok:http://b"
    assert fake.cancelled == ["http://a"]  # cancelled 3.5 s in, past slow_call
    assert p.endpoints[0].health is EndpointHealth.EJECTED
    assert any(e.name == "http://a" and "no answer" in e.reason for e in events)


async def test_pool_submit_is_one_attempt_on_one_endpoint(clock: ManualClock) -> None:
    p = pool(clock)
    fake = Fake(clock, {u: TimeoutError() for u in URLS})
    with pytest.raises(OutcomeUnknownError) as info:
        await p.call(fake, operation=SUBMIT)
    assert len(fake.calls) == 1
    assert info.value.endpoint == fake.calls[0][0]
    assert info.value.venue == "binance-a"
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_pool_submit_hanging_past_attempt_timeout_is_outcome_unknown(clock: ManualClock) -> None:
    p = pool(clock, attempt_timeout=3.0)
    fake = Fake(clock, {u: "hang" for u in URLS})
    task = asyncio.ensure_future(p.call(fake, operation=SUBMIT))
    await drive(clock, task, step=0.1)
    with pytest.raises(OutcomeUnknownError):
        task.result()
    assert len(fake.calls) == 1


async def test_pool_call_success_records_latency(clock: ManualClock) -> None:
    p = pool(clock)
    fake = Fake(clock, {}, delay=0.25)
    task = asyncio.ensure_future(p.call(fake, operation=READ))
    await drive(clock, task, step=0.05)
    url = task.result()
    ep = next(e for e in p.endpoints if f"ok:{e.url}" == url)
    assert ep.stats.ewma == pytest.approx(0.25, abs=0.06)


async def test_pool_probe_brings_recovered_endpoint_back(clock: ManualClock) -> None:
    events: list[BreakerStateChanged] = []
    p = pool(clock, events=events)
    eject(p, "http://a")
    assert p.endpoints[0].health is EndpointHealth.EJECTED
    outcome = await p.probe(Fake(clock, {}))  # open, but a probe may test it: the answer closes it at once
    assert outcome == {"http://a": None}
    assert p.endpoints[0].health is EndpointHealth.HEALTHY
    assert [(e.name, e.new.value) for e in events if e.name == "http://a"] == [
        ("http://a", "open"), ("http://a", "closed")]


async def test_pool_probe_of_an_open_endpoint_that_fails_changes_nothing(clock: ManualClock) -> None:
    events: list[BreakerStateChanged] = []
    p = pool(clock, events=events)
    eject(p, "http://a")
    for _ in range(3):  # probes every interval while the endpoint is down: no event, no longer open time
        outcome = await p.probe(Fake(clock, {"http://a": TransientNetworkError("refused")}))
        assert isinstance(outcome["http://a"], TransientNetworkError)
    assert p.endpoints[0].health is EndpointHealth.EJECTED
    assert [e.new.value for e in events if e.name == "http://a"] == ["open"]
    assert p.breaker.endpoint("http://a").retry_in() == pytest.approx(5.0)


async def test_pool_never_probes_early_a_breaker_forced_open(clock: ManualClock) -> None:
    p = pool(clock)
    p.breaker.endpoint("http://a").trip("banned", 30.0)
    assert await p.probe(Fake(clock, {})) == {}


async def test_pool_probe_failure_keeps_endpoint_ejected(clock: ManualClock) -> None:
    p = pool(clock)
    eject(p, "http://a")
    clock.advance(5.0)
    outcome = await p.probe(Fake(clock, {"http://a": VenueUnavailableError("503")}))
    assert isinstance(outcome["http://a"], VenueUnavailableError)
    assert p.endpoints[0].health is EndpointHealth.EJECTED


async def test_pool_snapshot_reports_each_endpoint(clock: ManualClock) -> None:
    p = pool(clock)
    eject(p, "http://c")
    await settle()
    snap = {s.url: s for s in p.snapshot()}
    assert snap["http://c"].health is EndpointHealth.EJECTED
    assert snap["http://a"].health is EndpointHealth.HEALTHY


@pytest.mark.parametrize("kwargs", [{"ewma_alpha": 0.0}, {"hedge_min": 2.0, "hedge_max": 1.0},
                                    {"hedge_attempts": 0}, {"attempt_timeout": 0.0}])
def test_pool_config_invalid_values_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        PoolConfig(**kwargs)  # type: ignore[arg-type]


async def test_pool_probe_remeasures_idle_healthy_endpoint_so_its_estimate_can_fall(clock: ManualClock) -> None:
    p = pool(clock, urls=["http://a", "http://b"], remeasure_idle=10.0)
    fast, slow_once = p.endpoints
    slow_once.stats.latency(0.8)  # one slow answer: power-of-two will not pick it again
    slow_once.measured_at = clock.monotonic()
    await advance(clock, 9.0)
    fast.stats.latency(0.01)
    fast.measured_at = clock.monotonic()
    assert await p.probe(Fake(clock, {})) == {}  # nobody idle long enough yet
    await advance(clock, 1.0)
    assert await p.probe(Fake(clock, {})) == {"http://b": None}  # only the idle one is re-measured
    assert slow_once.stats.ewma is not None
    assert slow_once.stats.ewma < 0.8 * 0.75  # an instant answer pulled the estimate down
    assert fast.stats.ewma == 0.01


async def test_pool_probe_remeasure_disabled_pings_only_probing(clock: ManualClock) -> None:
    p = pool(clock, remeasure_idle=None)
    p.endpoints[0].stats.latency(0.5)
    p.endpoints[0].measured_at = 0.0
    await advance(clock, 100.0)
    assert await p.probe(Fake(clock, {})) == {}


def test_a_venue_back_after_an_outage_scores_on_its_health_now(clock: ManualClock) -> None:
    """The outage's failed calls stay in the error-rate window (60 s) after the venue answers again;
    the router forgets them when the venue returns, so its score is its health now (the routing
    engine test once saw a returned venue lose every order to the other for the whole window)."""
    from types import SimpleNamespace

    from nonstop.routing.health import forget_outage, venue_health

    p = pool(clock)
    for ep in p.endpoints:
        for _ in range(5):
            ep.stats.outcome(clock.monotonic(), failed=True)  # the maintenance's 503s
        ep.stats.outcome(clock.monotonic(), failed=False)  # the probe that closed its breaker
    venue = SimpleNamespace(name="binance-a", gateway=SimpleNamespace(pool=p))
    before = venue_health(venue, clock)
    assert before.error_rate > 0.8 and before.score() < 80
    forget_outage(venue)
    after = venue_health(venue, clock)
    assert after.error_rate == 0.0 and after.score() > before.score()
