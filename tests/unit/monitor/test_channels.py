"""Per-channel delivery: token-bucket rate limit with digests, CRITICAL retries, bounded outbox."""

from __future__ import annotations

from nonstop.clock import ManualClock
from nonstop.config import AlertChannelSettings
from nonstop.monitor import AlertLevel, AlertTransition, NotificationKind, TransitionKind
from tests.unit.monitor.fakes import alert_settings, manager_with, settle

CRIT, WARN, INFO = AlertLevel.CRITICAL, AlertLevel.WARNING, AlertLevel.INFO


def limited(burst: int, per_minute: float, **overrides: object) -> dict[str, object]:
    return {
        "channels": [AlertChannelSettings(name="chat", url_env="X", burst=burst, per_minute=per_minute)],
        **overrides,
    }


async def test_burst_over_rate_limit_is_folded_into_one_digest() -> None:
    clock = ManualClock()
    journal: list[AlertTransition] = []
    manager, n = manager_with(alert_settings(**limited(2, 1.0, digest_interval_s=60.0)), clock, journal)
    async with manager:
        await settle()
        for i in range(10):
            manager.raise_(f"slippage:s{i}", WARN, f"Slippage widening on s{i}", f"bps={i}")
        await settle()
        assert [note.key for note in n["chat"].sent] == ["slippage:s0", "slippage:s1"]
        assert sum(t.kind is TransitionKind.DIGESTED for t in journal) == 8
        clock.advance(59)
        await settle()
        assert len(n["chat"].sent) == 2
        clock.advance(2)
        await settle()
    sent = n["chat"].sent
    assert len(sent) == 3 and sent[2].kind is NotificationKind.DIGEST and sent[2].level is WARN
    digest = sent[2].body
    assert "8 alert message(s) were held back" in digest
    assert all(f"slippage:s{i}" in digest for i in range(2, 10))


async def test_digest_waits_for_a_token_when_the_bucket_is_empty() -> None:
    clock = ManualClock()
    manager, n = manager_with(alert_settings(**limited(1, 0.5, digest_interval_s=10.0)), clock)
    async with manager:
        await settle()
        manager.raise_("a", INFO, "a")
        manager.raise_("b", INFO, "b")  # folded
        clock.advance(11)  # digest due, but a token takes 120 s at 0.5/min
        await settle()
        assert [note.key for note in n["chat"].sent] == ["a"]
        for _ in range(12):
            clock.advance(10)
            await settle()
    assert [note.kind for note in n["chat"].sent] == [NotificationKind.FIRING, NotificationKind.DIGEST]


async def test_critical_is_never_held_back_by_the_rate_limit() -> None:
    clock = ManualClock()
    manager, n = manager_with(alert_settings(**limited(1, 1.0)), clock)
    async with manager:
        for i in range(5):
            manager.raise_(f"c{i}", CRIT, "down")
        manager.raise_("w", WARN, "folded: criticals used the budget")
        await settle()
    assert [note.key for note in n["chat"].sent] == [f"c{i}" for i in range(5)]


async def test_critical_is_retried_with_backoff_until_delivered() -> None:
    clock = ManualClock()
    journal: list[AlertTransition] = []
    manager, n = manager_with(alert_settings("chat", retry_initial_s=1.0, retry_max_s=8.0), clock, journal)
    chat = n["chat"]
    chat.failures = 6
    async with manager:
        manager.raise_("venue_down:binance-a", CRIT, "Venue down")
        await settle()
        assert chat.attempts == 1 and chat.sent == []
        clock.advance(0.49)  # the first backoff is 0.5-1 s (jittered), never immediate
        await settle()
        assert chat.attempts == 1
        for _ in range(10):
            clock.advance(8)
            await settle()
    assert chat.attempts == 7 and [note.key for note in chat.sent] == ["venue_down:binance-a"]
    delivered = [t for t in journal if t.kind is TransitionKind.DELIVERED]
    assert len(delivered) == 1 and "after 7 attempt(s)" in delivered[0].detail


async def test_warning_gives_up_after_max_attempts_and_records_it() -> None:
    clock = ManualClock()
    journal: list[AlertTransition] = []
    manager, n = manager_with(alert_settings("chat", max_attempts=3), clock, journal)
    n["chat"].failures = 100
    async with manager:
        manager.raise_("w", WARN, "T")
        manager.raise_("w2", WARN, "next in line")
        for _ in range(10):
            clock.advance(10)
            await settle()
    assert n["chat"].attempts == 6  # three each, then the next message in the outbox gets its turn
    failed = [t for t in journal if t.kind is TransitionKind.DELIVERY_FAILED]
    assert [t.key for t in failed] == ["w", "w2"] and "ConnectionError" in failed[0].detail


async def test_full_outbox_moves_lower_levels_to_the_digest_and_keeps_criticals() -> None:
    clock = ManualClock()
    journal: list[AlertTransition] = []
    manager, n = manager_with(alert_settings(**limited(1000, 6000.0, queue_size=3)), clock, journal)
    # not started: the outbox fills up
    manager.raise_("w1", WARN, "T")
    manager.raise_("c1", CRIT, "T")
    manager.raise_("c2", CRIT, "T")
    manager.raise_("c3", CRIT, "T")  # outbox full: w1 goes to the digest
    manager.raise_("c4", CRIT, "T")  # outbox of criticals full: the oldest critical is dropped, and recorded
    dropped = [t.key for t in journal if t.kind is TransitionKind.DROPPED]
    assert dropped == ["c1"]
    assert [t.key for t in journal if t.kind is TransitionKind.DIGESTED] == ["w1"]
    async with manager:
        await settle()
        clock.advance(61)
        await settle()
    assert [note.key for note in n["chat"].sent] == ["c2", "c3", "c4", "digest"]
