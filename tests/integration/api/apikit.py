"""Builders for API tests against a real engine: the engine on its embedded simulator (free
loopback ports, journal in a tmp dir), the API served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from nonstop.api import ApiServer, create_engine_app
from nonstop.config import (
    ApiSettings,
    EngineSettings,
    EngineVenue,
    MonitorSettings,
    QuoterSettings,
    Settings,
    SimSettings,
    SimVenue,
)
from nonstop.engine import Engine

TOKEN = "test-token-0123456789abcdef"
VENUE = "binance-a"


def engine_settings(data_dir: Path, *, interval_s: float = 0.2, endpoints: int = 2) -> Settings:
    return Settings(
        sim=SimSettings(control_port=0, tick_ms=50, venues=[SimVenue(name=VENUE, ports=[0] * endpoints)]),
        engine=EngineSettings(
            venues=[EngineVenue(name=VENUE)],
            strategy=QuoterSettings(venue=VENUE, interval_s=interval_s),
            request_timeout_ms=2000,
            recv_window_ms=2000,
            reconcile_interval_s=5,
        ),
        data_dir=data_dir,
        monitor=MonitorSettings(api=ApiSettings(port=0)),  # the engine's own server: never a fixed port in tests
    )


async def eventually(predicate: Callable[[], bool], within: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Running:
    engine: Engine
    server: ApiServer

    @property
    def url(self) -> str:
        return self.server.url


@asynccontextmanager
async def running_engine_api(
    data_dir: Path, *, token: str | None = TOKEN, interval_s: float = 0.2, stream_interval_s: float = 0.3,
    settings: Settings | None = None,
) -> AsyncIterator[Running]:
    """An engine trading on its embedded simulator, with the API on 127.0.0.1 (free port)."""
    engine = Engine(settings or engine_settings(data_dir, interval_s=interval_s))
    app = create_engine_app(
        engine, token=token, bind_host="127.0.0.1", stream_interval_s=stream_interval_s, sample_interval_s=0.2
    )
    server = ApiServer(app, "127.0.0.1", 0, grace_s=1.0)
    async with asyncio.TaskGroup() as tg:
        engine_task = tg.create_task(engine.run(duration=120), name="engine")
        server_task = tg.create_task(server.serve(), name="api")
        try:
            await eventually(lambda: server.started.is_set(), 30, "the API server")
            await eventually(lambda: engine.status.phase == "trading" or engine_task.done(), 60, "trading")
            assert not engine_task.done(), "the engine stopped before trading"
            yield Running(engine, server)
        finally:
            server_task.cancel()
            engine_task.cancel()
