"""One simulated venue at run time: its engine, market flow, limits, candles, streams and clocks."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import struct
from collections import Counter
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from nonstop.clock import Clock, utc_ms
from nonstop.config_sim import SimSettings
from nonstop.config_sim import SimVenue as SimVenueConfig
from nonstop.sim import wire
from nonstop.sim.candles import CandleStore
from nonstop.sim.dead_mans_switch import CancelAllAfter
from nonstop.sim.faults import Fault, FaultKind, FaultRegistry
from nonstop.sim.flow import MarketFlow
from nonstop.sim.limits import VenueLimits
from nonstop.sim.market_streams import MarketStreams
from nonstop.sim.mirror import MirrorFeed
from nonstop.sim.okx_limits import OkxLimits
from nonstop.sim.records import BalanceUpdate, Execution, PublicTrade, VenueEvent
from nonstop.sim.streams import StreamHub
from nonstop.sim.venue import SimVenue

log = structlog.get_logger("nonstop.sim")
HANG_LIMIT_S = 300.0  # a black-holed request is held at most this long, then the connection is reset


class VenueRuntime:
    """Wires a `SimVenue` to its background flow, rate limits, candles and websocket hub."""

    def __init__(self, config: SimVenueConfig, settings: SimSettings, clock: Clock, faults: FaultRegistry) -> None:
        self.name = config.name
        self.dialect = config.dialect
        self.clock = clock
        self.faults = faults
        self.tick_s = settings.tick_ms / 1000
        self.max_body_bytes = settings.max_body_bytes
        self.venue = SimVenue(config.name, config.symbols, clock)
        if config.maker_fee is not None:
            self.venue.maker_fee = config.maker_fee
        if config.taker_fee is not None:
            self.venue.taker_fee = config.taker_fee
        self.flow = MarketFlow(self.venue, settings.seed, settings.tick_ms)
        self.mirror = MirrorFeed(self.venue, config.mirror) if config.mirror is not None else None
        self.limits = VenueLimits(settings.rate_limits)
        self.okx_limits = OkxLimits()
        self.dead_mans_switch = CancelAllAfter()  # OKX's cancel-all-after countdowns
        now = utc_ms(clock.now())
        self.candles = {s.symbol: CandleStore(s, settings.seed, now) for s in config.symbols}
        self.streams = StreamHub(self)
        self.market_streams = MarketStreams(self)
        self.okx_streams: Any = None  # the OKX dialect's websocket hub (`okx_streams.OkxStreamHub`)
        if self.dialect == "okx":
            from nonstop.sim.okx_streams import OkxStreamHub

            self.okx_streams = OkxStreamHub(self)
        self.listen_keys: dict[str, str] = {}
        self.list_client_ids: dict[int, str] = {}  # OCO list id -> its listClientOrderId
        self.urls: list[str] = []
        self._hanging: set[asyncio.Task[Any]] = set()
        self.answers: Counter[int] = Counter()  # REST answers by status, of those counted (429 and 418)
        self.private_requests: list[str] = []  # "METHOD /path" of each keyed/signed/private request received
        self.venue.listeners.append(self._on_event)
        faults.listeners.append(self._on_fault)

    # ------------------------------------------------------------------ events
    def _on_event(self, event: VenueEvent) -> None:
        if self.okx_streams is not None:
            if isinstance(event, PublicTrade):
                self.candles[event.symbol].record(event.price, event.qty, event.time_ms)
            self.okx_streams.on_event(event)
            return
        if isinstance(event, PublicTrade):
            self.candles[event.symbol].record(event.price, event.qty, event.time_ms, not event.buyer_is_maker)
            if not self.flow.control.frozen:
                low = event.symbol.lower()
                self.streams.publish(f"{low}@trade", wire.trade_event(event))
                self.streams.publish(
                    f"{low}@aggTrade", {"e": "aggTrade", "E": event.time_ms, "s": event.symbol, **wire.agg_trade(event)}
                )
        elif isinstance(event, Execution):
            self.streams.publish_user(event.order.account, wire.execution_report(event))
        elif isinstance(event, BalanceUpdate):
            self.streams.publish_user(event.account, wire.account_position(event))

    def _on_fault(self, change: str, fault: Fault) -> None:
        if fault.venue != self.name:
            return
        active = self.faults.matching(self.name, None, FaultKind.FROZEN_FEED, FaultKind.PRICE_SPIKE)
        self.flow.control.frozen = any(f.kind == FaultKind.FROZEN_FEED for f in active)
        spikes = [f for f in active if f.kind == FaultKind.PRICE_SPIKE]
        self.flow.control.spike_factor = (
            Decimal(1) + Decimal(str(spikes[-1].params["pct"])) / 100 if spikes else Decimal(1)
        )
        if change != "set":
            return
        if fault.kind == FaultKind.VENUE_OUTAGE or (
            fault.kind == FaultKind.WS_DISCONNECT and fault.params["mode"] == "drop"
        ):
            endpoint = None if fault.kind == FaultKind.VENUE_OUTAGE else fault.endpoint
            hub = self.okx_streams or self.streams
            dropped = hub.drop(endpoint, reason=str(fault.kind))
            log.warning("ws_dropped_by_fault", venue=self.name, endpoint=endpoint, connections=dropped)
        elif fault.kind in (FaultKind.WS_DISCONNECT, FaultKind.MAINTENANCE):
            # Binance closes its websockets for maintenance with 1001 (going away); so does the OKX dialect
            code = fault.params["code"] if fault.kind == FaultKind.WS_DISCONNECT else 1001
            closed = (self.okx_streams or self.streams).close(fault.endpoint, code, reason=str(fault.kind))
            log.warning("ws_closed_by_fault", venue=self.name, endpoint=fault.endpoint, code=code, connections=closed)

    # ------------------------------------------------------------------ views
    def ticker(self, symbol: str, now_ms: int) -> dict[str, Any]:
        candles = self.candles[symbol].last_24h(now_ms)
        last = self.venue.last_price[symbol]
        open_ = candles[0].open if candles else last
        high = max((c.high for c in candles), default=last)
        low = min((c.low for c in candles), default=last)
        volume = sum((c.volume for c in candles), Decimal(0))
        quote_volume = sum((c.quote_volume for c in candles), Decimal(0))
        bt = self.book_ticker(symbol)
        change = last - open_
        return {
            "symbol": symbol,
            "priceChange": wire.num(change),
            "priceChangePercent": f"{(change / open_ * 100) if open_ else 0:.3f}",
            "weightedAvgPrice": wire.num(quote_volume / volume if volume else last),
            "prevClosePrice": wire.num(open_),
            "lastPrice": wire.num(last),
            "lastQty": "0.00000000",
            "bidPrice": bt["bidPrice"],
            "bidQty": bt["bidQty"],
            "askPrice": bt["askPrice"],
            "askQty": bt["askQty"],
            "openPrice": wire.num(open_),
            "highPrice": wire.num(high),
            "lowPrice": wire.num(low),
            "volume": wire.num(volume),
            "quoteVolume": wire.num(quote_volume),
            "openTime": now_ms - 86_400_000,
            "closeTime": now_ms,
            "firstId": 0,
            "lastId": 0,
            "count": sum(c.trades for c in candles),
        }

    def book_ticker(self, symbol: str) -> dict[str, Any]:
        bids, asks = self.venue.books[symbol].depth(1)
        bid = bids[0] if bids else (Decimal(0), Decimal(0))
        ask = asks[0] if asks else (Decimal(0), Decimal(0))
        return {
            "symbol": symbol,
            "bidPrice": wire.num(bid[0]),
            "bidQty": wire.num(bid[1]),
            "askPrice": wire.num(ask[0]),
            "askQty": wire.num(ask[1]),
        }

    def new_listen_key(self, account: str) -> str:
        key = secrets.token_urlsafe(45)[:60]
        self.listen_keys[key] = account
        return key

    # --------------------------------------------------------------- faults
    async def drop_response(self, request: web.Request, mode: str) -> web.StreamResponse:
        """Answer nothing: hang (the client times out) or reset the TCP connection."""
        transport = request.transport
        if mode == "hang":
            task = asyncio.current_task()
            if task is not None:
                self._hanging.add(task)
            try:
                await asyncio.sleep(HANG_LIMIT_S)
            finally:
                if task is not None:
                    self._hanging.discard(task)
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        raise asyncio.CancelledError  # nothing may be written: the connection is gone

    # ------------------------------------------------------------------ loops
    async def run(self) -> None:
        """Drive the market and the streams until cancelled."""
        async with asyncio.TaskGroup() as tg:
            if self.mirror is not None:
                tg.create_task(self.mirror.run())  # paper trading: the market follows the source venue
            else:
                tg.create_task(self._every(self.tick_s, self.flow.tick))
            tg.create_task(self._every(0.1, self._publish_depth))
            tg.create_task(self._every(1.0, self._publish_tickers))

    async def _every(self, period: float, step: Any) -> None:
        """Run `step` every `period` seconds; a step that raises is logged and the loop goes on
        (one bad step must not freeze the market for good while REST serves a stale book)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                step()
            except Exception:  # logged with its traceback; the next tick runs as usual
                log.exception("sim_step_failed", venue=self.name, step=getattr(step, "__name__", repr(step)))
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def _cancel_expired(self) -> None:
        """OKX's cancel-all-after: every open order of an account whose countdown ran out."""
        for account in self.dead_mans_switch.due(utc_ms(self.clock.now())):
            for order in self.venue.open_orders(account, None):
                self.venue.cancel(account, order.symbol, order.order_id, None)

    def _publish_depth(self) -> None:
        self.faults.sweep()
        self._cancel_expired()
        if self.okx_streams is not None:
            if not self.flow.control.frozen:
                self.okx_streams.publish_books()
            return
        if self.flow.control.frozen:
            return  # diffs accumulate and are sent in one piece when the feed thaws
        now = utc_ms(self.clock.now())
        self.market_streams.partial_books(fast=True)
        for symbol, book in self.venue.books.items():
            diff = book.take_diff()
            if diff is None:
                continue
            low = symbol.lower()
            event = {
                "e": "depthUpdate",
                "E": now,
                "s": symbol,
                "U": diff.first_id,
                "u": diff.last_id,
                "b": [[wire.num(p), wire.num(q)] for p, q in diff.bids],
                "a": [[wire.num(p), wire.num(q)] for p, q in diff.asks],
            }
            for name in (f"{low}@depth", f"{low}@depth@100ms", f"{low}@depth@1000ms"):
                self.streams.publish(name, event)
            bt = self.book_ticker(symbol)
            self.streams.publish(
                f"{low}@bookTicker",
                {
                    "u": diff.last_id,
                    "s": symbol,
                    "b": bt["bidPrice"],
                    "B": bt["bidQty"],
                    "a": bt["askPrice"],
                    "A": bt["askQty"],
                },
            )

    def _publish_tickers(self) -> None:
        if self.flow.control.frozen:
            return
        if self.okx_streams is not None:
            self.okx_streams.publish_tickers()
            return
        now = utc_ms(self.clock.now())
        tickers, minis = [], []
        for symbol in self.venue.symbols:
            t = self.ticker(symbol, now)
            low = symbol.lower()
            ticker = {
                "e": "24hrTicker",
                "E": now,
                "s": symbol,
                "p": t["priceChange"],
                "P": t["priceChangePercent"],
                "w": t["weightedAvgPrice"],
                "x": t["prevClosePrice"],
                "c": t["lastPrice"],
                "Q": "0.00000000",
                "b": t["bidPrice"],
                "B": t["bidQty"],
                "a": t["askPrice"],
                "A": t["askQty"],
                "o": t["openPrice"],
                "h": t["highPrice"],
                "l": t["lowPrice"],
                "v": t["volume"],
                "q": t["quoteVolume"],
                "O": t["openTime"],
                "C": t["closeTime"],
                "F": 0,
                "L": 0,
                "n": t["count"],
            }
            mini = {
                "e": "24hrMiniTicker",
                "E": now,
                "s": symbol,
                "c": t["lastPrice"],
                "o": t["openPrice"],
                "h": t["highPrice"],
                "l": t["lowPrice"],
                "v": t["volume"],
                "q": t["quoteVolume"],
            }
            self.streams.publish(f"{low}@ticker", ticker)
            self.streams.publish(f"{low}@miniTicker", mini)
            tickers.append(ticker)
            minis.append(mini)
        self.market_streams.all_market(tickers, minis)
        self.market_streams.klines()
        self.market_streams.partial_books(fast=False)
