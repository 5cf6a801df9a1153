"""What the drill reads after the fact: the engine's journal (opened read-only) and the
simulator's own records (control API: orders received, trades, duplicates, balances, fault log)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from nonstop.config import Settings
from nonstop.drills.scorecard import Mark
from nonstop.journal_setup import open_journal
from nonstop.model.events import (
    AlertRecorded,
    BreakerChanged,
    DegradationChanged,
    OrderAccepted,
    OrderFilled,
    OrderInDoubt,
    OrderIntent,
    OrderSubmitted,
)


@dataclass(frozen=True)
class Fill:
    t: float
    trade_id: str
    client_order_id: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    venue: str = ""


@dataclass
class JournalEvidence:
    marks: list[Mark] = field(default_factory=list)  # breaker changes, ladder steps, alerts raised
    alerts: list[tuple[float, str, str, str]] = field(default_factory=list)  # (t, key, level, transition)
    levels: list[tuple[float, str]] = field(default_factory=list)  # ladder: (t, new level)
    submitted: list[float] = field(default_factory=list)
    accepted: list[tuple[float, Decimal | None, str]] = field(default_factory=list)  # (t, price, side)
    accepted_on: list[tuple[float, str]] = field(default_factory=list)  # (t, venue)
    in_doubt: list[float] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)


async def read_journal(settings: Settings) -> JournalEvidence:
    """Everything the scorecard needs from the journal, in one read-only pass."""
    journal = open_journal(settings, read_only=True)
    await journal.open()
    out = JournalEvidence()
    intents: dict[str, OrderIntent] = {}
    try:
        async for rec in journal.read():
            ev = rec.event
            t = ev.ts.timestamp()
            if isinstance(ev, OrderIntent):
                intents[ev.client_order_id.value] = ev
            elif isinstance(ev, OrderSubmitted):
                out.submitted.append(t)
            elif isinstance(ev, OrderAccepted):
                intent = intents.get(ev.client_order_id.value)
                out.accepted.append((t, intent.price if intent else None, str(intent.side) if intent else ""))
                out.accepted_on.append((t, intent.instrument_id.venue if intent else ""))
            elif isinstance(ev, OrderInDoubt):
                out.in_doubt.append(t)
                out.marks.append(Mark(t, f"order {ev.client_order_id.value} in doubt"))
            elif isinstance(ev, OrderFilled):
                intent = intents.get(ev.client_order_id.value)
                out.fills.append(
                    Fill(
                        t,
                        ev.trade_id.value,
                        ev.client_order_id.value,
                        str(intent.side).upper() if intent else "",
                        ev.price,
                        ev.quantity,
                        ev.fee,
                        ev.fee_asset,
                        intent.instrument_id.venue if intent else "",
                    )
                )
            elif isinstance(ev, BreakerChanged):
                out.marks.append(Mark(t, f"breaker {ev.scope} {ev.name}: {ev.old} -> {ev.new}"))
            elif isinstance(ev, DegradationChanged):
                out.levels.append((t, ev.new))
                out.marks.append(Mark(t, f"ladder {ev.old} -> {ev.new}"))
            elif isinstance(ev, AlertRecorded):
                out.alerts.append((t, ev.key, ev.level, ev.transition))
                if ev.transition in ("raised", "escalated", "reopened"):
                    out.marks.append(Mark(t, f"alert {ev.level} {ev.key}"))
    finally:
        await journal.close()
    return out


NOTICE_LEVELS = frozenset({"warning", "error", "critical"})


def read_log_marks(paths: list[Path]) -> list[Mark]:
    """The engine's own warnings (JSON log lines): a stream that dropped, a feed switched, an order in
    doubt. They count as signs of detection too: an alert already active (within its resolve hold)
    raises no new transition in the journal, yet the engine did see the new fault."""
    marks = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                data = json.loads(line)
                if data.get("level") in NOTICE_LEVELS and "timestamp" in data:
                    t = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00")).timestamp()
                    marks.append(Mark(t, f"log {data.get('level')} {data.get('event')}"))
            except (ValueError, AttributeError):
                continue  # a line that is not one of ours: not evidence
    return marks


@dataclass
class SimEvidence:
    orders: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    duplicates: dict[str, Any]
    balances: dict[str, Decimal]
    fault_log: list[dict[str, Any]]

    def trade_ids_of(self, prefix: str, lo_ms: float = 0, hi_ms: float = float("inf")) -> list[str]:
        """Ids of the venue's trades of orders whose client id starts with `prefix`, made in [lo, hi]."""
        ours = {
            o["order_id"]
            for o in self.orders
            if o["order_id"] is not None and str(o["client_order_id"]).startswith(prefix)
        }
        return [str(t["id"]) for t in self.trades if t["orderId"] in ours and lo_ms <= int(t["time"]) <= hi_ms]


async def control_get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
        resp.raise_for_status()
        return await resp.json()


async def balances(session: aiohttp.ClientSession, control: str, venue: str) -> dict[str, Decimal]:
    data = await control_get(session, f"{control}/control/venues/{venue}/balances")
    return {a: Decimal(v["free"]) + Decimal(v["locked"]) for a, v in data.items()}


async def read_sim(control: str, venue: str) -> SimEvidence:
    async with aiohttp.ClientSession() as session:
        base = f"{control}/control/venues/{venue}"
        return SimEvidence(
            orders=await control_get(session, f"{base}/orders"),
            trades=await control_get(session, f"{base}/trades"),
            duplicates=await control_get(session, f"{base}/duplicates"),
            balances=await balances(session, control, venue),
            fault_log=await control_get(session, f"{control}/control/faults/log"),
        )
