"""Alerts delivered for real through Apprise: e-mail to a local SMTP server, JSON to a local webhook.

Time windows (hold, digest, retry backoff) run on a ManualClock; delivery itself is real I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from nonstop.clock import ManualClock
from nonstop.config import AlertChannelSettings, AlertSettings
from nonstop.monitor import AlertLevel, AlertManager, AlertTransition, TransitionKind
from tests.integration.monitor.receivers import SmtpSink, Webhook, eventually, mail_url, smtp_server, webhook

pytestmark = pytest.mark.timeout(45)

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
KEY = "breaker_open:binance-a:ep0"


def settings(**overrides: object) -> AlertSettings:
    values: dict[str, object] = {
        "channels": [
            AlertChannelSettings(name="mail", url_env="NONSTOP_TEST_MAIL_URL"),
            AlertChannelSettings(name="hook", url_env="NONSTOP_TEST_HOOK_URL"),
        ],
        "resolve_hold_s": 30.0,
        "flap_window_s": 600.0,
        "retry_initial_s": 1.0,
        "retry_max_s": 4.0,
        "attempt_timeout_s": 3.0,
    }
    values.update(overrides)
    return AlertSettings.model_validate(values)


@asynccontextmanager
async def alerting(
    cfg: AlertSettings, smtp_port: int, hook: Webhook, journal: list[AlertTransition] | None = None
) -> AsyncIterator[tuple[AlertManager, ManualClock]]:
    clock = ManualClock()
    env = {"NONSTOP_TEST_MAIL_URL": mail_url(smtp_port), "NONSTOP_TEST_HOOK_URL": hook.url}
    sink = journal.append if journal is not None else None
    manager = AlertManager.from_settings(cfg, clock=clock, environ=env, journal_sink=sink)
    async with manager:
        await asyncio.sleep(0)
        yield manager, clock


async def drained(manager: AlertManager) -> None:
    async with asyncio.timeout(20):
        await manager.drain()


async def advance(clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)
    for _ in range(5):
        await asyncio.sleep(0)


async def advance_until(clock: ManualClock, done: Callable[[], bool], what: str, within: float = 20.0) -> None:
    """Advance the clock past the longest backoff until `done` holds (real-time bounded).

    The delivery worker sleeps on the clock only once the failed attempt (a real HTTP request) has
    finished; an advance made before that moment is lost, so advance again until the retry is seen.
    Extra advances cannot add attempts once the alert is delivered.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not done():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not reached within {within}s")
        await advance(clock, 4)
        await asyncio.sleep(0.05)


def mail_texts(sink: SmtpSink) -> list[str]:
    return [f"{m.subject}\n{m.text}" for m in sink.snapshot()]


async def test_alert_raised_50_times_arrives_once_on_both_then_resolved_without_secrets() -> None:
    with smtp_server() as (smtp, port):
        async with webhook() as hook, alerting(settings(), port, hook) as (manager, clock):
            for i in range(50):
                manager.raise_(
                    KEY,
                    AlertLevel.CRITICAL,
                    "Circuit breaker open on binance-a ep0",
                    f"5 of the last 5 requests failed (timeouts); attempt {i}; apiKey={API_KEY}; signed with {API_KEY}",
                )
            await drained(manager)
            assert len(smtp.snapshot()) == 1 and len(hook.posts) == 1
            manager.resolve(KEY, "probe succeeded in 0.042s")
            await advance(clock, 29)
            await drained(manager)
            assert len(smtp.snapshot()) == 1 and len(hook.posts) == 1
            await advance(clock, 2)
            await eventually(lambda: len(hook.posts) == 2 and len(smtp.snapshot()) == 2, what="resolved on both")
            await drained(manager)
        mails = smtp.snapshot()
    assert [m.subject for m in mails] == [
        "[nonstop CRITICAL] Circuit breaker open on binance-a ep0",
        "[nonstop RESOLVED] Circuit breaker open on binance-a ep0",
    ]
    assert "5 of the last 5 requests failed" in mails[0].text and f"key: {KEY}" in mails[0].text
    assert "probe succeeded in 0.042s" in mails[1].text and "raised 50 time(s)" in mails[1].text
    assert [p["type"] for p in hook.posts] == ["failure", "success"]
    assert "attempt 0" in hook.posts[0]["message"]
    received = " ".join(mail_texts(smtp)) + " ".join(m.raw.decode("ascii", "replace") for m in mails)
    received += " ".join(f"{p['title']} {p['message']}" for p in hook.posts)
    assert API_KEY not in received and API_KEY[:20] not in received
    assert "apiKey=***" in hook.posts[0]["message"]


async def test_flapping_key_arrives_as_one_alert_and_one_resolved() -> None:
    with smtp_server() as (smtp, port):
        async with webhook() as hook, alerting(settings(), port, hook) as (manager, clock):
            for i in range(10):
                manager.raise_("endpoint_down:binance-a:ep1", AlertLevel.WARNING, "Endpoint down", f"flap {i}")
                await advance(clock, 3)
                manager.resolve("endpoint_down:binance-a:ep1")
                await advance(clock, 3)
            await drained(manager)
            await advance(clock, 31)
            await eventually(lambda: len(hook.posts) == 2 and len(smtp.snapshot()) == 2, what="resolved on both")
            await drained(manager)
        assert [m.subject for m in smtp.snapshot()] == [
            "[nonstop WARNING] Endpoint down",
            "[nonstop RESOLVED] Endpoint down",
        ]
        assert [p["type"] for p in hook.posts] == ["warning", "success"]
        assert "raised 10 time(s)" in hook.posts[1]["message"]


async def test_critical_to_webhook_answering_500_is_retried_until_delivered() -> None:
    journal: list[AlertTransition] = []
    with smtp_server() as (smtp, port):
        async with webhook() as hook, alerting(settings(), port, hook, journal) as (manager, clock):
            hook.failures = 3
            manager.raise_("venue_down:binance-b", AlertLevel.CRITICAL, "Venue down", "3 endpoints unreachable")
            await eventually(lambda: hook.refused == 1 and len(smtp.snapshot()) == 1, what="first attempt")
            for _ in range(3):
                attempts = hook.refused + len(hook.posts)
                await advance_until(clock, lambda a=attempts: hook.refused + len(hook.posts) > a, "a retry")
            await drained(manager)
        assert hook.refused == 3 and len(hook.posts) == 1 and len(smtp.snapshot()) == 1
    delivered = [t for t in journal if t.kind is TransitionKind.DELIVERED]
    assert sorted((t.channel, t.detail) for t in delivered) == [
        ("hook", "firing after 4 attempt(s)"),
        ("mail", "firing after 1 attempt(s)"),
    ]


async def test_critical_to_closed_port_is_delivered_once_the_receiver_listens() -> None:
    with smtp_server() as (smtp, port):
        async with webhook(listening=False) as hook, alerting(settings(), port, hook) as (manager, clock):
            manager.raise_("halted", AlertLevel.CRITICAL, "Trading halted", "daily loss 5.2% > limit 5%")
            await eventually(lambda: len(smtp.snapshot()) == 1, what="mail delivered")
            await eventually(lambda: manager.pending()["hook"] == 1, what="hook pending")
            await advance(clock, 4)
            await asyncio.sleep(0.05)  # a second failed attempt against the closed port
            assert hook.posts == [] and manager.pending()["hook"] == 1
            await hook.start()
            await advance(clock, 4)
            await eventually(lambda: len(hook.posts) == 1, what="delivered after the receiver came up")
            await advance(clock, 8)
            await drained(manager)
        assert len(hook.posts) == 1 and hook.posts[0]["title"] == "[nonstop CRITICAL] Trading halted"


async def test_burst_of_warnings_is_folded_into_one_digest_per_channel() -> None:
    cfg = settings(
        channels=[
            AlertChannelSettings(name="mail", url_env="NONSTOP_TEST_MAIL_URL", burst=2, per_minute=1),
            AlertChannelSettings(name="hook", url_env="NONSTOP_TEST_HOOK_URL", burst=2, per_minute=1),
        ],
        digest_interval_s=60.0,
    )
    with smtp_server() as (smtp, port):
        async with webhook() as hook, alerting(cfg, port, hook) as (manager, clock):
            for i in range(12):
                manager.raise_(f"feed_stale:src{i}", AlertLevel.WARNING, f"Feed src{i} stale", f"age={10 + i}s")
            await drained(manager)
            assert len(hook.posts) == 2 and len(smtp.snapshot()) == 2
            await advance(clock, 61)
            await eventually(lambda: len(hook.posts) == 3 and len(smtp.snapshot()) == 3, what="digest on both")
            await drained(manager)
        digest_mail = smtp.snapshot()[2]
    assert digest_mail.subject == "[nonstop WARNING digest] 10 alerts held back on mail"
    assert all(f"feed_stale:src{i}" in digest_mail.text for i in range(2, 12))
    assert "10 alerts held back on hook" in hook.posts[2]["title"]
