"""The orderly stop: once trading has begun (and the strategy stopped: no new intents), wait a bounded
time for the answers of the submits and cancels in flight (`OrderManager.drain`: what is still
unanswered is IN DOUBT, settled by the final reconcile; a second SIGINT/SIGTERM ends the wait at
once), cancel our open orders (if configured), then reconcile one last time, each time-boxed; never
raises. A stop before trading began leaves the venue untouched (start-up reconciliation had not
settled it yet); a fenced engine leaves the orders to the new holder; with the journal unwritable,
what rests is canceled unjournaled (the next start reconciles)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from nonstop.connectivity.errors import ConnectivityError
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.recorder import Recorder
from nonstop.outage import JournalOutageGuard
from nonstop.supervision.reconciling import ReconcileLoop

log = structlog.get_logger("nonstop.engine")
STOP_ROUNDS = 3
STOP_CANCEL_TIMEOUT_S = 10.0


async def stop_trading(
    manager: OrderManager,
    recorder: Recorder,
    *,
    instance: str,
    cancel_on_stop: bool,
    wait_s: float,
    began_trading: bool,
    may_send: bool,
    guard: JournalOutageGuard | None,
    final: ReconcileLoop | None,
) -> None:
    """See the module docstring. `wait_s` bounds the wait for the answers in flight; `may_send` is
    False once this engine lost the HA lease; `final` is None when the strategy never ran (no last
    reconcile)."""
    manager.stopping = True  # a lookup during the stop never re-sends an order
    fenced = recorder.lost is not None or not may_send
    if not began_trading or fenced:  # fenced: the orders are the new holder's
        return
    if recorder.unwritable is not None and guard is not None:
        # nothing can be recorded: cancel what rests (unjournaled); the next start reconciles
        if cancel_on_stop:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_CANCEL_TIMEOUT_S):
                    await guard.contain()
        log.warning("stopped_with_journal_unwritable", error=str(recorder.unwritable))
        return
    await manager.drain(wait_s)
    state = recorder.state
    for _ in range(STOP_ROUNDS):  # a submit cut short by the stop settles in the reconcile: cancel it too
        mine = [o for o in state.open_orders() if o.client_order_id.instance == instance]
        if cancel_on_stop and mine:
            try:
                async with asyncio.timeout(STOP_CANCEL_TIMEOUT_S):
                    for order in mine:
                        await manager.cancel(order.client_order_id)
            except TimeoutError:
                log.warning("stop_cancel_timed_out", still_open=len(state.open_orders()))
            except ConnectivityError as err:
                log.warning("stop_cancel_failed", error=str(err))
        if final is not None:
            await final.final(STOP_CANCEL_TIMEOUT_S)
        if not cancel_on_stop or not state.open_orders():
            break
    log.info("stopped", open_orders=len(state.open_orders()), last_seq=state.last_seq)
