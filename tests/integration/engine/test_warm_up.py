"""The strategy warms up from the local OHLCV cache; a restart fetches only what the cache lacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nonstop.engine import Engine
from nonstop.trading_loop import WARM_UP_MINUTES
from tests.integration.engine.kit import eventually, settings

pytestmark = pytest.mark.timeout(120)


async def _warm_up_once(tmp_path: Path) -> tuple[int, int]:
    cfg = settings(tmp_path)
    cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(
        update={"strategy": cfg.engine.strategy.model_copy(update={"kind": "trend"})})})
    engine = Engine(cfg)
    task = asyncio.create_task(engine.run(duration=30))
    try:
        await eventually(lambda: bool(engine.trading and engine.trading.warmed_up) or task.done(), 60, "warm-up")
        if task.done():
            task.result()
        assert engine.trading is not None and engine.trading.warmed_up is not None
        return engine.trading.warmed_up
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_second_start_takes_its_history_from_the_cache(tmp_path: Path) -> None:
    candles, requests = await _warm_up_once(tmp_path)
    assert candles == WARM_UP_MINUTES and requests >= 1
    assert (tmp_path / "history.sqlite").exists()
    again, requests_again = await _warm_up_once(tmp_path)
    # the cached range is not downloaded again: at most the minute(s) that closed in between
    assert again == WARM_UP_MINUTES and requests_again <= 1
