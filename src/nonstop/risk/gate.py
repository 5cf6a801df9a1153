"""`PreTradeRisk`: the rules on the order path (invariant 14: no order leaves without passing it).

`admit(manager, proposal)` runs `rules.check`; a refused order is journaled as its `OrderIntent`
followed by `OrderRejected` carrying the rule, the limit and the value (it never reaches a venue),
logged, and handed to `on_refusal` (metrics, alerts). A breach that halts (the daily loss limit) is
also watched by `watch_daily_loss`, which pulls the kill switch through the engine's one halt path
even when no order is being attempted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import structlog

from nonstop.clock import Clock
from nonstop.execution.order_manager import OrderManager
from nonstop.model import (
    ClientOrderId,
    EngineState,
    Event,
    InstrumentId,
    Order,
    OrderEvent,
    OrderFilled,
    OrderIntent,
    OrderState,
)
from nonstop.risk.daily_loss import DailyPnl
from nonstop.risk.rules import OrderProposal, OrderRate, Refusal, RiskContext, check, daily_loss_breach
from nonstop.risk.settings import RiskSettings

log = structlog.get_logger("nonstop.risk")

DAILY_LOSS_INTERVAL_S = 1.0

Mid = Callable[[str], Decimal | None]  # the consensus mid of a symbol, None if untrusted
RefusalSink = Callable[[OrderProposal, Refusal], None]


class PreTradeRisk:
    """The risk rules with what they need measured: rates, positions, open orders, the day's PnL."""

    def __init__(self, settings: RiskSettings, state: EngineState, clock: Clock, mid: Mid, *,
                 instance: str, on_refusal: RefusalSink | None = None) -> None:
        self.settings = settings
        self.state = state
        self.clock = clock
        self.mid = mid
        self.instance = instance
        self.on_refusal = on_refusal
        self.daily = DailyPnl(state, clock.now())
        self.refused = 0
        self._rates: dict[str, OrderRate] = {}
        # the open orders, kept by the listener: the state keeps every order ever made, and a scan of
        # them all on every check would grow with the journal (see benchmarks/risk_check.py)
        self._open = {o.client_order_id.value for o in state.open_orders()}

    def on_event(self, event: Event) -> None:
        """Recorder listener: today's fills feed the daily PnL; order events keep the open set."""
        if isinstance(event, OrderFilled):
            self.daily.on_fill(event)
        if isinstance(event, OrderEvent):
            key = event.client_order_id.value
            order = self.state.orders.get(key)
            if order is not None and order.state.is_open:
                self._open.add(key)
            else:
                self._open.discard(key)

    def open_orders(self) -> list[Order]:
        orders = [self.state.orders[k] for k in self._open if k in self.state.orders]
        return [o for o in orders if o.state.is_open and o.client_order_id.instance == self.instance]

    def mark(self, instrument_id: InstrumentId) -> Decimal | None:
        return self.mid(instrument_id.symbol)

    def context(self, proposal: OrderProposal) -> RiskContext:
        now = self.clock.now()
        per_second, per_minute = self._rates.setdefault(proposal.strategy, OrderRate()).counts(now)
        mine = self.open_orders()
        return RiskContext(
            positions=self.state.positions,
            open_orders=mine,
            in_doubt=sum(1 for o in mine if o.state is OrderState.IN_DOUBT),
            mid=self.mid(proposal.instrument_id.symbol),
            orders_last_second=per_second,
            orders_last_minute=per_minute,
            daily_pnl=self.daily.pnl(now, self.mark),
        )

    def check(self, proposal: OrderProposal) -> Refusal | None:
        if not self.settings.enabled:
            return None
        return check(proposal, self.settings.limits_for(proposal.strategy), self.context(proposal))

    async def admit(self, manager: OrderManager, proposal: OrderProposal, *, reduce_only: bool = False,
                    note: Callable[[ClientOrderId], Event] | None = None) -> bool:
        """True if the order may be sent (counted for the rate limits); else it is journaled as
        rejected with the rule's numbers (and `note`, the routing decision, in the same append),
        logged and reported, and False."""
        refusal = self.check(proposal)
        if refusal is None:
            self._rates.setdefault(proposal.strategy, OrderRate()).add(self.clock.now())
            return True
        intent = OrderIntent(
            ts=self.clock.now(),
            client_order_id=manager.ids.next(proposal.strategy),
            instrument_id=proposal.instrument_id,
            side=proposal.side,
            order_type=proposal.order_type,
            quantity=proposal.quantity,
            price=proposal.price,
            reduce_only=reduce_only,
        )
        await manager.reject_before_send(intent, refusal.reason, note=note)
        self.refused += 1
        log.warning("risk_refused", strategy=proposal.strategy, instrument=str(proposal.instrument_id),
                    side=str(proposal.side), quantity=str(proposal.quantity), price=str(proposal.price),
                    rule=refusal.rule, limit=str(refusal.limit), value=str(refusal.value),
                    client_order_id=intent.client_order_id.value)
        if self.on_refusal is not None:
            self.on_refusal(proposal, refusal)
        return False

    def daily_breach(self) -> Refusal | None:
        """The daily loss limit, if today's PnL in a quote currency has reached it (the global limit in that
        currency, or a strategy's own: the tightest)."""
        if not self.settings.enabled:
            return None
        tables = [self.settings, *(self.settings.limits_for(s) for s in self.settings.strategies)]

        def tightest(quote: str) -> Decimal | None:  # the lowest limit any table gives the currency
            return min((x for t in tables if (x := t.daily_loss_limit_in(quote)) is not None), default=None)

        return daily_loss_breach(tightest, self.daily.pnl(self.clock.now(), self.mark))

    async def watch_daily_loss(self, halt: Callable[[str], Awaitable[object]], halted: Callable[[], bool]) -> None:
        """Every second: past the daily loss limit and not yet halted → halt (journaled, alerted)."""
        while True:
            await self.clock.sleep(DAILY_LOSS_INTERVAL_S)
            breach = self.daily_breach()
            if breach is not None and not halted():
                log.critical("daily_loss_limit_breached", limit=str(breach.limit), loss=str(breach.value))
                await halt(f"daily loss limit: loss {breach.value} reached the limit {breach.limit}")



