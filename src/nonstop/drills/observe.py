"""Looks at the engine (its HTTP API) and the market (the simulator's control API) every
`interval_s` while the drill runs, and keeps what it saw as `Sample`s.

A look that gets no answer within its timeout is a sample with `up=False` (the engine killed,
restarting, or stuck): that is data, not an error.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from nonstop.drills.scorecard import Sample

LOOK_TIMEOUT_S = 1.0


@dataclass
class Target:
    """What to look at; the runner swaps `engine_api` when it restarts the engine."""

    engine_api: str | None
    control: str
    venue: str
    symbol: str  # e.g. BTC/USDT

    @property
    def venue_symbol(self) -> str:
        return self.symbol.replace("/", "")


def sample_from(t: float, snap: dict[str, Any] | None, market: dict[str, Any] | None, target: Target) -> Sample:
    """A Sample from the engine's /api/snapshot document and the simulator's /control/venues."""
    price = None
    if market is not None:
        last = market.get(target.venue, {}).get("last", {}).get(target.venue_symbol)
        fair = market.get(target.venue, {}).get("fair", {}).get(target.venue_symbol)
        raw = last or fair
        price = Decimal(raw) if raw else None
    if snap is None:
        return Sample(t, False, price=price)
    venue = next((v for v in snap.get("venues", []) if v.get("name") == target.venue), None)
    endpoints = venue.get("endpoints", []) if venue else []
    breakers_closed = (
        bool(venue)
        and venue.get("breaker") in ("closed", "unknown")
        and all(e.get("breaker") == "closed" for e in endpoints)
    )
    healthy = all(e.get("health") == "healthy" for e in endpoints)
    position = sum(
        (
            Decimal(p["quantity"])
            for p in snap.get("positions", [])
            if p.get("venue") == target.venue and p.get("instrument", "").endswith(target.symbol)
        ),
        Decimal(0),
    )
    orders = sum(1 for o in snap.get("orders", []) if o.get("venue") == target.venue)
    return Sample(
        t,
        True,
        phase=snap.get("status", {}).get("phase", ""),
        level=snap.get("degradation", {}).get("level", "unknown"),
        breakers_closed=breakers_closed,
        endpoints_healthy=healthy,
        open_orders=orders,
        position=position,
        price=price,
    )


@dataclass
class Observer:
    target: Target
    interval_s: float = 0.5
    samples: list[Sample] = field(default_factory=list)

    async def _get(self, session: aiohttp.ClientSession, url: str) -> Any:
        try:
            async with asyncio.timeout(LOOK_TIMEOUT_S), session.get(url) as resp:
                if resp.status != 200:
                    return None
                return await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def look(self, session: aiohttp.ClientSession) -> Sample:
        api = self.target.engine_api
        snap, market = await asyncio.gather(
            self._get(session, f"{api}/api/snapshot") if api else asyncio.sleep(0, None),
            self._get(session, f"{self.target.control}/control/venues"),
        )
        sample = sample_from(time.time(), snap, market, self.target)
        self.samples.append(sample)
        return sample

    async def run(self) -> None:
        """Look every `interval_s` until cancelled."""
        async with aiohttp.ClientSession() as session:
            while True:
                await self.look(session)
                await asyncio.sleep(self.interval_s)

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None
