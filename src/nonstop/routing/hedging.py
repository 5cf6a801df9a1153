"""Routed orders as the trading loop sends them (M12): a `Place` for the `auto` venue goes to the
router's choice among the venues with a good book, and exposure stranded on a downed venue is
hedged and unwound (the `hedge` policy) with IOC orders priced off the consensus, each through the
same admission and pre-trade risk as any order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal

import structlog

from nonstop.data.consensus import ConsensusQuote, SourceStatus
from nonstop.execution.order_manager import OrderManager
from nonstop.model import ANY_VENUE, ClientOrderId, Instrument, InstrumentId, RouteDecided, Side, TimeInForce
from nonstop.risk.admission import OrderAdmission
from nonstop.routing.router import Router
from nonstop.strategy.base import Place

log = structlog.get_logger("nonstop.trading")
RouteNote = Callable[[ClientOrderId], RouteDecided]


def route_place(
    router: Router, latest: Callable[[str], ConsensusQuote], intent: Place
) -> tuple[Place, RouteNote | None]:
    """The routed venue for `intent` (M12) and the journal note of the decision (None: no venue)."""
    symbol = intent.instrument_id.symbol
    books = {q.source: (q.bid, q.ask) for q in latest(symbol).quality if q.status is SourceStatus.OK}
    decision = router.route(symbol, intent.side, intent.quantity, intent.price, books)
    if decision.venue is None:
        return intent, None
    routed = replace(intent, instrument_id=InstrumentId(decision.venue, symbol))
    return routed, lambda cid: router.event(cid, symbol, decision)


class StrandedHedging:
    """One `step` per ladder tick: the router's hedge and unwind orders for stranded exposure, sent."""

    def __init__(
        self,
        router: Router,
        latest: Callable[[str], ConsensusQuote],
        admission: OrderAdmission,
        manager: OrderManager,
        *,
        strategy_id: str,
        slippage_bps: Decimal,
    ) -> None:
        self.router = router
        self.latest = latest
        self.admission = admission
        self.manager = manager
        self.strategy_id = strategy_id
        self.slippage_bps = slippage_bps
        self.sent = 0  # stranded-exposure hedges and unwinds sent

    async def step(self, instruments: Mapping[InstrumentId, Instrument], *, halted: str | None,
                   journal_unwritable: bool) -> None:
        steps = {i.symbol: x.step_size for i, x in instruments.items()}
        for order in self.router.stranded_step(steps):
            consensus = self.latest(order.symbol)
            if halted is not None or journal_unwritable or not consensus.trusted:
                log.warning("hedge_deferred", reason=order.reason, consensus=consensus.reason, halted=halted)
                return
            assert consensus.mid is not None
            slip = self.slippage_bps / Decimal(10_000)
            price = consensus.mid * (1 + slip if order.side is Side.BUY else 1 - slip)
            place = Place(InstrumentId(order.venue or ANY_VENUE, order.symbol), order.side, order.quantity,
                          price, time_in_force=TimeInForce.IOC)
            if order.venue is None:
                place, routed = route_place(self.router, self.latest, place)
                if routed is None:
                    log.warning("hedge_unroutable", reason=order.reason)
                    continue
                note = self.router.hedge_note(routed, order.reason)
            else:
                note = self.router.hedge_note(None, order.reason, order.symbol, order.venue)
            place = replace(place, price=instruments[place.instrument_id].round_price(price, order.side))
            why = self.admission.refusal(place)
            if why:
                log.warning("hedge_refused", reason=order.reason, refusal=why)
                continue
            if not await self.admission.admit(place, reduce_only=order.reduce_only, note=note):  # invariant 14
                log.warning("hedge_refused", reason=order.reason, refusal="pre-trade risk")
                continue
            cid = await self.manager.place(
                self.strategy_id, place.instrument_id, place.side, place.quantity, place.price,
                time_in_force=TimeInForce.IOC, reduce_only=order.reduce_only, note=note)
            self.sent += 1
            log.warning("hedge_placed", client_order_id=cid.value, reason=order.reason, venue=place.instrument_id.venue)
            self.router.hedges.placed(order, cid.value, place.instrument_id.venue)
