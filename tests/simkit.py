"""Shared test builders: a simulator on free loopback ports and ccxt clients pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from nonstop.config import SimRateLimits, SimSettings, SimVenue
from nonstop.sim.server import SimServer

# The default symbols made wild (5 bps per tick instead of BTC's calibrated 1-minute figure): for tests
# whose strategies must re-quote and fill within seconds (engine, crash tests); a config away, as documented
WILD_SYMBOLS = [s.model_copy(update={"volatility_1m_bps": None}) for s in SimVenue(name="wild", ports=[0]).symbols]
WILD_SYMBOLS_TOML = "symbols = [" + ", ".join(
    f'{{ base = "{s.base}", quote = "{s.quote}", start_price = "{s.start_price}", tick_size = "{s.tick_size}", '
    f'step_size = "{s.step_size}", min_qty = "{s.min_qty}" }}' for s in WILD_SYMBOLS
) + "]\n"


def sim_settings(
    *, venues: int = 2, endpoints: int = 3, tick_ms: int = 50, seed: int = 7, rate_limits: SimRateLimits | None = None
) -> SimSettings:
    names = ["alpha", "beta", "gamma", "delta"][:venues]
    return SimSettings(
        control_port=0,
        seed=seed,
        tick_ms=tick_ms,
        venues=[SimVenue(name=n, ports=[0] * endpoints) for n in names],
        rate_limits=rate_limits or SimRateLimits(),
    )


@asynccontextmanager
async def running_sim(**kwargs: Any) -> AsyncIterator[SimServer]:
    async with SimServer(sim_settings(**kwargs)) as sim:
        yield sim


@asynccontextmanager
async def _client(
    factory: Any, sim: SimServer, venue: str, endpoint: int, overrides: dict[str, Any]
) -> AsyncIterator[Any]:
    config = sim.ccxt_config(venue, endpoint)
    config.update(overrides)
    client = factory(config)
    try:
        yield client
    finally:
        await client.close()


def rest_client(
    sim: SimServer, venue: str = "alpha", endpoint: int = 0, **overrides: Any
) -> AbstractAsyncContextManager[ccxt_async.binance]:
    """The unmodified ccxt async client on one simulator endpoint (overrides merged into its config)."""
    return _client(ccxt_async.binance, sim, venue, endpoint, overrides)


def pro_client(
    sim: SimServer, venue: str = "alpha", endpoint: int = 0, **overrides: Any
) -> AbstractAsyncContextManager[ccxt_pro.binance]:
    """The unmodified ccxt.pro client (REST and websockets) on one simulator endpoint."""
    return _client(ccxt_pro.binance, sim, venue, endpoint, overrides)


async def control(sim: SimServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the simulator's control API over HTTP, as the `nonstop chaos` CLI does."""
    async with aiohttp.ClientSession() as session, session.request(method, sim.control_url + path, json=body) as resp:
        data = await resp.json()
        if resp.status >= 400:
            raise AssertionError(f"control API {method} {path} -> {resp.status}: {data}")
        return data


async def set_fault(sim: SimServer, kind: str, venue: str = "alpha", **fields: Any) -> dict[str, Any]:
    return await control(sim, "POST", "/control/faults", {"kind": kind, "venue": venue, **fields})


def user_stream_subscribed(
    sim: SimServer, venue: str = "alpha", *, endpoints: Collection[int] | None = None, channels: tuple[str, ...] = ()
) -> bool:
    """Whether the simulator holds a websocket subscribed to an account's own events on `venue` (on
    one of `endpoints` if given; OKX: logged in, with each of `channels` subscribed). A test waits on this before
    it trades, so the stream cannot miss the order's events, instead of sleeping a guessed time."""
    rt = sim.venues[venue]
    hub = rt.okx_streams if rt.okx_streams is not None else rt.streams
    return any(
        c.account is not None and (endpoints is None or c.endpoint in endpoints)
        and all(any(s.startswith(f"{ch}:") for s in c.streams) for ch in channels)
        for c in hub.connections
    )


async def until_user_stream_subscribed(
    sim: SimServer, venue: str = "alpha", *, endpoints: Collection[int] | None = None,
    channels: tuple[str, ...] = (), within: float = 15.0,
) -> None:
    """Wait until `user_stream_subscribed` holds (a time box, generous: it holds in milliseconds alone)."""
    deadline = asyncio.get_running_loop().time() + within
    while not user_stream_subscribed(sim, venue, endpoints=endpoints, channels=channels):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no user stream subscribed on {venue} within {within} s")
        await asyncio.sleep(0.01)


def okx_settings(*, endpoints: int = 2, tick_ms: int = 50, seed: int = 7) -> SimSettings:
    """One OKX-dialect venue ("okx") beside one Binance-dialect venue ("alpha")."""
    return SimSettings(
        control_port=0,
        seed=seed,
        tick_ms=tick_ms,
        venues=[SimVenue(name="okx", ports=[0] * endpoints, dialect="okx"), SimVenue(name="alpha", ports=[0])],
    )


@asynccontextmanager
async def running_okx_sim(**kwargs: Any) -> AsyncIterator[SimServer]:
    async with SimServer(okx_settings(**kwargs)) as sim:
        yield sim


def okx_rest_client(
    sim: SimServer, venue: str = "okx", endpoint: int = 0, **overrides: Any
) -> AbstractAsyncContextManager[ccxt_async.okx]:
    """The unmodified ccxt async `okx` client on one OKX-dialect endpoint."""
    return _client(ccxt_async.okx, sim, venue, endpoint, overrides)


def okx_pro_client(
    sim: SimServer, venue: str = "okx", endpoint: int = 0, **overrides: Any
) -> AbstractAsyncContextManager[ccxt_pro.okx]:
    """The unmodified ccxt.pro `okx` client (REST and websockets) on one OKX-dialect endpoint."""
    return _client(ccxt_pro.okx, sim, venue, endpoint, overrides)
