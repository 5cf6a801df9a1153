"""The OKX profile: every URL is ccxt's own `okx` class's (offline), demo trading is ccxt's sandbox
mode, a sim endpoint is the same set at a loopback host; the config side (passphrase, dialects)."""

from __future__ import annotations

import ccxt.pro as ccxt_pro
import pytest
from pydantic import ValidationError

from nonstop.config import DEMO_PASSPHRASE, Credentials, Settings
from nonstop.venues.okx_profile import OKX
from nonstop.venues.profile import Network, build_profile


def _client(endpoint, passphrase: str = "pp") -> ccxt_pro.okx:  # what a ccxt client built from our config uses
    return ccxt_pro.okx(OKX.ccxt_config(endpoint, "key", "secret", passphrase))


@pytest.mark.parametrize("network", [Network.LIVE, Network.TESTNET])
def test_okx_own_endpoint_urls_equal_ccxts_own(network: Network) -> None:
    own = ccxt_pro.okx()
    if network is Network.TESTNET:
        own.set_sandbox_mode(True)
    endpoint = build_profile("okx", network, endpoints=["api"]).endpoints[0]
    client = _client(endpoint)
    assert client.implode_hostname(client.urls["api"]["rest"]) == own.implode_hostname(own.urls["api"]["rest"])
    assert client.urls["api"]["ws"] == own.urls["api"]["ws"]
    assert client.get_url("tickers", "public") == own.get_url("tickers", "public")
    assert client.password == "pp"


def test_okx_testnet_is_demo_trading_with_ccxts_header_and_wspap_streams() -> None:
    endpoint = build_profile("okx", "testnet").endpoints[0]
    client = _client(endpoint)
    assert client.headers.get("x-simulated-trading") == "1" and client.options["sandboxMode"] is True
    assert "wspap.okx.com" in client.urls["api"]["ws"]
    live = _client(build_profile("okx", "live", endpoints=["api"]).endpoints[0])
    assert "x-simulated-trading" not in live.headers and live.options["sandboxMode"] is False


def test_okx_live_default_endpoints_are_okx_hosts() -> None:
    profile = build_profile("okx", "live")
    assert [e.name for e in profile.endpoints] == ["api", "aws"]
    assert all(h.endswith("okx.com") for h in profile.hosts)


def test_okx_sim_is_ccxts_url_set_at_a_loopback_host() -> None:
    profile = build_profile("okx", "sim", urls=["http://127.0.0.1:9001"])
    endpoint = profile.endpoints[0]
    assert (endpoint.rest, endpoint.market_ws) == ("http://127.0.0.1:9001", "ws://127.0.0.1:9001/ws/v5")
    assert profile.loopback_only
    client = _client(endpoint)
    assert client.get_url("orders", "private") == "ws://127.0.0.1:9001/ws/v5/private"
    assert client.has["fetchCurrencies"] is False  # the funding API is not asked for at load_markets


def test_credentials_read_the_passphrase_and_the_demo_pair_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKXT_API_KEY", "k")
    monkeypatch.setenv("OKXT_API_SECRET", "s")
    monkeypatch.setenv("OKXT_API_PASSPHRASE", "pass-Phrase-9")
    creds = Credentials.from_env("OKXT")
    assert creds.passphrase == "pass-Phrase-9" and "Phrase" not in repr(creds)
    assert Credentials.from_env("NOPE_NOT_SET", default=("a", "b")).passphrase == DEMO_PASSPHRASE


def test_an_okx_venue_needs_its_passphrase_env_and_a_sim_venue_its_dialect() -> None:
    live = Settings.model_validate({"engine": {
        "venues": [{"name": "okx-live", "exchange": "okx", "network": "live", "credentials_env": "OKXL"}],
        "strategy": {"venue": "okx-live"}}})
    missing = live.engine.missing_credentials({"OKXL_API_KEY": "k", "OKXL_API_SECRET": "s"})
    assert missing == ["OKXL_API_PASSPHRASE (engine venue 'okx-live', network live)"]
    with pytest.raises(ValidationError, match="speaks the 'binance' dialect"):
        Settings.model_validate({
            "sim": {"venues": [{"name": "x", "ports": [0]}]},
            "engine": {"venues": [{"name": "x", "exchange": "okx"}], "strategy": {"venue": "x"}},
        })
    ok = Settings.model_validate({
        "sim": {"venues": [{"name": "x", "ports": [0], "dialect": "okx"}]},
        "engine": {"venues": [{"name": "x", "exchange": "okx"}], "strategy": {"venue": "x"}},
    })
    assert ok.engine.venues[0].exchange == "okx"
