"""`CcxtVenue`: what every ccxt-backed adapter shares — one ccxt client per endpoint base URL behind
one `VenueGateway` (venue breaker -> rate limiter -> endpoint pool -> retry), the venue's own error
vocabulary (`VenueCodes`) handed to every classification, the sticky user-data stream endpoint, and
the instrument table, and the private streams (order updates, fills: ccxt's `watch_orders` and
`watch_my_trades`, each item parsed by the adapter). Each exchange's adapter (`binance.py`, `okx.py`)
adds its payload parsing, request specs and client-id rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from nonstop.clock import Clock, LiveClock
from nonstop.connectivity import BreakerStateChanged, OperationKind, classify
from nonstop.connectivity.classify import VenueCodes
from nonstop.errors import ConfigError
from nonstop.model import Balance, ClientIdRule, Instrument, InstrumentId
from nonstop.venues.gateway import GatewayConfig, RequestRecord, RequestSpec, VenueGateway
from nonstop.venues.port import Quote, VenueFill, VenueOrderReport
from nonstop.venues.profile import VenueProfile
from nonstop.venues.raw_values import venue_decimal, venue_time

T = TypeVar("T")


class CcxtVenue:
    """The shared plumbing of a venue reached through ccxt at one or more base URLs."""

    codes: VenueCodes
    client_ids: ClientIdRule  # what this venue accepts as a client order id, and how ours travels
    ticker_fields: tuple[str, str, str, str]  # bid, ask, last and time in the venue's raw ticker

    def __init__(
        self,
        name: str,
        ccxt_configs: list[dict[str, Any]],
        *,
        client_class: Callable[[dict[str, Any]], Any],
        base_url: Callable[[Mapping[str, Any]], str],
        timeout_ms: int,
        connectivity: GatewayConfig | None,
        clock: Clock | None,
        profile: VenueProfile | None,
    ) -> None:
        if not ccxt_configs:
            raise ValueError(f"venue {name}: at least one endpoint is needed")
        self.name = name
        urls = [base_url(cfg) for cfg in ccxt_configs]
        if len(set(urls)) != len(urls):
            raise ConfigError(f"venue {name}: endpoint base URLs must be unique, got {urls}")
        self._clients: dict[str, Any] = {
            url: client_class({**cfg, "timeout": timeout_ms, "enableRateLimit": False})
            for url, cfg in zip(urls, ccxt_configs, strict=True)
        }
        self._market_config = ccxt_configs[0]  # the market-data websocket client's (first endpoint)
        self._markets_lock = asyncio.Lock()
        self._timeout_ms = timeout_ms
        self.profile = profile
        self._config = connectivity or GatewayConfig()
        self._clock = clock or LiveClock()
        self._gateway = VenueGateway(name, urls, self._clock, self._config, codes=self.codes)
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._symbols: dict[InstrumentId, str] = {}

    # ------------------------------------------------------------ connectivity
    @property
    def gateway(self) -> VenueGateway:
        """The connectivity stack (pool, breakers, limiter) for metrics, dashboards and tests."""
        return self._gateway

    @property
    def on_breaker_change(self) -> Callable[[BreakerStateChanged], None] | None:
        """Called (synchronously, must not block) on every endpoint or venue breaker state change."""
        return self._gateway.on_breaker_change

    @on_breaker_change.setter
    def on_breaker_change(self, callback: Callable[[BreakerStateChanged], None] | None) -> None:
        self._gateway.on_breaker_change = callback

    @property
    def on_request(self) -> Callable[[RequestRecord], None] | None:
        """Called after every request attempt with its queue wait, duration and outcome."""
        return self._gateway.on_request

    @on_request.setter
    def on_request(self, callback: Callable[[RequestRecord], None] | None) -> None:
        self._gateway.on_request = callback

    def _spec(self, name: str, *, has_symbol: bool = True) -> RequestSpec:
        raise NotImplementedError

    async def _call(self, name: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        return await self._gateway.execute(self._spec(name), lambda url: fn(self._clients[url]))

    async def _watch(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        url = self._gateway.stream_endpoint()
        try:
            result = await fn(self._clients[url])
        except Exception as exc:  # translated at the boundary; cancellation is not an Exception
            err = classify(exc, operation=OperationKind.READ, venue=self.name, endpoint=url, codes=self.codes)
            self._gateway.stream_failed(url, err)
            raise err from exc
        self._gateway.stream_succeeded(url)
        return result

    async def close(self) -> None:
        await self._gateway.stop()
        for client in self._clients.values():
            await client.close()

    def instruments(self) -> dict[InstrumentId, Instrument]:
        return dict(self._instruments)

    def _symbol(self, iid: InstrumentId) -> str:
        if iid.venue != self.name:
            raise ValueError(f"instrument {iid} is not on venue {self.name}")
        return iid.symbol

    async def connect(self) -> None:
        raise NotImplementedError

    def market_data_client(self) -> Any:
        """A ccxt.pro client for the venue's public streams whose REST goes through this gateway."""
        raise NotImplementedError

    async def markets(self) -> dict[str, Any]:
        """ccxt's markets of this venue, loaded through the gateway (`connect`) on first use."""
        first = next(iter(self._clients.values()))
        async with self._markets_lock:
            if not first.markets:
                await self.connect()
        return first.markets  # type: ignore[no-any-return]

    async def balances(self) -> list[Balance]:
        raw = await self._call("fetch_balance", lambda c: c.fetch_balance())
        return self._balances(raw["info"])

    def _balances(self, info: dict[str, Any]) -> list[Balance]:
        """The account's balances from the venue's raw balance answer."""
        raise NotImplementedError

    async def quote(self, instrument_id: InstrumentId) -> Quote:
        t = await self._call("fetch_ticker", lambda c: c.fetch_ticker(self._symbol(instrument_id)))
        bid, ask, last, ts = (t["info"].get(field) for field in self.ticker_fields)
        return Quote(instrument_id, venue_decimal(bid) or None, venue_decimal(ask) or None,
                     venue_decimal(last) or None, venue_time(ts))

    def _stream_iid(self, symbol: str) -> InstrumentId | None:
        iid = InstrumentId(self.name, symbol) if symbol else None
        return iid if iid in self._instruments else None

    # ---------------------------------------------------------------- streams
    async def watch_order_updates(self) -> list[VenueOrderReport]:
        """The next order updates from the private stream (`_stream_report` parses each)."""
        orders = await self._watch(lambda c: c.watch_orders())
        return self._parse_stream(orders, self._stream_report)

    async def watch_fills(self) -> list[VenueFill]:
        """The next executions from the private stream, each trade separately (`_stream_fill` parses each)."""
        trades = await self._watch(lambda c: c.watch_my_trades())
        return self._parse_stream(trades, self._stream_fill)

    def _parse_stream(self, items: list[dict[str, Any]], parse: Callable[[InstrumentId, dict[str, Any]], T | None]
                      ) -> list[T]:
        """Each item of one of our instruments, parsed from its raw payload (`info`); None: passed over."""
        parsed = []
        for item in items:
            iid = self._stream_iid(item.get("symbol", ""))
            if iid is None:
                continue
            one = parse(iid, item.get("info", {}))
            if one is not None:
                parsed.append(one)
        return parsed

    def _stream_report(self, iid: InstrumentId, info: dict[str, Any]) -> VenueOrderReport | None:
        """An order update's raw payload as a report (None: not an order update)."""
        raise NotImplementedError

    def _stream_fill(self, iid: InstrumentId, info: dict[str, Any]) -> VenueFill | None:
        """An execution's raw payload as a fill (None: not a trade)."""
        raise NotImplementedError
