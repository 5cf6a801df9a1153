"""The venue factory: which keys go where, and the adapter built from the profile."""

from __future__ import annotations

import pytest

from nonstop.clock import LiveClock
from nonstop.config import DEMO_CREDENTIALS, Credentials, EngineVenue
from nonstop.errors import ConfigError
from nonstop.venues.factory import VenueOptions, build_venue, credentials_for, profile_for

OPTIONS = VenueOptions(timeout_ms=2000, recv_window_ms=5000)


def test_factory_real_data_venue_is_sent_no_key_even_with_sim_keys_in_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NONSTOP_SIM_API_KEY", "k")
    monkeypatch.setenv("NONSTOP_SIM_API_SECRET", "s")
    data = EngineVenue(name="binance-data", network="live", endpoints=["data"])
    assert credentials_for(data, trading=False) == Credentials(api_key="", secret="")


def test_factory_sim_venue_gets_the_demo_pair_and_a_live_one_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NONSTOP_SIM_API_KEY", raising=False)
    assert credentials_for(EngineVenue(name="binance-a"), trading=True).api_key == DEMO_CREDENTIALS[0]
    live = EngineVenue(name="binance-live", network="live", credentials_env="MY_LIVE")
    monkeypatch.delenv("MY_LIVE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="MY_LIVE_API_KEY and MY_LIVE_API_SECRET must both be set"):
        credentials_for(live, trading=True)
    monkeypatch.setenv("MY_LIVE_API_KEY", "lk")
    monkeypatch.setenv("MY_LIVE_API_SECRET", "ls")
    assert credentials_for(live, trading=True) == Credentials(api_key="lk", secret="ls")


async def test_factory_builds_one_client_per_endpoint_at_ccxts_urls() -> None:
    cfg = EngineVenue(name="binance-live", network="live", credentials_env="MY_LIVE", endpoints=["api", "api1"])
    venue, ws = build_venue(cfg, profile_for(cfg), Credentials(api_key="k", secret="s"), OPTIONS, LiveClock())
    try:
        assert sorted(venue._clients) == ["https://api.binance.com", "https://api1.binance.com"]
        assert ws.urls["api"]["ws"]["spot"] == "wss://stream.binance.com:9443/ws"
        assert all(c.options["recvWindow"] == 5000 for c in venue._clients.values())
        assert venue.profile is not None and venue.profile.network == "live"
    finally:
        await venue.close()
        await ws.close()


def test_factory_refuses_a_public_data_endpoint_for_trading() -> None:
    cfg = EngineVenue(name="binance-live", network="live", credentials_env="MY_LIVE", endpoints=["data"])
    with pytest.raises(ConfigError, match=r"endpoints \['data'\] serve public market data only"):
        build_venue(cfg, profile_for(cfg), Credentials(api_key="k", secret="s"), OPTIONS, LiveClock())


def test_factory_sim_venue_without_urls_needs_the_embedded_simulator() -> None:
    with pytest.raises(ConfigError, match="has no urls and is not a venue of the embedded simulator"):
        profile_for(EngineVenue(name="binance-z"), {"binance-a": ["http://127.0.0.1:1"]})


async def test_factory_order_entry_ws_gives_binance_a_ws_api_session_at_ccxts_ws_api_url() -> None:
    cfg = EngineVenue(name="binance-live", network="live", credentials_env="MY_LIVE", order_entry="ws")
    venue, ws = build_venue(cfg, profile_for(cfg), Credentials(api_key="k", secret="s"), OPTIONS, LiveClock())
    try:
        assert venue.order_entry == "ws" and venue._ws is not None
        url, context = venue._ws._pick_url()
        assert url == "wss://ws-api.binance.com:443/ws-api/v3" and context is not None
        default = EngineVenue(name="binance-a")
        assert default.order_entry == "rest"
    finally:
        await venue.close()
        await ws.close()


def test_factory_order_entry_ws_is_refused_for_okx() -> None:
    with pytest.raises(ValueError, match="built for Binance's WebSocket API only"):
        EngineVenue(name="okx-a", exchange="okx", order_entry="ws")
