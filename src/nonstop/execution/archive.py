"""The retention rule: which finished orders leave the live state (`OrdersArchived`).

An order is archived when it is finished (a terminal state), has no fills, and has been finished
for `ARCHIVE_AFTER` of event time (the newest event timestamp the recorder has folded, so a quiet
engine archives nothing early and the decision never depends on the wall clock). Its records stay
in the journal: `nonstop journal inspect` shows them and `replay(journal, history=True)` folds a
state that still has it (exports use that). The state keeps the archive watermark per instance,
so its client order id is never used again.

Why only orders without fills: fills feed every PnL and position figure (portfolio, status, the
daily loss limit, the dashboard), which fold the full fill history; orders that never traded are
most of a market maker's orders (quotes replaced before they trade) and carry nothing those
figures need. Why a day: a fill reported late for a canceled order (the venue matched it before
the cancel took effect) arrives within seconds; one reported for an order archived a day ago is
not recorded (logged as an error; the balance reconciliation shows the difference).

When an order finished is noted as its terminal event is folded; orders already finished when the
engine started count as finished at the first archiving pass (their time is not in the state).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nonstop.model import EngineState, Event, Order, OrderEvent

ARCHIVE_AFTER = timedelta(hours=24)
MAX_IDS_PER_RECORD = 2000  # one OrdersArchived record stays a few tens of kB


def archivable(order: Order | None) -> bool:
    """A finished order without fills (what `OrdersArchived` may name)."""
    return order is not None and order.state.is_terminal and not order.trade_ids


class FinishedOrders:
    """When each finished, unfilled order was first seen finished (event time); bounded by the state."""

    def __init__(self) -> None:
        self._since: dict[str, datetime] = {}
        self.latest: datetime | None = None  # the newest event timestamp folded

    def note(self, state: EngineState, event: Event) -> None:
        """Called after `event` was folded into `state`."""
        if self.latest is None or event.ts > self.latest:
            self.latest = event.ts
        if isinstance(event, OrderEvent):
            key = event.client_order_id.value
            if archivable(state.orders.get(key)):
                self._since.setdefault(key, event.ts)
            else:
                self._since.pop(key, None)  # e.g. a late fill: it stays

    def due(self, state: EngineState, keep_for: timedelta) -> list[str]:
        """The client order ids to archive now, oldest client id first."""
        if self.latest is None:
            return []
        horizon = self.latest - keep_for
        due = []
        for key, order in state.orders.items():
            if not archivable(order):
                continue
            if self._since.setdefault(key, self.latest) <= horizon:
                due.append(key)
        return sorted(due, key=lambda k: (state.orders[k].client_order_id.instance,
                                          state.orders[k].client_order_id.seq))

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._since.pop(key, None)
