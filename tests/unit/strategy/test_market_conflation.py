"""The engine's trading loop conflates market data, never fills: a burst of consensus updates reaches
the strategy as the newest one, while every fill that arrives in the middle of it reaches `on_fill`,
once each and in order (issue 17, item 5)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.clock import ManualClock
from nonstop.data.consensus import ConsensusQuote
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.recorder import Recorder
from nonstop.journal import SQLiteJournal
from nonstop.model import ClientOrderIdFactory, EngineState, InstrumentId, OrderFilled, TradeId
from nonstop.monitor.health import Readiness
from nonstop.monitor.metrics import Metrics
from nonstop.strategy.base import Intent, StrategyView
from nonstop.strategy.interface import StrategyBase
from nonstop.strategy.runner import StrategyRunner
from nonstop.trading_loop import TradingLoop
from tests.integration.engine.kit import SYMBOL, TRADING, settings

pytestmark = pytest.mark.timeout(30)


class Recording(StrategyBase):
    def __init__(self, strategy_id: str, iid: InstrumentId) -> None:
        self.id = strategy_id
        self.iid = iid
        self.mids: list[Decimal | None] = []
        self.fills: list[str] = []

    @property
    def instruments(self) -> list[InstrumentId]:
        return [self.iid]

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]:
        self.mids.append(market.mid)
        return []

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> list[Intent]:
        self.fills.append(fill.trade_id.value)
        return []


def consensus(clock: ManualClock, mid: int) -> ConsensusQuote:
    m = Decimal(mid)
    return ConsensusQuote(SYMBOL, clock.now(), m, m - 1, m + 1, ("a", "b"), ())


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_burst_of_market_updates_is_conflated_and_no_fill_is(tmp_path: Path) -> None:
    clock = ManualClock()
    cfg = settings(tmp_path)
    recorder = Recorder(SQLiteJournal(tmp_path / "journal.sqlite"), EngineState(), 1)
    instance = cfg.engine.instance
    ids = ClientOrderIdFactory(instance, 0)
    manager = OrderManager(recorder, {}, ids, clock)
    loop = TradingLoop(cfg, clock, recorder, manager, [], metrics=Metrics(), alerts=None, readiness=Readiness(clock))
    strategy = Recording(loop.strategy.id, InstrumentId(TRADING, SYMBOL))
    loop.runner = StrategyRunner(strategy)
    cid = ids.next(strategy.id)

    def fill(n: int) -> OrderFilled:
        return OrderFilled(ts=clock.now(), client_order_id=cid, trade_id=TradeId(f"t{n}"), price=Decimal(100),
                           quantity=Decimal("0.001"), fee=Decimal(0), fee_asset="USDT")

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(loop._market_loop()), tg.create_task(loop._order_loop())]
        for i in range(300):  # the hub publishes 300 updates while the strategy is busy elsewhere
            await loop._on_consensus(consensus(clock, 1000 + i))
            if i % 100 == 50:
                loop._on_event(fill(i))  # the recorder's listener: a fill lands mid-burst
        await settle()
        assert strategy.mids == [Decimal(1299)]  # the newest consensus, once
        assert strategy.fills == ["t50", "t150", "t250"]  # every fill, in order
        clock.advance(cfg.engine.strategy.interval_s)  # the next market turn: nothing new, nothing called
        await settle()
        assert strategy.mids == [Decimal(1299)]
        await loop._on_consensus(consensus(clock, 2000))
        await settle()
        assert strategy.mids == [Decimal(1299), Decimal(2000)]
        for t in tasks:
            t.cancel()
