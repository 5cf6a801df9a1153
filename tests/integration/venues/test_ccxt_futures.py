"""Failed websocket reconnects leave no unretrieved future behind (asyncio would print each as a plain
"Future exception was never retrieved" traceback): the real adapter and ccxt.pro, the simulator
refusing the reconnects."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from nonstop.connectivity import ConnectivityError
from tests.integration.venues.kit import venue_on
from tests.simkit import running_sim, set_fault

pytestmark = pytest.mark.timeout(60)


async def test_refused_user_stream_reconnects_leave_no_unretrieved_future() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        async with running_sim(venues=1) as sim, venue_on(sim) as rec:
            await set_fault(sim, "ws_disconnect")  # every websocket handshake answered 503
            for _ in range(3):  # fills and order updates subscribe at once, as the engine does
                results = await asyncio.gather(
                    rec.venue.watch_fills(), rec.venue.watch_order_updates(), return_exceptions=True
                )
                assert all(isinstance(r, ConnectivityError) for r in results), results
            client = rec.venue.market_data_client()
            try:
                for _ in range(3):
                    with pytest.raises(ccxt_async.NetworkError):  # the refused dial
                        await asyncio.wait_for(client.watch_order_book("BTC/USDT", 5), 15)
            finally:
                await client.close()
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    leaked = [c for c in reported if "never retrieved" in str(c.get("message"))]
    assert not leaked, leaked
