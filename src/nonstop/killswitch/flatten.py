"""Flatten: close every position of the instance with reduce-only IOC limit orders priced inside the
price collar (half the collar through the consensus mid; the rule is `closing`, shared with the
watchdog), a few rounds, and report what is left.

Each order passes pre-trade risk like any other (invariant 14): it shrinks exposure, so the position
and daily-loss limits let it through, and its price is inside the collar by construction. A position
below the venue's minimum quantity or notional (dust) is left and reported, never rounded up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from nonstop.clock import Clock
from nonstop.execution.order_manager import OrderManager
from nonstop.killswitch.closing import closing_order, within_a_step
from nonstop.model import EngineState, InstrumentId, OrderType, TimeInForce
from nonstop.risk.gate import PreTradeRisk
from nonstop.risk.rules import OrderProposal
from nonstop.venues.port import VenuePort

log = structlog.get_logger("nonstop.killswitch")

FLATTEN_STRATEGY = "flat"  # the strategy id of flatten orders (their client ids: ns-<instance>-flat-<seq>)
ROUNDS = 3
ROUND_WAIT_S = 5.0


@dataclass
class FlattenReport:
    sent: list[str] = field(default_factory=list)  # client order ids of the flatten orders
    left: dict[str, Decimal] = field(default_factory=dict)  # positions of at least one lot step not closed
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.left and not self.problems

    @property
    def detail(self) -> str:
        done = "flat" if not self.left else f"left {', '.join(f'{k} {v}' for k, v in self.left.items())}"
        problems = f"; {'; '.join(self.problems)}" if self.problems else ""
        return f"flatten: {len(self.sent)} order(s), {done}{problems}"


async def flatten(
    *,
    state: EngineState,
    manager: OrderManager,
    risk: PreTradeRisk,
    venues: Mapping[str, VenuePort],
    mid: Callable[[str], Decimal | None],
    clock: Clock,
    collar_bps: Decimal | None,
    rounds: int = ROUNDS,
    round_wait_s: float = ROUND_WAIT_S,
) -> FlattenReport:
    report = FlattenReport()
    for _ in range(rounds):
        report.problems.clear()
        placed = []
        for key, position in sorted(state.positions.items()):
            iid = InstrumentId.parse(key)
            venue = venues.get(iid.venue)
            instrument = venue.instruments().get(iid) if venue is not None else None
            if instrument is None:
                continue
            order = closing_order(position, instrument, mid(iid.symbol), collar_bps)
            if order is None:
                continue
            if isinstance(order, str):
                report.problems.append(f"{key}: {order}")
                continue
            side, qty, price = order.side, order.quantity, order.price
            proposal = OrderProposal(FLATTEN_STRATEGY, iid, side, qty, price)
            if not await risk.admit(manager, proposal, reduce_only=True):
                report.problems.append(f"{key}: refused by pre-trade risk")
                continue
            cid = await manager.place(FLATTEN_STRATEGY, iid, side, qty, price, order_type=OrderType.LIMIT,
                                      time_in_force=TimeInForce.IOC, reduce_only=True)
            log.warning("flatten_order", client_order_id=cid.value, instrument=key, side=str(side), quantity=str(qty),
                        price=str(price))
            report.sent.append(cid.value)
            placed.append(cid)
        if not placed:
            break
        deadline = clock.monotonic() + round_wait_s
        while clock.monotonic() < deadline and any(state.order(c).state.is_open for c in placed):
            await clock.sleep(0.05)  # IOC orders settle from the submit answer or the user stream
    report.left = {k: v for k, v in sorted(state.positions.items()) if not _within_a_step(k, v, venues)}
    log.warning("flattened", orders=len(report.sent), left={k: str(v) for k, v in report.left.items()},
                problems=report.problems)
    return report


def _within_a_step(key: str, position: Decimal, venues: Mapping[str, VenuePort]) -> bool:
    iid = InstrumentId.parse(key)
    venue = venues.get(iid.venue)
    return within_a_step(position, venue.instruments().get(iid) if venue is not None else None)
