"""The venue's rate limits: weight per minute, 429 with Retry-After, strikes, 418 ban, order counts."""

from __future__ import annotations

import pytest

from nonstop.config import SimRateLimits
from nonstop.sim.limits import STRIKES_TO_BAN, VenueLimits
from nonstop.sim.rejects import BinanceReject

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60_000  # a minute boundary


def test_weight_counts_within_the_minute_and_resets_at_the_next() -> None:
    limits = VenueLimits(SimRateLimits(weight_per_minute=10))
    assert limits.admit("ip", 4, T0)["X-MBX-USED-WEIGHT-1M"] == "4"
    assert limits.admit("ip", 6, T0 + 1000)["X-MBX-USED-WEIGHT-1M"] == "10"
    with pytest.raises(BinanceReject) as caught:
        limits.admit("ip", 1, T0 + 15_000)
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "45"
    assert limits.admit("ip", 1, T0 + 60_000)["X-MBX-USED-WEIGHT-1M"] == "1"


def test_a_client_that_ignores_retry_after_is_banned_with_418() -> None:
    limits = VenueLimits(SimRateLimits(weight_per_minute=1, ban_seconds=120))
    limits.admit("ip", 1, T0)
    with pytest.raises(BinanceReject):
        limits.admit("ip", 1, T0 + 1)
    statuses = []
    for i in range(STRIKES_TO_BAN):
        with pytest.raises(BinanceReject) as caught:
            limits.admit("ip", 1, T0 + 2 + i)
        statuses.append(caught.value.status)
    assert statuses[-1] == 418 and statuses[:-1] == [429] * (STRIKES_TO_BAN - 1)
    with pytest.raises(BinanceReject) as caught:
        limits.admit("ip", 1, T0 + 119_000)
    assert caught.value.status == 418
    assert limits.admit("other-ip", 1, T0 + 3)  # limits are per client IP


def test_a_client_that_waits_out_retry_after_is_never_banned() -> None:
    limits = VenueLimits(SimRateLimits(weight_per_minute=1))
    for minute in range(5):
        now = T0 + minute * 60_000
        limits.admit("ip", 1, now)
        with pytest.raises(BinanceReject) as caught:
            limits.admit("ip", 1, now + 10)
        assert caught.value.status == 429
    assert limits.counts["418"] == 0


def test_order_count_limit_per_ten_seconds() -> None:
    limits = VenueLimits(SimRateLimits(orders_per_10s=2))
    limits.admit_order("acct", T0)
    assert limits.admit_order("acct", T0 + 1)["X-MBX-ORDER-COUNT-10S"] == "2"
    with pytest.raises(BinanceReject, match="-1015|Too many new orders"):
        limits.admit_order("acct", T0 + 2)
    assert limits.admit_order("acct", T0 + 10_000)["X-MBX-ORDER-COUNT-10S"] == "1"
