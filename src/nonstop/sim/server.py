"""`SimServer`: N named venues, each served on M endpoint ports, plus the control API port."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from nonstop.clock import Clock, LiveClock
from nonstop.config import DEMO_CREDENTIALS, Credentials, SimSettings
from nonstop.errors import SimulatorError
from nonstop.sim.control import make_control_app
from nonstop.sim.dialects import make_app
from nonstop.sim.faults import FaultRegistry
from nonstop.sim.persistence import StateKeeper
from nonstop.sim.runtime import VenueRuntime
from nonstop.venues.binance_profile import BINANCE
from nonstop.venues.profile import Network

log = structlog.get_logger("nonstop.sim")
__all__ = ["DEMO_CREDENTIALS", "SimServer", "ccxt_config"]


def ccxt_config(base_url: str, api_key: str, secret: str) -> dict[str, Any]:
    """The ccxt `binance` config that points the unmodified client at a simulator endpoint: ccxt's own
    URL set at the simulator's host (`nonstop.venues.profile`, the `sim` network), as the engine uses."""
    return BINANCE.ccxt_config(BINANCE.pointed_at(Network.SIM, base_url), api_key, secret)


class SimServer:
    """Start with `async with SimServer(settings):` or `await start()` / `await stop()`."""

    def __init__(
        self,
        settings: SimSettings,
        clock: Clock | None = None,
        *,
        state_dir: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self.faults = FaultRegistry(self.clock, {v.name: len(v.ports) for v in settings.venues}, settings.seed)
        self.venues = {v.name: VenueRuntime(v, settings, self.clock, self.faults) for v in settings.venues}
        self.credentials = Credentials.from_env("NONSTOP_SIM", default=DEMO_CREDENTIALS)
        for v in settings.venues:
            self.venues[v.name].venue.add_account(self.credentials.api_key, self.credentials.secret,
                                                  dict(v.starting_balances or settings.starting_balances),
                                                  self.credentials.passphrase)
        # orders, trades, balances and the market's position survive restarts when given a folder
        self.keeper = (
            StateKeeper(state_dir, {n: (rt.venue, rt.flow) for n, rt in self.venues.items()})
            if state_dir is not None else None
        )
        self.ssl_context = ssl_context  # venue endpoints serve https and wss with it (the control API stays http)
        self.control_url = ""
        self._runners: list[web.AppRunner] = []
        self._tasks: asyncio.TaskGroup | None = None
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        host = self.settings.host
        if self.keeper is not None:
            self.keeper.load()
        try:
            for v in self.settings.venues:
                rt = self.venues[v.name]
                for index, port in enumerate(v.ports):
                    bound = await self._serve(make_app(rt, index), host, port, self.ssl_context)
                    rt.urls.append(f"{'https' if self.ssl_context else 'http'}://{host}:{bound}")
            bound = await self._serve(make_control_app(self), host, self.settings.control_port)
            self.control_url = f"http://{host}:{bound}"
        except OSError as err:
            await self.stop()
            raise SimulatorError(f"cannot listen on {host}: {err.strerror} (is another simulator running?)") from None
        self._loops = [asyncio.create_task(rt.run(), name=f"sim-{name}") for name, rt in self.venues.items()]
        if self.keeper is not None:
            self.keeper.start()
        log.info(
            "sim_started",
            control=self.control_url,
            venues={n: rt.urls for n, rt in self.venues.items()},
            seed=self.settings.seed,
        )

    async def _serve(self, app: web.Application, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=tls)
        await site.start()
        server = site._server
        sockets: Sequence[Any] = server.sockets if server is not None else []  # type: ignore[attr-defined]
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        if self.keeper is not None:
            await self.keeper.stop()
        for rt in self.venues.values():
            rt.streams.drop(None, "shutdown")
            if rt.okx_streams is not None:
                rt.okx_streams.drop(None, "shutdown")
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners = []

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def ccxt_config(
        self, venue: str, endpoint: int = 0, *, api_key: str | None = None, secret: str | None = None,
        passphrase: str | None = None,
    ) -> dict[str, Any]:
        """The config that points the unmodified ccxt client of the venue's dialect at one endpoint."""
        rt = self.venues[venue]
        key, sec = api_key or self.credentials.api_key, secret or self.credentials.secret
        if rt.dialect == "okx":
            from nonstop.venues.okx_profile import OKX

            return OKX.ccxt_config(OKX.pointed_at(Network.SIM, rt.urls[endpoint]), key, sec,
                                   passphrase if passphrase is not None else self.credentials.passphrase)
        return ccxt_config(rt.urls[endpoint], key, sec)

    def add_api_key(self, account_key: str, api_key: str, secret: str, label: str) -> None:
        """Give an existing account one more key pair on every venue; its orders record `label` as sender."""
        for rt in self.venues.values():
            rt.venue.add_api_key(account_key, api_key, secret, label)

    def add_account(self, api_key: str, secret: str, balances: dict[str, Decimal] | None = None) -> None:
        """Open the same account (key pair and balances) on every venue."""
        for rt in self.venues.values():
            rt.venue.add_account(api_key, secret, dict(balances or self.settings.starting_balances))
