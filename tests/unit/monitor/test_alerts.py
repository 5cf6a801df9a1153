"""AlertManager: dedup, hold before "resolved", flap damping, re-open, escalation, routing, journal."""

from __future__ import annotations

import pytest

from nonstop.clock import ManualClock
from nonstop.monitor import (
    AlertLevel,
    AlertManager,
    AlertStatus,
    AlertTransition,
    MonitorClosed,
    NotificationKind,
    TransitionKind,
)
from tests.unit.monitor.fakes import RecordingNotifier, alert_settings, manager_with, settle

CRIT, WARN, INFO = AlertLevel.CRITICAL, AlertLevel.WARNING, AlertLevel.INFO


def kinds(n: RecordingNotifier) -> list[tuple[NotificationKind, str]]:
    return [(note.kind, note.key) for note in n.sent]


async def test_raise_repeated_while_active_sends_once_and_counts() -> None:
    clock = ManualClock()
    manager, notifiers = manager_with(alert_settings("chat", "mail"), clock)
    async with manager:
        for i in range(50):
            clock.advance(1)
            alert = manager.raise_("breaker_open:binance-a:ep0", CRIT, "Breaker open", f"errors={i}")
        await settle()
    assert alert.count == 50 and alert.body == "errors=49"
    assert (alert.last_seen - alert.first_seen).total_seconds() == 49
    for n in notifiers.values():
        assert kinds(n) == [(NotificationKind.FIRING, "breaker_open:binance-a:ep0")]
        assert "errors=0" in n.sent[0].body and "CRITICAL" in n.sent[0].subject()


async def test_resolve_sends_resolved_only_after_hold() -> None:
    clock = ManualClock()
    manager, notifiers = manager_with(alert_settings("chat", resolve_hold_s=30.0), clock)
    chat = notifiers["chat"]
    async with manager:
        manager.raise_("feed_stale:btc", WARN, "Feed stale", "age=12s")
        await settle()
        assert manager.resolve("feed_stale:btc", "age=0.4s").status is AlertStatus.CLEARING
        clock.advance(29)
        await settle()
        assert kinds(chat) == [(NotificationKind.FIRING, "feed_stale:btc")]
        clock.advance(2)
        await settle()
    assert kinds(chat) == [(NotificationKind.FIRING, "feed_stale:btc"), (NotificationKind.RESOLVED, "feed_stale:btc")]
    assert "age=0.4s" in chat.sent[1].body and "RESOLVED" in chat.sent[1].subject()
    assert manager.get("feed_stale:btc").status is AlertStatus.RESOLVED
    assert manager.active() == []


async def test_flapping_key_within_hold_is_one_alert_and_one_resolved() -> None:
    clock = ManualClock()
    manager, notifiers = manager_with(alert_settings("chat", resolve_hold_s=30.0), clock)
    async with manager:
        for _ in range(20):
            manager.raise_("endpoint_down:binance-a:ep1", WARN, "Endpoint down")
            clock.advance(2)
            await settle()
            manager.resolve("endpoint_down:binance-a:ep1")
            clock.advance(3)
            await settle()
        clock.advance(31)
        await settle()
    assert kinds(notifiers["chat"]) == [
        (NotificationKind.FIRING, "endpoint_down:binance-a:ep1"),
        (NotificationKind.RESOLVED, "endpoint_down:binance-a:ep1"),
    ]
    assert manager.get("endpoint_down:binance-a:ep1").count == 20


async def test_reraise_after_resolved_within_flap_window_reopens_with_longer_hold() -> None:
    clock = ManualClock()
    manager, notifiers = manager_with(alert_settings("chat", resolve_hold_s=10.0, flap_window_s=600.0), clock)
    async with manager:
        first = manager.raise_("k", WARN, "T")
        manager.resolve("k")
        clock.advance(11)
        await settle()
        clock.advance(100)
        again = manager.raise_("k", WARN, "T")
        assert again.first_seen == first.first_seen and again.reopened == 1 and again.count == 2
        manager.resolve("k")
        clock.advance(11)  # the hold doubled to 20 s after one re-open
        await settle()
        assert [k for k, _ in kinds(notifiers["chat"])][-1] is NotificationKind.REOPENED
        clock.advance(10)
        await settle()
    assert [k for k, _ in kinds(notifiers["chat"])] == [
        NotificationKind.FIRING,
        NotificationKind.RESOLVED,
        NotificationKind.REOPENED,
        NotificationKind.RESOLVED,
    ]


async def test_reraise_after_flap_window_is_a_new_alert() -> None:
    clock = ManualClock()
    manager, notifiers = manager_with(alert_settings("chat", resolve_hold_s=0.0, flap_window_s=60.0), clock)
    async with manager:
        first = manager.raise_("k", INFO, "T")
        manager.resolve("k")
        clock.advance(61)
        second = manager.raise_("k", INFO, "T")
        await settle()
    assert second.first_seen > first.first_seen and second.count == 1 and second.reopened == 0
    assert [k for k, _ in kinds(notifiers["chat"])] == [
        NotificationKind.FIRING,
        NotificationKind.RESOLVED,
        NotificationKind.FIRING,
    ]


async def test_higher_level_escalates_once_and_lower_level_does_not_resend() -> None:
    clock = ManualClock()
    manager, notifiers = manager_with(alert_settings("chat"), clock)
    async with manager:
        manager.raise_("latency:binance-a", WARN, "Latency rising", "p95=0.4s baseline=0.1s")
        manager.raise_("latency:binance-a", CRIT, "Latency rising", "p95=2.1s baseline=0.1s")
        manager.raise_("latency:binance-a", CRIT, "Latency rising", "p95=2.3s")
        alert = manager.raise_("latency:binance-a", WARN, "Latency rising", "p95=0.5s")
        await settle()
    assert alert.level is CRIT
    sent = notifiers["chat"].sent
    assert [(n.kind, n.level) for n in sent] == [(NotificationKind.FIRING, WARN), (NotificationKind.ESCALATED, CRIT)]
    assert "p95=2.1s" in sent[1].body


async def test_routes_send_lower_levels_where_configured_and_critical_everywhere() -> None:
    clock = ManualClock()
    settings = alert_settings("chat", "mail", "sms", routes={"warning": ["chat", "mail"], "info": []})
    manager, n = manager_with(settings, clock)
    async with manager:
        manager.raise_("w", WARN, "warning")
        manager.raise_("i", INFO, "info")
        manager.raise_("c", CRIT, "critical")
        await settle()
    assert [note.key for note in n["chat"].sent] == ["w", "c"]
    assert [note.key for note in n["mail"].sent] == ["w", "c"]
    assert [note.key for note in n["sms"].sent] == ["c"]


async def test_level_without_route_goes_to_every_channel() -> None:
    clock = ManualClock()
    manager, n = manager_with(alert_settings("chat", "mail", routes={"warning": ["chat"]}), clock)
    async with manager:
        manager.raise_("i", INFO, "info")
        manager.raise_("w", WARN, "warning")
        await settle()
    assert [note.key for note in n["chat"].sent] == ["i", "w"]
    assert [note.key for note in n["mail"].sent] == ["i"]


async def test_journal_sink_gets_every_transition_and_history_is_bounded() -> None:
    clock = ManualClock()
    journal: list[AlertTransition] = []
    manager, _ = manager_with(alert_settings("chat", resolve_hold_s=0.0, history_size=5), clock, journal)
    async with manager:
        manager.raise_("k", WARN, "T", "x=1")
        manager.raise_("k", WARN, "T", "x=2")  # dedup: no transition
        manager.resolve("k", "x=0")
        await settle()
    assert [t.kind for t in journal] == [
        TransitionKind.RAISED,
        TransitionKind.CLEARING,
        TransitionKind.RESOLVED,
        TransitionKind.DELIVERED,
        TransitionKind.DELIVERED,
    ]
    assert journal[3].channel == "chat" and journal[0].to_dict()["alert"]["body"] == "x=1"
    async with manager_with(alert_settings("chat", history_size=3), clock)[0] as small:
        for i in range(10):
            small.raise_(f"k{i}", INFO, "T")
        assert len(small.history()) == 3 and small.history()[-1].key == "k9"


async def test_failing_journal_sink_does_not_stop_delivery() -> None:
    clock = ManualClock()

    def broken(_: AlertTransition) -> None:
        raise OSError("disk full")

    chat = RecordingNotifier()
    manager = AlertManager(alert_settings("chat"), {"chat": chat}, clock=clock, journal_sink=broken)
    async with manager:
        manager.raise_("k", CRIT, "T")
        await settle()
    assert [note.key for note in chat.sent] == ["k"]
    assert manager.sink_errors == 2  # RAISED and DELIVERED


async def test_close_cancels_every_task_and_later_raise_is_refused() -> None:
    clock = ManualClock()
    manager, n = manager_with(alert_settings("chat", "mail"), clock)
    n["chat"].failures = 10**6  # a CRITICAL retrying forever must not keep close() waiting
    await manager.start()
    manager.raise_("k", CRIT, "T")
    await settle()
    assert manager.task_count == 3  # two channels and the sweeper
    await manager.close()
    assert manager.task_count == 0
    assert manager.pending()["chat"] == 1
    with pytest.raises(MonitorClosed):
        manager.raise_("k2", INFO, "T")
    with pytest.raises(MonitorClosed):
        await manager.start()


async def test_alerts_raised_before_start_are_sent_once_started() -> None:
    clock = ManualClock()
    manager, n = manager_with(alert_settings("chat"), clock)
    manager.raise_("early", WARN, "T")
    await settle()
    assert n["chat"].sent == []
    async with manager:
        await manager.drain()
    assert [note.key for note in n["chat"].sent] == ["early"]


def test_notifiers_must_match_configured_channels() -> None:
    with pytest.raises(ValueError, match="must match configured channels"):
        AlertManager(alert_settings("chat"), {"mail": RecordingNotifier()}, clock=ManualClock())
