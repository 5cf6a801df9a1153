"""`RetrievedFutures`: a mixin for our ccxt.pro client classes so that no websocket future ccxt hands
out, or spawns, ends as asyncio's plain "Future exception was never retrieved" at garbage collection.

Where they come from: ccxt.pro parks futures in each websocket client (`client.future(hash)`) for
callers that may or may not come — e.g. `authenticate:signature:spot`, created for a concurrent
user-data subscriber while the WebSocket API connection is dialled. When the dial fails (a refused
reconnect: 503, maintenance, a dropped venue), ccxt rejects every parked future; one nobody awaited
keeps its exception unretrieved, and asyncio prints it as a plain traceback between our JSON lines.
The same holds for the wrapper future `spawn` returns for ccxt's background jobs (order-book
snapshots, keep-alives), which ccxt itself never awaits.

The fix, in ccxt's own manner (its `Future.race` does the same for race losers): every such future
gets a done-callback that retrieves its exception. Awaiters still receive it exactly as before —
retrieving only marks it consumed. A failed background job is logged here as a structured line.
Why a per-client wrapper of `future`: ccxt builds its `Client` objects inside `Exchange.client()`,
with no factory to plug a subclass into, so the one seam is the returned instance.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

__all__ = ["RetrievedFutures"]

log = structlog.get_logger("nonstop.venues.ccxt")


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _retrieve_logged(fut: asyncio.Future[Any]) -> None:
    if fut.cancelled():
        return
    err = fut.exception()
    if err is not None:
        log.info("ccxt_background_failed", error=f"{type(err).__name__}: {err}"[:300])


class RetrievedFutures:
    """Mix in before the ccxt.pro exchange class: `class X(RetrievedFutures, ccxt_pro.binance)`."""

    def client(self, url: str) -> Any:
        client = super().client(url)  # type: ignore[misc]
        if not getattr(client, "_nonstop_retrieves", False):
            make = client.future

            def future(message_hash: Any) -> Any:
                fut = make(message_hash)
                fut.remove_done_callback(_retrieve)  # one callback per future, however often it is handed out
                fut.add_done_callback(_retrieve)
                return fut

            client.future = future
            client._nonstop_retrieves = True
        return client

    def spawn(self, method: Any, *args: Any) -> Any:
        fut = super().spawn(method, *args)  # type: ignore[misc]
        fut.add_done_callback(_retrieve_logged)
        return fut
