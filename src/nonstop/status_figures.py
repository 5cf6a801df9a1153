"""The figures `nonstop status` adds to the journal's state: is the instance running, PnL per strategy,
balances as they stand after the fills since the last snapshot, the last reconciliation and the
alerts still open.

Everything is computed from what the journal holds (no venue is asked): PnL by the average-cost
method of `monitor.pnl`, per strategy and quote currency (a strategy trading ETH/USDT and ETH/BTC shows
a USDT figure and a BTC figure, never their sum), unrealized at the last fill price of each instrument
(the last price the journal knows); balances are the venue's last snapshot plus the journaled fills it did not contain
(`EngineState.balance_pending`, the reconciler's own baseline).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from nonstop.journal import Journal
from nonstop.journal.base import JournalHolder
from nonstop.model import EngineState, InstrumentId
from nonstop.model.events import AlertRecorded, BalanceSnapshot, ReconcileDifference
from nonstop.monitor.pnl import StrategyBooks

ZERO = Decimal(0)
TAIL_RECORDS = 50_000  # how far back the last reconciliation and open alerts are looked for
_OPENS = ("raised", "escalated", "reopened")


def running(holder: JournalHolder | None) -> dict[str, Any]:
    """Whether the journal's last holder still runs: its process is alive on this host. On another
    host it cannot be told from here ("unknown")."""
    if holder is None:
        return {"state": "stopped", "detail": "never claimed"}
    if holder.host != socket.gethostname():
        return {"state": "unknown", "detail": f"last held on host {holder.host}"}
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return {"state": "stopped", "detail": f"pid {holder.pid} is gone"}
    except PermissionError:  # alive, another user's
        pass
    return {"state": "running", "detail": f"pid {holder.pid} since {holder.since.isoformat(timespec='seconds')}"}


def strategy_pnl(state: EngineState) -> dict[str, dict[str, dict[str, str]]]:
    """Per strategy, per quote currency: realized, unrealized (at the last fill price), fees and the
    total, in that currency."""
    books: StrategyBooks = state.carried.strategy_books()  # the archived fills' books, then the live fills
    last: dict[InstrumentId, Decimal] = state.carried.last_prices()
    for _, fill in sorted(state.fills.items(), key=lambda kf: (kf[1].ts, kf[0])):  # the portfolio's order
        order = state.orders.get(fill.client_order_id.value)
        if order is None:
            continue
        books.fill(fill.client_order_id.strategy, order.instrument_id, order.side, fill.quantity, fill.price,
                   fill.fee, fill.fee_asset)
        last[order.instrument_id] = fill.price
    out: dict[str, dict[str, dict[str, str]]] = {}
    for (strategy, quote), book in books.items():
        realized = sum((p.realized for p in book.positions.values()), ZERO)
        fees = sum((p.fees for p in book.positions.values()), ZERO)
        unrealized = sum((p.unrealized(last[i]) for i, p in book.positions.items() if p.qty and i in last), ZERO)
        out.setdefault(strategy, {})[quote] = {
            "realized": f"{realized:.8f}", "unrealized": f"{unrealized:.8f}", "fees": f"{fees:.8f}",
            "pnl": f"{realized - fees + unrealized:.8f}"}
    return out


def current_balances(state: EngineState) -> dict[str, dict[str, dict[str, str]]]:
    """Per venue and asset: the last snapshot's total, the fills since, and the sum."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for venue, assets in sorted(state.balances.items()):
        since: dict[str, Decimal] = {}
        for key in state.balance_pending.get(venue, ()):
            fill = state.fills.get(key)
            order = state.orders.get(fill.client_order_id.value) if fill is not None else None
            if fill is None or order is None:
                continue
            iid, sign = order.instrument_id, order.side.sign
            since[iid.base] = since.get(iid.base, ZERO) + sign * fill.quantity
            since[iid.quote] = since.get(iid.quote, ZERO) - sign * fill.quantity * fill.price
            since[fill.fee_asset] = since.get(fill.fee_asset, ZERO) - fill.fee
        shown = {}
        for asset in sorted(set(assets) | set(since)):
            snap = assets[asset].total if asset in assets else ZERO
            moved = since.get(asset, ZERO)
            shown[asset] = {"snapshot": str(snap), "fills_since": str(moved), "now": str(snap + moved)}
        out[venue] = shown
    return out


@dataclass
class JournalTail:
    """What the recent records say: the last reconciliation per venue, and the alerts still open."""

    reconciled: dict[str, datetime] = field(default_factory=dict)
    differences: dict[str, list[str]] = field(default_factory=dict)  # found by that venue's last pass
    alerts: dict[str, AlertRecorded] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        venues = sorted(set(self.reconciled) | set(self.differences))
        return {
            "last_reconcile": {v: {"at": self.reconciled[v].isoformat() if v in self.reconciled else None,
                                   "result": "differences" if self.differences.get(v) else "clean",
                                   "differences": self.differences.get(v, [])[-5:]} for v in venues},
            "open_alerts": [{"key": a.key, "level": a.level, "title": a.title, "since": a.ts.isoformat()}
                            for a in sorted(self.alerts.values(), key=lambda a: a.ts)],
        }


async def journal_tail(journal: Journal, last_seq: int) -> JournalTail:
    tail = JournalTail()
    found: dict[str, list[str]] = {}  # differences recorded since the venue's last snapshot (this pass's)
    async for record in journal.read(max(1, last_seq - TAIL_RECORDS)):
        event = record.event
        if isinstance(event, BalanceSnapshot):  # a pass ends with the venue's balance snapshot
            tail.reconciled[event.venue] = event.ts
            tail.differences[event.venue] = found.pop(event.venue, [])
        elif isinstance(event, ReconcileDifference):
            found.setdefault(event.venue, []).append(f"{event.kind.value}: {event.detail}")
        elif isinstance(event, AlertRecorded):
            if event.transition in _OPENS:
                tail.alerts[event.key] = event
            elif event.transition == "resolved":
                tail.alerts.pop(event.key, None)
    return tail
