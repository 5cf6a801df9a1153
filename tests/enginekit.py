"""Builders for execution tests: a journal, the real Binance adapter on the simulator, an order manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nonstop.clock import LiveClock
from nonstop.execution.order_manager import InDoubtPolicy, OrderManager
from nonstop.execution.reconcile import Reconciler
from nonstop.execution.recorder import Recorder
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import ClientOrderIdFactory, InstrumentId
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue

INSTANCE = "t1"
FAST = InDoubtPolicy(delays_s=(0.2, 0.3, 0.5, 1.0), repeat_s=1.0, recv_window_s=2.0, max_resend_age_s=30.0)


@dataclass
class Rig:
    sim: SimServer
    journal: SQLiteJournal
    recorder: Recorder
    venue: BinanceVenue
    manager: OrderManager
    reconciler: Reconciler

    @property
    def btc(self) -> InstrumentId:
        return InstrumentId("alpha", "BTC/USDT")


def venue_for(sim: SimServer, name: str = "alpha", *, timeout_ms: int = 1500, endpoints: int = 1,
              venue_class: type[BinanceVenue] = BinanceVenue, **options: Any) -> BinanceVenue:
    configs = []
    for i in range(endpoints):
        cfg = sim.ccxt_config(name, i)
        cfg["options"].update({"recvWindow": 2000, **options})
        configs.append(cfg)
    return venue_class(name, configs, timeout_ms=timeout_ms)


@asynccontextmanager
async def rig(sim: SimServer, path: Path, *, venue_class: type[BinanceVenue] = BinanceVenue,
              timeout_ms: int = 1500, endpoints: int = 1) -> AsyncIterator[Rig]:
    journal = SQLiteJournal(path, durability=Durability.FSYNC)
    await journal.open()
    state = await replay(journal)
    recorder = Recorder(journal, state, 1)
    venue = venue_for(sim, venue_class=venue_class, timeout_ms=timeout_ms, endpoints=endpoints)
    await venue.connect()
    clock = LiveClock()
    manager = OrderManager(recorder, {"alpha": venue}, ClientOrderIdFactory(INSTANCE, state.max_order_seq(INSTANCE)),
                           clock, FAST)
    reconciler = Reconciler(manager, {"alpha": venue}, INSTANCE, clock)
    try:
        yield Rig(sim, journal, recorder, venue, manager, reconciler)
    finally:
        await manager.close()
        await venue.close()
        await journal.close()
