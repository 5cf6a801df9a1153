"""Alerts of the real engine, delivered for real: a fault injected into the embedded simulator
reaches a local SMTP server and a local webhook once (dedup), and a "resolved" follows the repair.

Apprise channel URLs come from environment variables named in the config (`url_env`), as in
production; breaker timings and the resolve hold are short so the whole cycle runs in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nonstop.config import AlertChannelSettings, AlertSettings, EngineVenue, Settings
from nonstop.engine import Engine
from nonstop.venues.settings import ConnectivitySettings
from tests.integration.engine.kit import SYMBOL, TRADING, running, settings
from tests.integration.monitor.receivers import SmtpSink, Webhook, eventually, mail_url, smtp_server, webhook
from tests.simkit import control, set_fault

pytestmark = pytest.mark.timeout(120)

MAIL_ENV, HOOK_ENV = "NONSTOP_TEST_ENGINE_MAIL_URL", "NONSTOP_TEST_ENGINE_HOOK_URL"
FAST_BREAKERS = ConnectivitySettings(
    endpoint_breaker_open_s=0.5, endpoint_breaker_max_open_s=1.0, venue_breaker_open_s=1.0, probe_interval_s=0.2,
    read_retry_total_s=2.0, cancel_retry_total_s=2.0, attempt_timeout_s=1.0,
)


def alerting_settings(data_dir: Path, *, data_venues: int = 1) -> Settings:
    base = settings(data_dir, data_venues=data_venues)
    alerts = AlertSettings(
        channels=[  # generous rate limits: every message is sent on its own, none folded into a digest
            AlertChannelSettings(name="mail", url_env=MAIL_ENV, per_minute=600, burst=100),
            AlertChannelSettings(name="hook", url_env=HOOK_ENV, per_minute=600, burst=100),
        ],
        resolve_hold_s=1.0, retry_initial_s=0.2, retry_max_s=1.0, attempt_timeout_s=3.0,
    )
    engine = base.engine.model_copy(update={"venues": [EngineVenue(name=TRADING, connectivity=FAST_BREAKERS)]})
    return base.model_copy(update={"engine": engine, "monitor": base.monitor.model_copy(update={"alerts": alerts})})


def point_channels_at(monkeypatch: pytest.MonkeyPatch, smtp_port: int, hook: Webhook) -> None:
    """The Apprise URLs, in the environment variables the config names (as in production)."""
    monkeypatch.setenv(MAIL_ENV, mail_url(smtp_port))
    monkeypatch.setenv(HOOK_ENV, hook.url)


def mail_subjects(smtp: SmtpSink, title: str) -> list[str]:
    return [m.subject for m in smtp.snapshot() if m.subject.endswith(f"] {title}")]


def hook_titles(hook: Webhook, title: str) -> list[str]:
    return [p["title"] for p in hook.posts if p["title"].endswith(f"] {title}")]


def delivered(smtp: SmtpSink, hook: Webhook, title: str, prefix: str) -> bool:
    want = f"[nonstop {prefix}] {title}"
    return want in mail_subjects(smtp, title) and want in hook_titles(hook, title)


async def test_venue_outage_alerts_critical_once_on_mail_and_webhook_then_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    title = f"circuit breaker open: venue {TRADING}"
    with smtp_server() as (smtp, port):
        async with webhook() as hook:
            point_channels_at(monkeypatch, port, hook)
            engine = Engine(alerting_settings(tmp_path))
            async with running(engine):
                assert engine.sim is not None
                await set_fault(engine.sim, "venue_outage", TRADING)
                await eventually(lambda: delivered(smtp, hook, title, "CRITICAL"), within=30,
                                 what="venue breaker CRITICAL on mail and webhook")
                # the outage goes on: half-open probes fail and the breaker re-opens; still one alert
                alerts = engine.alerts
                assert alerts is not None
                key = f"breaker_open:venue:{TRADING}"
                await eventually(lambda: any(a.key == key and a.count >= 2 for a in alerts.active()),
                                 within=30, what="the venue breaker re-opened while the alert was active")
                assert mail_subjects(smtp, title) == hook_titles(hook, title) == [f"[nonstop CRITICAL] {title}"]

                await control(engine.sim, "DELETE", f"/control/faults?venue={TRADING}")
                await eventually(lambda: delivered(smtp, hook, title, "RESOLVED"), within=30,
                                 what="RESOLVED on mail and webhook")
                await alerts.drain()

    expected = [f"[nonstop CRITICAL] {title}", f"[nonstop RESOLVED] {title}"]
    assert mail_subjects(smtp, title) == expected and hook_titles(hook, title) == expected
    critical = next(m for m in smtp.snapshot() if m.subject == expected[0])
    assert f"key: breaker_open:venue:{TRADING}" in critical.text and "endpoints open" in critical.text
    resolved_post = next(p for p in hook.posts if p["title"] == expected[1])
    assert resolved_post["type"] == "success" and "closed again" in resolved_post["message"]


async def test_deviating_feed_raises_feed_quality_warning_with_evidence_then_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe feeds the consensus' per-source quality to the FeedQualityDetector (M9)."""
    title = f"Feed quality falling: binance-c {SYMBOL}"
    with smtp_server() as (smtp, port):
        async with webhook() as hook:
            point_channels_at(monkeypatch, port, hook)
            engine = Engine(alerting_settings(tmp_path, data_venues=2))  # a, b, c: c's spike is outvoted
            async with running(engine):
                assert engine.sim is not None and engine.alerts is not None
                await set_fault(engine.sim, "price_spike", "binance-c", params={"pct": 3})
                await eventually(lambda: delivered(smtp, hook, title, "WARNING"), within=30,
                                 what="feed-quality WARNING on mail and webhook")
                await control(engine.sim, "DELETE", "/control/faults?venue=binance-c")
                await eventually(lambda: delivered(smtp, hook, title, "RESOLVED"), within=30,
                                 what="RESOLVED on mail and webhook")
                await engine.alerts.drain()

    expected = [f"[nonstop WARNING] {title}", f"[nonstop RESOLVED] {title}"]
    assert mail_subjects(smtp, title) == expected and hook_titles(hook, title) == expected
    warning = next(m for m in smtp.snapshot() if m.subject == expected[0])
    assert "bps from consensus (limit 50 bps)" in warning.text and "checks in a row" in warning.text
