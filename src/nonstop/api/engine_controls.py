"""`EngineControls`: the API's `Controls` port over an engine (the kill switch), and
`create_engine_app`, the one call that builds the whole API for an engine.

With `engine.halt(reason)` the halt is delegated to the engine (it stops its strategy and cancels);
without it, the controls latch the `HaltSwitch`, mark the engine not ready and raise a critical
alert where it has those parts, and cancel every open order through `engine.manager`, time-boxed.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import FastAPI

from nonstop.api.app import create_app
from nonstop.api.engine_source import EngineLike, EngineSource, HaltSwitch
from nonstop.api.views import HaltResult
from nonstop.clock import Clock, LiveClock
from nonstop.errors import NonstopError
from nonstop.model import ClientOrderId
from nonstop.monitor import AlertLevel
from nonstop.monitor.errors import MonitorError

log = structlog.get_logger("nonstop.api.engine")


class EngineControls:
    """`Controls` over an engine: the kill switch."""

    def __init__(self, engine: EngineLike, switch: HaltSwitch, *, cancel_timeout_s: float = 10.0) -> None:
        self._engine = engine
        self.switch = switch
        self._clock: Clock = getattr(engine, "clock", None) or LiveClock()
        self._cancel_timeout_s = cancel_timeout_s
        self._lock = asyncio.Lock()

    async def halt(self, reason: str) -> HaltResult:
        """Halt trading: with `engine.halt`, delegate to it; without, latch the switch, mark the engine
        not ready (and raise a critical alert) if it has readiness (and alerts), and cancel every open
        order through the order manager, time-boxed. Returns what was canceled and what is still open."""
        async with self._lock:
            engine = self._engine
            at = self._clock.now()
            state = engine.state
            before = [o.client_order_id for o in state.open_orders()] if state is not None else []
            self.switch.engage(reason, at)
            engine_halt = getattr(engine, "halt", None)
            detail = ""
            if callable(engine_halt):
                await engine_halt(reason)
                stopped = True
            else:
                stopped = False
                detail = "strategies keep running until the engine honours the halt switch (engine.halt missing)"
                self._announce(reason, len(before))
                detail += await self._cancel_all(before)
            canceled = [c.value for c in before if state is not None and not state.order(c).state.is_open]
            pending = [o.client_order_id.value for o in state.open_orders()] if state is not None else []
            log.warning("halted", reason=reason, canceled=len(canceled), pending=len(pending), strategy_stopped=stopped)
            return HaltResult(
                halted=True,
                reason=reason,
                at=at,
                canceled=canceled,
                pending=pending,
                strategy_stopped=stopped,
                detail=detail,
            )

    def _announce(self, reason: str, open_orders: int) -> None:
        readiness = getattr(self._engine, "readiness", None)
        if readiness is not None:
            readiness.set_trading_enabled(False, f"halted: {reason}")
        alerts = getattr(self._engine, "alerts", None)
        if alerts is not None:
            try:
                alerts.raise_(
                    "trading_halted",
                    AlertLevel.CRITICAL,
                    "Trading halted by the kill switch",
                    f"reason: {reason}; open orders at halt: {open_orders}",
                )
            except MonitorError as err:
                log.error("halt_alert_failed", error=str(err))

    async def _cancel_all(self, cids: list[ClientOrderId]) -> str:
        manager = self._engine.manager
        if manager is None:
            return "; the engine is not trading yet: nothing to cancel"
        failed = 0
        try:
            async with asyncio.timeout(self._cancel_timeout_s):
                for cid in cids:
                    try:
                        await manager.cancel(cid)
                    except NonstopError as err:  # one bad order must not stop the others from being canceled
                        failed += 1
                        log.error("halt_cancel_failed", client_order_id=cid.value, error=repr(err))
        except TimeoutError:
            log.warning("halt_cancel_timed_out", seconds=self._cancel_timeout_s)
            return f"; cancels timed out after {self._cancel_timeout_s:g}s"
        return f"; {failed} cancel(s) failed" if failed else ""


def create_engine_app(
    engine: EngineLike,
    *,
    token: str | None,
    bind_host: str = "127.0.0.1",
    stream_interval_s: float = 1.0,
    sample_interval_s: float = 1.0,
) -> FastAPI:
    """The API and dashboard app for `engine` (what the engine calls; serve it with `serve`)."""
    switch = HaltSwitch()
    source = EngineSource(engine, switch=switch, sample_interval_s=sample_interval_s)
    controls = EngineControls(engine, switch)
    settings = getattr(engine, "settings", None)  # `nonstop drill` writes under <data_dir>/drill by default
    report = settings.data_dir / "drill" / "report.html" if settings is not None else None
    return create_app(source, controls, token=token, bind_host=bind_host, stream_interval_s=stream_interval_s,
                      drill_report=report)
