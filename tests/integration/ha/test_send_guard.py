"""The order manager asks `may_send()` before any submit or cancel leaves: a refusal sends nothing
(the simulator receives no request) and leaves the order as journaled, for the leader to settle."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.errors import NotLeader
from nonstop.model import OrderState, Side
from tests.enginekit import rig
from tests.simkit import running_sim


async def test_send_guard_refusal_sends_nothing_and_keeps_the_intent(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        quote = await r.venue.quote(r.btc)
        assert quote.bid is not None
        leading = True
        r.manager.may_send = lambda: leading
        far = (quote.bid * Decimal("0.9")).quantize(Decimal("0.01"))  # rests (bid - 50 could meet a moving market)
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), far)
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED
        received = len(sim.venues["alpha"].venue.received)
        leading = False  # the lease's own deadline passed
        with pytest.raises(NotLeader):
            await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), far - 10)
        with pytest.raises(NotLeader):
            await r.manager.cancel(cid)
        assert len(sim.venues["alpha"].venue.received) == received  # not one more order request
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED  # the cancel never left either
        refused = [o for o in r.recorder.state.orders.values() if o.client_order_id != cid]
        assert [o.state for o in refused] == [OrderState.SUBMITTING]  # journaled: the next leader settles it
        leading = True
        await r.manager.cancel(cid)
