"""Sim mode: the one place outside the simulator that starts it (the sim-mode starter).

The engine calls `start_embedded_sim` only for a sim-only or a paper config (`engine.runs_embedded_sim`:
every venue is `sim` without urls, or `paper`); the CLI's simulator command calls `serve_simulator`.
Paper trading (`network = "paper"`) is by definition this simulator: its venues mirror real venues'
public data (`nonstop.sim.paper`), and the engine reaches them at loopback only. Nothing else in
the engine imports the simulator: a `sim` or `paper` venue is reached through the same venue profile
and adapter as a real one, at loopback hosts. The simulator keeps its state under `<data_dir>/sim/`
(`<data_dir>/paper/` for paper), so a restarted engine finds the orders, trades and balances a real
exchange would still have.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nonstop.clock import Clock
from nonstop.config import Settings


def sim_state_dir(settings: Settings) -> Path:
    """Where the embedded simulator keeps its state between runs (the paper account's: `paper/`)."""
    return settings.data_dir / ("paper" if settings.engine.runs_paper else "sim")


async def start_embedded_sim(settings: Settings, clock: Clock, stack: contextlib.AsyncExitStack) -> Any:
    """Start the in-process simulator (stopped, and its state saved, when `stack` unwinds); returns
    the running `SimServer` (its `venues[name].urls` are the loopback endpoints)."""
    from nonstop.sim.server import SimServer

    if settings.engine.runs_paper:  # the paper venues' simulator, mirroring the real venues' public data
        from nonstop.sim.paper import paper_sim_settings

        sim = SimServer(await paper_sim_settings(settings), clock, state_dir=sim_state_dir(settings))
    else:
        sim = SimServer(settings.sim, clock, state_dir=sim_state_dir(settings))
    await sim.start()
    stack.push_async_callback(sim.stop)
    return sim


def sim_urls(sim: Any) -> dict[str, list[str]]:
    """Venue name -> endpoint base URLs of a running simulator (empty without one)."""
    return {} if sim is None else {name: list(rt.urls) for name, rt in sim.venues.items()}


async def serve_simulator(
    settings: Settings, duration: float | None, state_dir: Path | None, announce: Callable[[dict[str, Any]], None]
) -> None:
    """Run the standalone simulator until cancelled or `duration` passes; `state_dir` keeps its state."""
    from nonstop.sim.server import SimServer

    async with SimServer(settings.sim, state_dir=state_dir) as server:
        announce({"control": server.control_url, "venues": sim_urls(server)})
        await asyncio.sleep(duration if duration is not None else float("inf"))
