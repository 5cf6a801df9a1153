"""`nonstop export fills|orders|balances`: the journal's records as rows an accountant or a tax tool reads.

Read-only, from the journal (running or stopped instance): fills and orders from the replayed state
(every journaled fill exactly once, keyed by instrument and trade id), balances from every balance
snapshot the reconciler journaled. Times are UTC (ISO 8601); amounts are exact decimals: text in
CSV and JSON, decimal128(38, 18) in Parquet (pyarrow, the optional `parquet` extra).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from nonstop.config import Settings
from nonstop.errors import ConfigError
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.model import EngineState
from nonstop.model.events import BalanceSnapshot

Kind = Literal["fills", "orders", "balances"]
Format = Literal["csv", "json", "parquet"]

COLUMNS: dict[str, list[str]] = {
    "fills": ["time_utc", "venue", "instrument", "base", "quote", "side", "price", "quantity", "quote_amount",
              "fee", "fee_asset", "liquidity", "order_id", "client_order_id", "trade_id", "strategy"],
    "orders": ["time_utc", "venue", "instrument", "side", "type", "time_in_force", "price", "quantity", "filled",
               "average_price", "state", "reason", "order_id", "client_order_id", "strategy"],
    "balances": ["time_utc", "venue", "asset", "free", "locked", "total"],
}
DECIMALS = {"price", "quantity", "quote_amount", "fee", "filled", "average_price", "free", "locked", "total"}


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 time; without a zone it is UTC. ConfigError naming the option if it is not one."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-01-31 or 2026-01-31T12:00Z)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _within(ts: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if ts is None:
        return since is None and until is None
    return (since is None or ts >= since) and (until is None or ts < until)


def _time(ts: datetime | None) -> str:
    return ts.astimezone(UTC).isoformat() if ts is not None else ""


def fill_rows(state: EngineState, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
    rows = []
    for fill in sorted(state.fills.values(), key=lambda f: (f.ts, f.trade_id.value)):
        order = state.orders.get(fill.client_order_id.value)
        if order is None or not _within(fill.ts, since, until):
            continue
        iid = order.instrument_id
        venue_order = fill.venue_order_id or order.venue_order_id
        rows.append({
            "time_utc": _time(fill.ts), "venue": iid.venue, "instrument": iid.symbol, "base": iid.base,
            "quote": iid.quote, "side": str(order.side).lower(), "price": fill.price, "quantity": fill.quantity,
            "quote_amount": fill.price * fill.quantity, "fee": fill.fee, "fee_asset": fill.fee_asset,
            "liquidity": str(fill.liquidity).lower(), "order_id": venue_order.value if venue_order else "",
            "client_order_id": fill.client_order_id.value, "trade_id": fill.trade_id.value,
            "strategy": fill.client_order_id.strategy,
        })
    return rows


def order_rows(state: EngineState, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
    rows = []
    for order in sorted(state.orders.values(), key=lambda o: (o.intent_ts or datetime.min.replace(tzinfo=UTC),
                                                               o.client_order_id.value)):
        if not _within(order.intent_ts, since, until):
            continue
        iid = order.instrument_id
        rows.append({
            "time_utc": _time(order.intent_ts), "venue": iid.venue, "instrument": iid.symbol,
            "side": str(order.side).lower(), "type": str(order.order_type).lower(),
            "time_in_force": str(order.time_in_force), "price": order.price, "quantity": order.quantity,
            "filled": order.filled_qty, "average_price": order.avg_price, "state": str(order.state).lower(),
            "reason": order.reason, "order_id": order.venue_order_id.value if order.venue_order_id else "",
            "client_order_id": order.client_order_id.value, "strategy": order.client_order_id.strategy,
        })
    return rows


def balance_rows(snapshots: Iterable[BalanceSnapshot], since: datetime | None,
                 until: datetime | None) -> list[dict[str, Any]]:
    return [
        {"time_utc": _time(snap.ts), "venue": snap.venue, "asset": b.asset, "free": b.free, "locked": b.locked,
         "total": b.total}
        for snap in snapshots if _within(snap.ts, since, until)
        for b in sorted(snap.balances, key=lambda b: b.asset)
    ]


async def collect(settings: Settings, kind: Kind, since: datetime | None, until: datetime | None
                  ) -> list[dict[str, Any]]:
    """The rows of `kind` between `since` (inclusive) and `until` (exclusive), read from the journal."""
    journal = open_journal(settings, read_only=True)
    await journal.open()
    try:
        if kind == "balances":
            snapshots = [r.event async for r in journal.read(1) if isinstance(r.event, BalanceSnapshot)]
            return balance_rows(snapshots, since, until)
        state = await replay(journal, history=True)  # archived orders too
    finally:
        await journal.close()
    return fill_rows(state, since, until) if kind == "fills" else order_rows(state, since, until)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def to_csv(kind: Kind, rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS[kind], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _text(v) for k, v in row.items()})
    return out.getvalue()


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows],
                      indent=1) + "\n"


def write_parquet(kind: Kind, rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("--format parquet needs pyarrow: pip install 'nonstop[parquet]' (or pip install "
                          "pyarrow) in nonstop's environment") from None
    amount = pa.decimal128(38, 18)
    schema = pa.schema([(c, amount if c in DECIMALS else pa.string()) for c in COLUMNS[kind]])
    columns = {c: [row.get(c) for row in rows] for c in COLUMNS[kind]}
    table = pa.table({c: pa.array(v, type=schema.field(c).type) for c, v in columns.items()}, schema=schema)
    pq.write_table(table, path)
