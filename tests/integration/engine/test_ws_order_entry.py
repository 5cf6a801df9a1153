"""The engine with `order_entry = "ws"`: its orders travel over Binance's WebSocket API session."""

from __future__ import annotations

from pathlib import Path

import pytest

from nonstop.config import EngineVenue
from nonstop.engine import Engine
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.gateway import RequestRecord
from tests.integration.engine.kit import TRADING, eventually, running, settings

pytestmark = pytest.mark.timeout(90)


async def test_engine_with_ws_order_entry_places_its_orders_over_the_ws_api(tmp_path: Path) -> None:
    base = settings(tmp_path, data_venues=1)
    venues = [EngineVenue(name=TRADING, order_entry="ws")]
    engine = Engine(base.model_copy(update={"engine": base.engine.model_copy(update={"venues": venues})}))
    async with running(engine):  # the default run outlasts the test on a loaded machine
        assert engine.trading is not None
        venue = engine.trading.trading_venues[TRADING]
        assert isinstance(venue, BinanceVenue) and venue.order_entry == "ws"
        assert await venue.order_entry_up(timeout_s=10.0)
        seen: list[str] = []

        def record(r: RequestRecord) -> None:
            seen.append(r.name)

        venue.on_request = record
        await eventually(lambda: "create_order_ws" in seen, 30, "an order over the ws-api")
        assert "create_order" not in seen  # nothing went over REST while the session was up
        state = engine.state
        assert state is not None
        # the answer is recorded behind the strategy (and a quote may fill or be replaced first): wait for it
        await eventually(lambda: bool(state.open_orders()), 15, "a ws-placed order resting in the state")
