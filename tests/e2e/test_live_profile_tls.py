"""The live-profile code path end to end over https + wss: the simulator serves TLS with a
certificate from a CA made in this test, trusted only by the engine's ccxt clients (`ca_file`)."""

from __future__ import annotations

from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest

from nonstop.config import ApiSettings, EngineSettings, EngineVenue, MonitorSettings, Settings, StrategySettings
from nonstop.engine import Engine
from nonstop.model import VenueIdentified
from nonstop.sim.server import SimServer, ccxt_config
from tests.integration.engine.kit import DATA, eventually, journal_events, running
from tests.simkit import sim_settings
from tests.tlskit import make_pki

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
KEY, SECRET = "tls-test-key", "tls-test-secret"


async def test_engine_trades_over_https_and_wss_through_the_live_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = make_pki(tmp_path)
    monkeypatch.setenv("TLSTEST_API_KEY", KEY)
    monkeypatch.setenv("TLSTEST_API_SECRET", SECRET)
    async with SimServer(sim_settings(venues=1, endpoints=2), ssl_context=pki.server_context()) as sim:
        sim.add_account(KEY, SECRET)
        urls = sim.venues["alpha"].urls
        assert all(u.startswith("https://127.0.0.1:") for u in urls)

        # a client that does not trust the test's CA cannot talk to it
        untrusting = ccxt_async.binance(ccxt_config(urls[0], KEY, SECRET))
        try:
            with pytest.raises(ccxt_async.NetworkError):
                await untrusting.fetch_time()
        finally:
            await untrusting.close()

        venue = EngineVenue(name="binance-live", network="live", urls=urls, ca_file=pki.ca_file,
                            credentials_env="TLSTEST")
        settings = Settings(
            sim=sim_settings(venues=1, endpoints=1),
            engine=EngineSettings(
                venues=[venue], data_venues=[], request_timeout_ms=3000, recv_window_ms=2000,
                strategy=StrategySettings(venue="binance-live", symbol="BTC/USDT", interval_s=0.2),
            ),
            data=DATA, data_dir=tmp_path / "data", monitor=MonitorSettings(api=ApiSettings(port=0)),
        )
        assert not settings.engine.runs_embedded_sim
        engine = Engine(settings)
        async with running(engine, duration=60):
            assert engine.sim is None  # a real-venue config never starts the embedded simulator
            await eventually(lambda: bool(engine.state and engine.state.fills), 30, "a fill over the user stream")
            adapter = engine.venues["binance-live"]
            stream_urls = [u for c in adapter._clients.values() for u in c.clients]  # type: ignore[attr-defined]
            events = await journal_events(engine)
        assert stream_urls and all(u.startswith("wss://127.0.0.1:") for u in stream_urls), stream_urls
        assert any(u.endswith("/ws-api/v3") for u in stream_urls)
        identified = [e for e in events if isinstance(e, VenueIdentified)]
        assert [(e.exchange, e.network) for e in identified] == [("binance", "live")]
        assert sim.venues["alpha"].venue.duplicates() == {}
