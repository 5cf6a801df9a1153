"""Builders for kill-switch tests: the real engine on a simulator that outlives it (so a restart
finds the same venue), its API on a known loopback port with a token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from nonstop.config import ApiSettings, EngineVenue, MonitorSettings, Settings, SimRateLimits, SimSettings, SimVenue
from nonstop.engine import Engine
from nonstop.model import InstrumentId, OrderState, OrderType, Side
from nonstop.sim.server import SimServer
from tests.integration.engine.kit import TRADING, eventually, settings

TOKEN_ENV = "NONSTOP_TEST_KILL_TOKEN"
TOKEN = "kill-switch-test-token-0123456789"
BTC = InstrumentId(TRADING, "BTC/USDT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def venue_sim() -> AsyncIterator[SimServer]:
    sim = SimServer(SimSettings(control_port=0, tick_ms=50, venues=[SimVenue(name=TRADING, ports=[0, 0])],
                                rate_limits=SimRateLimits()))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def engine_settings(tmp_path: Path, sim: SimServer, **risk: Any) -> Settings:
    base = settings(tmp_path, data_venues=0)
    engine_cfg = base.engine.model_copy(update={
        "embedded_sim": False, "data_venues": [],
        "venues": [EngineVenue(name=TRADING, urls=sim.venues[TRADING].urls)],
    })
    api = ApiSettings(port=free_port(), token_env=TOKEN_ENV)
    return base.model_copy(update={
        "engine": engine_cfg, "monitor": MonitorSettings(api=api),
        "risk": base.risk.model_copy(update=risk),
    })


@asynccontextmanager
async def engine_running(cfg: Settings, *, open_orders: bool = True) -> AsyncIterator[Engine]:
    engine = Engine(cfg)
    task = asyncio.create_task(engine.run(duration=120), name="engine-under-test")
    try:
        await eventually(lambda: engine.status.phase == "trading" or task.done(), 60, "trading")
        if task.done():
            task.result()
        if open_orders:
            await eventually(lambda: bool(engine.state and engine.state.open_orders()), 30, "open orders")
        yield engine
    finally:
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


async def buy_position(engine: Engine, qty: str) -> None:
    """A position to lose money on or to flatten: a market buy through the engine's order manager."""
    assert engine.manager is not None and engine.state is not None
    cid = await engine.manager.place("test", BTC, Side.BUY, Decimal(qty), None, order_type=OrderType.MARKET)
    state = engine.state
    await eventually(lambda: state.order(cid).state is OrderState.FILLED, 30, "the market buy filled")
