"""Secrets never reach alert text, health reasons or metric labels (invariant 9)."""

from __future__ import annotations

import pytest

from nonstop.clock import ManualClock
from nonstop.config import AlertSettings
from nonstop.monitor import AlertLevel, AlertManager, AlertTransition, ChannelConfigError, Scrubber, scrub
from tests.unit.monitor.fakes import alert_settings, manager_with, settle

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"auth failed apiKey={API_KEY} weight=20", API_KEY),
        ("POST /order?symbol=BTCUSDT&signature=c0ffee12&timestamp=1", "c0ffee12"),
        ('{"api_key": "k-123456", "qty": "0.1"}', "k-123456"),
        ("password: hunter22 retry=3", "hunter22"),
        ("X-MBX-APIKEY: abcd1234", "abcd1234"),
        ("dsn postgresql://nonstop:s3cr3tpw@db:5432/ns", "s3cr3tpw"),
        ("Authorization: Bearer eyJhbGciOi.payload", "eyJhbGciOi.payload"),
        ("listenKey=pqrs9876 expired", "pqrs9876"),
        (f"raw key {API_KEY}", API_KEY),
    ],
)
def test_scrub_masks_secret_patterns(text: str, secret: str) -> None:
    cleaned = scrub(text)
    assert secret not in cleaned and "***" in cleaned


def test_scrub_keeps_evidence_numbers_and_ids() -> None:
    text = "p95=0.412s baseline=0.101s order ns-a1-0000012345 slippage_bps=7.5 breaker_open:binance-a:ep0"
    assert scrub(text) == text


def test_registered_literal_is_masked_in_any_format() -> None:
    s = Scrubber(["tgram://123456:AAbbCC/99"])
    assert s.scrub("channel tgram://123456:AAbbCC/99 failed") == "channel *** failed"
    assert s.scrub("short") == "short" and Scrubber(["abc"]).scrub("abc") == "abc"  # too short to register


async def test_alert_text_and_journal_carry_no_secret() -> None:
    clock = ManualClock()
    journal: list[AlertTransition] = []
    manager, n = manager_with(alert_settings("chat"), clock, journal)
    async with manager:
        manager.raise_(
            "auth_failed:binance-a",
            AlertLevel.CRITICAL,
            f"Auth failed for key {API_KEY}",
            f"venue said: invalid apiKey={API_KEY}; url=https://bot:pa55word@api.example/x",
            source="secret=topsecret1",
        )
        await settle()
    everything = " ".join(f"{x.title} {x.body} {x.subject()}" for x in n["chat"].sent)
    everything += " ".join(str(t.to_dict()) for t in journal)
    for secret in (API_KEY, "pa55word", "topsecret1"):
        assert secret not in everything
    assert "invalid apiKey=***" in n["chat"].sent[0].body


def test_from_settings_reads_urls_from_env_and_scrubs_them() -> None:
    settings = alert_settings("hook")
    url = "json://127.0.0.1:9/hooks/t0ps3cretpath"
    manager = AlertManager.from_settings(settings, clock=ManualClock(), environ={"TEST_HOOK_URL": url})
    alert = manager.raise_("k", AlertLevel.INFO, f"posting to {url} failed")
    assert url not in alert.title and "t0ps3cretpath" not in alert.title


def test_from_settings_missing_env_var_names_it() -> None:
    with pytest.raises(ChannelConfigError, match="TEST_HOOK_URL is not set"):
        AlertManager.from_settings(alert_settings("hook"), clock=ManualClock(), environ={})


def test_from_settings_unparseable_url_does_not_echo_it() -> None:
    with pytest.raises(ChannelConfigError) as caught:
        AlertManager.from_settings(
            alert_settings("hook"), clock=ManualClock(), environ={"TEST_HOOK_URL": "nosuchscheme://x:pw1234@h"}
        )
    assert "pw1234" not in str(caught.value) and "'hook'" in str(caught.value)


def test_settings_without_channels_build_a_silent_manager() -> None:
    manager = AlertManager.from_settings(AlertSettings(), clock=ManualClock(), environ={})
    assert manager.raise_("k", AlertLevel.CRITICAL, "T").count == 1
