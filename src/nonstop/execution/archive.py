"""The retention rule: which finished orders leave the live state (`OrdersArchived`).

An order is archived when it is finished (a terminal state) and has been finished for
`ARCHIVE_AFTER` of event time (the newest event timestamp the recorder has folded, so a quiet
engine archives nothing early and the decision never depends on the wall clock), and, if it
traded:

- every one of its fills has been seen by a balance snapshot of its venue (not in
  `EngineState.balance_pending`: the reconciler's baseline still needs those);
- its fills are a prefix of the fill history in execution time: every fill archived is strictly
  older than every fill that stays (`due` finds the largest such set). The state carries the
  books of the archived fills (`nonstop.model.carried`) and the fill figures fold the live fills
  on top, which is the same fold as over the whole history only because of this rule.

Its records stay in the journal: `nonstop journal inspect` shows them and
`replay(journal, history=True)` folds a state that still has it (exports use that). The state
keeps the archive watermark per instance, so its client order id is never used again.

Why a day by default: a fill reported late for a canceled order (the venue matched it before
the cancel took effect) arrives within seconds; one reported for an order archived a day ago is
not recorded (logged as an error; the balance reconciliation shows the difference). A fill of a
live order reported with an execution time older than the archived fills (a day late) is folded
after the carried books, so its order-dependent figures (average cost) may then differ from a
fold of the whole history; positions and balances do not depend on the order.

When an order finished is noted as its terminal event is folded (a late fill restarts its clock);
orders already finished when the engine started count as finished at the first archiving pass
(their time is not in the state).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nonstop.model import EngineState, Event, Order, OrderEvent, OrderFilled

ARCHIVE_AFTER = timedelta(hours=24)
MAX_IDS_PER_RECORD = 2000  # one OrdersArchived record stays a few tens of kB


def archivable(order: Order | None) -> bool:
    """A finished order (the state checks its fills: `EngineState.unarchivable`)."""
    return order is not None and order.state.is_terminal


def pending_fills(state: EngineState) -> set[str]:
    """The fill keys a balance snapshot has not seen yet (their orders stay)."""
    return {k for keys in state.balance_pending.values() for k in keys}


class FinishedOrders:
    """When each finished order was first seen finished (event time); bounded by the state."""

    def __init__(self) -> None:
        self._since: dict[str, datetime] = {}
        self.latest: datetime | None = None  # the newest event timestamp folded

    def note(self, state: EngineState, event: Event) -> None:
        """Called after `event` was folded into `state`."""
        if self.latest is None or event.ts > self.latest:
            self.latest = event.ts
        if isinstance(event, OrderEvent):
            key = event.client_order_id.value
            if not archivable(state.orders.get(key)):
                self._since.pop(key, None)
            elif isinstance(event, OrderFilled):
                self._since[key] = event.ts  # a late fill on a finished order restarts its clock
            else:
                self._since.setdefault(key, event.ts)

    def due(self, state: EngineState, keep_for: timedelta) -> list[str]:
        """The client order ids to archive now, oldest client id first."""
        if self.latest is None:
            return []
        horizon = self.latest - keep_for
        pending = pending_fills(state)
        due = {key for key, order in state.orders.items()
               if archivable(order) and self._since.setdefault(key, self.latest) <= horizon
               and state.unarchivable(order, pending) is None}
        return sorted(_fill_prefix(state, due), key=lambda k: (state.orders[k].client_order_id.instance,
                                                               state.orders[k].client_order_id.seq))

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._since.pop(key, None)


def _fill_prefix(state: EngineState, due: set[str]) -> set[str]:
    """The orders of `due` that may go together: every fill of theirs strictly older than every fill
    of an order that stays (orders without fills always may)."""
    spans: dict[str, tuple[datetime, datetime]] = {}  # order -> (first, last) fill time
    for fill in state.fills.values():
        key = fill.client_order_id.value
        first, last = spans.get(key, (fill.ts, fill.ts))
        spans[key] = (min(first, fill.ts), max(last, fill.ts))
    stays = [first for key, (first, _) in spans.items() if key not in due]
    oldest_kept = min(stays) if stays else None
    if oldest_kept is None:
        return due
    kept = set(due)
    # newest last fill first: dropping one may lower the bound, which only drops more further on
    for key, (first, last) in sorted(((k, spans[k]) for k in due if k in spans), key=lambda kv: kv[1][1],
                                     reverse=True):
        if last < oldest_kept:
            break
        kept.discard(key)
        oldest_kept = min(oldest_kept, first)
    return kept
