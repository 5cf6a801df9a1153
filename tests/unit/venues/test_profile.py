"""Venue profiles: every URL of binance live and testnet is ccxt's own (offline)."""

from __future__ import annotations

from urllib.parse import urlsplit

import ccxt.pro as ccxt_pro
import pytest

from nonstop.errors import ConfigError
from nonstop.venues.binance_profile import BINANCE
from nonstop.venues.profile import Network, build_profile

SPOT_REST = ("public", "private", "v1")


def _ccxt_binance(network: Network) -> dict:
    exchange = ccxt_pro.binance()
    if network is Network.TESTNET:
        exchange.set_sandbox_mode(True)
    return exchange.urls["api"]


def _client_urls(profile_endpoint) -> dict:  # the URLs a ccxt client built from our config ends up with
    return ccxt_pro.binance(BINANCE.ccxt_config(profile_endpoint, "key", "secret")).urls["api"]


@pytest.mark.parametrize("network", [Network.LIVE, Network.TESTNET])
def test_profile_own_endpoint_urls_equal_ccxts_own(network: Network) -> None:
    own = _ccxt_binance(network)
    endpoint = build_profile("binance", network, endpoints=["api"]).endpoints[0]
    got = _client_urls(endpoint)
    for key in SPOT_REST:
        assert got[key] == own[key], key
    assert got["ws"]["spot"] == own["ws"]["spot"]
    assert got["ws"]["ws-api"]["spot"] == own["ws"]["ws-api"]["spot"]
    assert (endpoint.market_ws, endpoint.user_ws) == (own["ws"]["spot"], own["ws"]["ws-api"]["spot"])


def test_profile_live_client_config_leaves_every_other_ccxt_url_untouched() -> None:
    endpoint = build_profile("binance", "live").endpoints[0]
    assert _client_urls(endpoint) == _ccxt_binance(Network.LIVE)


def test_profile_testnet_is_ccxts_sandbox_hosts() -> None:
    profile = build_profile("binance", "testnet")
    assert [urlsplit(u).hostname for u in (profile.endpoints[0].rest, profile.endpoints[0].market_ws,
                                            profile.endpoints[0].user_ws)] == [
        "testnet.binance.vision", "stream.testnet.binance.vision", "ws-api.testnet.binance.vision"]
    assert profile.endpoints[0].sandbox
    assert BINANCE.ccxt_config(profile.endpoints[0], "k", "s")["options"]["sandboxMode"] is True


def test_profile_live_alternatives_keep_ccxts_scheme_and_paths_and_change_only_hosts() -> None:
    own = _ccxt_binance(Network.LIVE)
    table = BINANCE.endpoints(Network.LIVE)
    assert set(table) == {"api", "api-gcp", "api1", "api2", "api3", "api4", "data"}
    for name, endpoint in table.items():
        got = _client_urls(endpoint)
        for key in SPOT_REST:
            ours, theirs = urlsplit(got[key]), urlsplit(own[key])
            assert (ours.scheme, ours.path) == (theirs.scheme, theirs.path), (name, key)
        assert urlsplit(endpoint.market_ws).path == urlsplit(own["ws"]["spot"]).path
        if not endpoint.public_only:
            assert urlsplit(endpoint.user_ws).path == urlsplit(own["ws"]["ws-api"]["spot"]).path
    rest_hosts = {urlsplit(e.rest).hostname for e in table.values()}
    assert rest_hosts == {"api.binance.com", "api-gcp.binance.com", "api1.binance.com", "api2.binance.com",
                          "api3.binance.com", "api4.binance.com", "data-api.binance.vision"}
    stream_ports = {urlsplit(e.market_ws).netloc for e in table.values()}
    assert {"stream.binance.com:9443", "stream.binance.com:443", "data-stream.binance.vision:443"} == stream_ports
    assert table["data"].public_only and not table["api"].public_only


def test_profile_default_live_endpoints_are_several_real_hosts() -> None:
    profile = build_profile("binance", "live")
    assert [e.name for e in profile.endpoints] == ["api", "api-gcp", "api1"]
    assert not profile.loopback_only


def test_profile_sim_is_ccxts_url_set_at_a_loopback_host() -> None:
    profile = build_profile("binance", "sim", urls=["http://127.0.0.1:8901", "http://127.0.0.1:8902"])
    first = profile.endpoints[0]
    assert (first.rest, first.market_ws, first.user_ws) == (
        "http://127.0.0.1:8901", "ws://127.0.0.1:8901/ws", "ws://127.0.0.1:8901/ws-api/v3")
    assert profile.loopback_only
    config = BINANCE.ccxt_config(first, "k", "s")
    assert config["urls"]["api"]["fapiPublic"] == "http://127.0.0.1:8901/unsupported"  # a stray call fails loudly


def test_profile_https_host_override_gives_wss_streams() -> None:
    endpoint = build_profile("binance", "live", urls=["https://127.0.0.1:9999"]).endpoints[0]
    assert (endpoint.market_ws, endpoint.user_ws) == ("wss://127.0.0.1:9999/ws", "wss://127.0.0.1:9999/ws-api/v3")


def test_profile_unknown_endpoint_is_refused_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"no endpoint \['api9'\].*api-gcp"):
        build_profile("binance", "live", endpoints=["api", "api9"])


def test_profile_unknown_exchange_is_refused() -> None:
    with pytest.raises(ConfigError, match="exchange 'kraken' is not supported"):
        build_profile("kraken", "live")
