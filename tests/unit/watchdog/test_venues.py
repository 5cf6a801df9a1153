"""Which venues the watchdog can guard: a paper venue is refused with a message that says why."""

from __future__ import annotations

import pytest

from nonstop.clock import ManualClock
from nonstop.config import EngineSettings, EngineVenue, Settings, StrategySettings
from nonstop.errors import ConfigError
from nonstop.watchdog.venues import trading_venues


async def test_watchdog_refuses_a_paper_venue_naming_paper_and_why() -> None:
    settings = Settings(engine=EngineSettings(venues=[EngineVenue(name="paper-binance", network="paper")],
                                              strategy=StrategySettings(venue="paper-binance")))
    with pytest.raises(ConfigError) as refused:
        await trading_venues(settings, ManualClock())
    said = str(refused.value)
    assert "'paper-binance' is a paper venue" in said and 'network = "paper"' in said
    assert "inside the engine process" in said and "nothing to do in paper mode" in said
    assert "give the simulator's base URLs" not in said  # a paper venue takes no urls: never ask for them


async def test_watchdog_still_asks_an_embedded_sim_venue_for_its_urls() -> None:
    settings = Settings(engine=EngineSettings(venues=[EngineVenue(name="binance-a")]))
    with pytest.raises(ConfigError, match="has no urls"):
        await trading_venues(settings, ManualClock())
