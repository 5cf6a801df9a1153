"""What a trader watching the console sees: one line per order event and fill, a periodic summary,
and a summary when the engine stops.

A recorder listener (it sees every journaled event, after it is durable), so the lines describe what
the journal holds. The lines are structured log events (`order`, `fill`, `summary`, `stop_summary`):
the console renderer shows them as aligned key=value lines, JSON logs carry the same fields.
PnL is this run's (fills since start), by the average-cost method of `monitor.pnl`, marked at the
consensus mid; amounts are per quote currency, each labelled (`pnl='-5.70 USDT'`; a run that traded in
two shows both, `pnl='-5.70 USDT, +0.00001200 BTC'`: amounts in two currencies are never added up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import structlog

from nonstop.clock import Clock
from nonstop.model import EngineState, InstrumentId
from nonstop.model.events import (
    AlertRecorded,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInDoubt,
    OrderNeverSent,
    OrderRejected,
)
from nonstop.monitor.pnl import StrategyBooks, signed_amount

log = structlog.get_logger("nonstop.console")
SUMMARY_EVERY_S = 30.0
_WHAT = {OrderAccepted: "placed", OrderCanceled: "canceled", OrderExpired: "expired", OrderRejected: "rejected",
         OrderInDoubt: "in_doubt", OrderNeverSent: "never_sent"}
_WRONG = (OrderRejected, OrderInDoubt)  # warnings: the venue refused, or the outcome is unknown
_RAISED = ("raised", "escalated", "reopened")


def _amounts(by_quote: dict[str, Decimal], *, sign: bool = True) -> str:
    return ", ".join(signed_amount(v, q, sign=sign) for q, v in sorted(by_quote.items())) or "0"


class ConsoleReport:
    """Counts and PnL of this run, and the lines the console shows."""

    def __init__(self, state: EngineState, clock: Clock, *, level: Callable[[], str],
                 mark: Callable[[InstrumentId], Decimal | None], interval_s: float = SUMMARY_EVERY_S) -> None:
        self.state = state
        self.clock = clock
        self.level = level
        self.mark = mark
        self.interval_s = interval_s
        self.started = clock.now()
        self.books = StrategyBooks()
        self.counts: Counter[str] = Counter()
        self.incidents: list[str] = []

    # ---- recorder listener ---------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, AlertRecorded):
            if event.transition in _RAISED and event.level in ("critical", "warning"):
                self.incidents.append(f"{event.level}: {event.title}")
            return
        if not isinstance(event, OrderEvent):
            return
        order = self.state.orders.get(event.client_order_id.value)
        if order is None:
            return
        if isinstance(event, OrderFilled):
            self.counts["fills"] += 1
            self.books.fill(event.client_order_id.strategy, order.instrument_id, order.side, event.quantity,
                            event.price, event.fee, event.fee_asset)
            log.info("fill", venue=order.instrument_id.venue, symbol=order.instrument_id.symbol,
                     side=str(order.side), qty=str(event.quantity), price=str(event.price),
                     fee=f"{event.fee} {event.fee_asset}", filled=f"{order.filled_qty}/{order.quantity}",
                     order=event.client_order_id.value, pnl=self._pnl_text())
            return
        what = _WHAT.get(type(event))
        if what is None:
            return
        self.counts[what] += 1
        fields = {"venue": order.instrument_id.venue, "symbol": order.instrument_id.symbol, "side": str(order.side),
                  "qty": str(order.quantity), "price": str(order.price) if order.price is not None else "market",
                  "order": event.client_order_id.value}
        reason = getattr(event, "reason", "")
        if isinstance(event, _WRONG):
            log.warning(f"order_{what}", **fields, reason=reason)
        else:
            log.info(f"order_{what}", **fields, **({"reason": reason} if reason else {}))

    # ---- figures -------------------------------------------------------------------------------
    def pnl(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """(PnL incl. unrealized at the mark and net of fees, fees) of this run, every strategy added up per
        quote currency."""
        fees: dict[str, Decimal] = {}
        for (_, quote), book in self.books.items():
            fees[quote] = fees.get(quote, Decimal(0)) + sum((p.fees for p in book.positions.values()), Decimal(0))
        return self.books.by_quote(self.mark), fees

    def _pnl_text(self) -> str:
        return _amounts(self.pnl()[0])

    def _position(self) -> str:
        held = [f"{inst} {qty}" for inst, qty in sorted(self.state.positions.items()) if qty]
        return ", ".join(held) or "flat"

    def summary(self) -> None:
        """One line: level, open orders, position, PnL, fills, alerts."""
        pnl, fees = self.pnl()
        log.info("summary", level=self.level(), open_orders=len(self.state.open_orders()),
                 position=self._position(), pnl=_amounts(pnl), fees=_amounts(fees, sign=False),
                 fills=self.counts["fills"], orders=self.counts["placed"], alerts=len(self.incidents))

    def stop_summary(self) -> None:
        """At stop: duration, orders, fills, PnL, fees, incidents."""
        pnl, fees = self.pnl()
        seconds = (self.clock.now() - self.started).total_seconds()
        log.info("stop_summary", duration=f"{seconds:.0f}s", orders=self.counts["placed"],
                 canceled=self.counts["canceled"], rejected=self.counts["rejected"], fills=self.counts["fills"],
                 pnl=_amounts(pnl), fees=_amounts(fees, sign=False), position=self._position(),
                 incidents=len(self.incidents), last=self.incidents[-3:] if self.incidents else "none")

    async def run(self) -> None:
        """A summary line every `interval_s` until cancelled."""
        while True:
            await self.clock.sleep(self.interval_s)
            self.summary()
