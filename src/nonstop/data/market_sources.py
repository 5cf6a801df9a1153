"""The engine's market-data sources: one per venue (trading or data-only), each a websocket book
watch (when the venue has a ccxt.pro client) with REST polling through its adapter, all feeding one
`MarketDataHub` for the strategy's symbol; and the strategy's warm-up candles from the local
history cache."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from ccxt.base import errors as ccxt_base_errors

from nonstop.clock import Clock
from nonstop.connectivity import ConnectivityError
from nonstop.data.consensus import ConsensusQuote
from nonstop.data.feeds import MarketDataHub, SourceSpec
from nonstop.data.history import Candle, HistoryError, OhlcvCache
from nonstop.data.settings import DataSettings, HistorySettings
from nonstop.data.sources import Fetch, ccxt_book_watch
from nonstop.model import InstrumentId
from nonstop.venues.port import Quote, VenuePort

log = structlog.get_logger("nonstop.trading")

WARM_UP_MINUTES = 240  # 1m candles handed to the strategy at start, from the local history cache
WARM_UP_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class MarketSource:
    """One venue feeding the consensus: REST through its adapter, websockets through `ws_client`
    (a ccxt.pro client, or None for REST only). `trading` venues take orders; the others only feed data."""

    venue: VenuePort
    ws_client: Any | None
    trading: bool


def _lazy_fetch(venue: VenuePort, iid: InstrumentId) -> Fetch:
    """REST polling through a data-only venue's adapter, connecting it on first use (a data venue that
    is down at start-up must not hold up trading: its source is simply missing until it answers)."""
    lock = asyncio.Lock()

    async def fetch() -> Quote:
        async with lock:
            if not venue.instruments():
                await venue.connect()
        return await venue.quote(iid)

    return fetch


def _effective_data_settings(data: DataSettings, sources: int, symbol: str) -> DataSettings:
    wanted = data.validator.min_sources
    if sources >= wanted:
        return data
    log.warning("min_sources_lowered", symbol=symbol, configured=wanted, sources=sources,
                detail="fewer sources configured than min_sources: no cross-source outlier check possible")
    return data.model_copy(update={"validator": data.validator.model_copy(update={"min_sources": max(sources, 1)})})


def build_hub(
    sources: Sequence[MarketSource],
    symbol: str,
    data: DataSettings,
    clock: Clock,
    on_update: Callable[[ConsensusQuote], Awaitable[None]],
) -> MarketDataHub:
    """One hub over every source for `symbol` (fewer sources than `min_sources`: lowered, logged)."""
    specs = []
    for s in sources:
        iid = InstrumentId(s.venue.name, symbol)
        watch = ccxt_book_watch(s.ws_client, iid, clock) if s.ws_client is not None else None
        specs.append(SourceSpec(s.venue.name, iid, watch=watch, fetch=_lazy_fetch(s.venue, iid)))
    return MarketDataHub(clock, specs, _effective_data_settings(data, len(specs), symbol), on_update=on_update)


async def warm_up_candles(
    sources: Sequence[MarketSource],
    symbol: str,
    cache_path: Path,
    clock: Clock,
    history: HistorySettings,
    *,
    minutes: int = WARM_UP_MINUTES,
) -> tuple[InstrumentId, list[Candle], int] | None:
    """The recent 1m candles of the first trading venue with a ccxt client, from the local history
    cache, fetching only what it lacks (offline: what is cached). Never holds trading up: a venue
    error or a slow venue leaves it with what it has. Returns (instrument, candles, venue requests
    made, -1 when cut short), or None without such a venue."""
    source = next((s for s in sources if s.trading and s.ws_client is not None), None)
    if source is None:
        return None
    iid = InstrumentId(source.venue.name, symbol)
    end = clock.now().replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes)
    candles: list[Candle] = []
    try:
        async with asyncio.timeout(WARM_UP_TIMEOUT_S), OhlcvCache(
                cache_path, source.venue.name, source.ws_client.fetch_ohlcv, clock, history) as cache:
            candles = await cache.candles(iid.symbol, "1m", start, end)
            fetched = cache.requests
    except (TimeoutError, HistoryError, ConnectivityError, ccxt_base_errors.BaseError) as err:
        log.warning("warm_up_incomplete", instrument=str(iid), error=str(err))
        fetched = -1
    return iid, candles, fetched
