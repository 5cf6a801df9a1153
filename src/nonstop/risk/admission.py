"""The last checks before a `Place` intent becomes an order: not halted, the journal takes writes, a
trading venue, a trusted consensus price at that moment, a listed instrument within its filters;
then pre-trade risk (`PreTradeRisk`, invariant 14), which journals a refusal with the rule's numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from nonstop.execution.order_manager import OrderManager
from nonstop.risk.gate import PreTradeRisk
from nonstop.risk.rules import OrderProposal

if TYPE_CHECKING:
    from nonstop.data.consensus import ConsensusQuote
    from nonstop.model import ClientOrderId, Event
    from nonstop.strategy.base import Place
    from nonstop.venues.port import VenuePort


class OrderAdmission:
    """`refusal(intent)` says why an intent may not be sent ("" when it may); `admit` runs pre-trade risk."""

    def __init__(
        self,
        risk: PreTradeRisk,
        manager: OrderManager,
        venues: Mapping[str, VenuePort],
        latest: Callable[[str], ConsensusQuote],
        *,
        strategy_id: str,
        halted: Callable[[], str | None],
        journal_unwritable: Callable[[], bool],
    ) -> None:
        self.risk = risk
        self.manager = manager
        self.venues = venues
        self.latest = latest
        self.strategy_id = strategy_id
        self.halted = halted
        self.journal_unwritable = journal_unwritable

    def refusal(self, intent: Place) -> str:
        halted = self.halted()
        if halted is not None:
            return f"halted: {halted}"
        if self.journal_unwritable():
            return "the journal takes no writes"
        venue = self.venues.get(intent.instrument_id.venue)
        if venue is None:
            return f"{intent.instrument_id.venue} is not a trading venue"
        consensus = self.latest(intent.instrument_id.symbol)
        if not consensus.trusted:
            return f"no trustworthy price: {consensus.reason}"
        instrument = venue.instruments().get(intent.instrument_id)
        if instrument is None:
            return f"{intent.instrument_id} is not listed"
        problems = instrument.check(intent.quantity, intent.price)
        return f"filters: {problems}" if problems else ""

    async def admit(self, intent: Place, *, reduce_only: bool,
                    note: Callable[[ClientOrderId], Event] | None = None) -> bool:
        """Pre-trade risk for this strategy's order (False: refused, journaled by the gate with `note`)."""
        proposal = OrderProposal(self.strategy_id, intent.instrument_id, intent.side, intent.quantity, intent.price,
                                 intent.order_type)
        return await self.risk.admit(self.manager, proposal, reduce_only=reduce_only, note=note)  # invariant 14
