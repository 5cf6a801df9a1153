"""`nonstop status`: the HA role and lease, orders, balances, positions, the degradation level and
journal position, read from the journal (and the lease row, on PostgreSQL).

Works whether the instance is running or stopped: it only reads (SQLite WAL allows a reader
beside the writer) and replays into its own state.
"""

from __future__ import annotations

import os
from collections import Counter
from decimal import Decimal
from typing import Any

from nonstop import status_figures as figures
from nonstop.config import Settings
from nonstop.ha.lease import LeaseError, LeaseStore
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.model import ANY_VENUE
from nonstop.monitor.pnl import signed_amount
from nonstop.routing.portfolio import portfolio_of


async def collect(settings: Settings) -> dict[str, Any]:
    """The instance's state as a JSON-able dict."""
    journal = open_journal(settings, read_only=True)
    await journal.open()
    try:
        snapshot = await journal.latest_snapshot()
        state = await replay(journal)
        epoch = await journal.current_epoch()
        holder = await journal.holder()
        tail = await figures.journal_tail(journal, state.last_seq)
    finally:
        await journal.close()
    ha = await lease_status(settings)
    open_orders = [
        {"client_order_id": o.client_order_id.value, "instrument": str(o.instrument_id), "side": str(o.side),
         "state": str(o.state), "price": str(o.price) if o.price is not None else None,
         "quantity": str(o.quantity), "filled": str(o.filled_qty),
         "venue_order_id": o.venue_order_id.value if o.venue_order_id else None}
        for o in state.open_orders()
    ]
    return {
        "ha": ha,
        "instance": figures.running(holder),
        "pnl": figures.strategy_pnl(state),
        "balances_now": figures.current_balances(state),
        **tail.to_dict(),
        "journal": {"backend": journal.backend, "last_seq": state.last_seq, "epoch": epoch,
                    "holder": (None if holder is None else
                               {"host": holder.host, "pid": holder.pid, "instance": holder.instance,
                                "since": holder.since.isoformat(), "epoch": holder.epoch}),
                    "snapshot_seq": snapshot.seq if snapshot else None, "state_hash": state.state_hash()},
        "orders": {"by_state": dict(sorted(Counter(str(o.state) for o in state.orders.values()).items())),
                   "open": open_orders},
        "fills": len(state.fills) + state.carried.fills,  # archived fills included
        "positions": {k: str(v) for k, v in sorted(state.positions.items())},
        "portfolio": portfolio_of(state).to_dict(),  # per venue and aggregated, with average cost and PnL
        "balances": {venue: {a: {"free": str(b.free), "locked": str(b.locked)} for a, b in sorted(bs.items())}
                     for venue, bs in sorted(state.balances.items())},
        "reconcile_differences": dict(sorted(state.differences.items())),
        "degradation": (
            {"level": state.degradation.level, "reason": state.degradation.reason,
             "since": state.degradation.since.isoformat()}
            if state.degradation is not None
            else {"level": "normal", "reason": "no degradation recorded", "since": None}
        ),
        "halt": (  # the kill switch, journaled: in force until `nonstop resume`
            {"reason": state.halt.reason, "source": state.halt.source, "since": state.halt.since.isoformat()}
            if state.halt is not None else None
        ),
    }


async def lease_status(settings: Settings) -> dict[str, Any]:
    """The HA view: the configured role and, on PostgreSQL, the instance's lease row (holder, epoch,
    expiry by the database clock; `leader` is the holder while the lease is live)."""
    eng = settings.engine
    out: dict[str, Any] = {"role": eng.ha.role, "lease_ttl_s": eng.ha.lease_ttl_s}
    if eng.journal.backend != "postgres":
        return out
    store = LeaseStore(os.environ.get(eng.journal.dsn_env, ""), schema=eng.journal.schema_name, instance=eng.instance)
    try:
        row = await store.read()
    except LeaseError as err:
        if "does not exist" not in str(err):
            raise
        row = None  # no engine ever ran with a lease here
    finally:
        await store.close()
    out["lease"] = row.to_dict() if row is not None else None
    out["leader"] = row.holder if row is not None and row.live else None
    return out


def render(data: dict[str, Any]) -> str:
    """A terminal-friendly view of `collect`'s result."""
    j = data["journal"]
    ha = data["ha"]
    lease = ha.get("lease")
    if lease is None:
        ha_line = f"ha        role {ha['role']}" + ("  no lease taken yet" if "lease" in ha else "")
    else:
        state = (f"leader {lease['holder']}, lease expires {lease['expires_at']} (in {lease['remaining_s']:.1f} s)"
                 if lease["live"] else f"no leader: the lease of {lease['holder']} expired {lease['expires_at']}")
        ha_line = f"ha        role {ha['role']}  epoch {lease['epoch']}  {state}"
    inst = data.get("instance")
    lines = [ha_line, *([f"instance  {inst['state']}: {inst['detail']}"] if inst else []),
             f"journal   {j['backend']}  last seq {j['last_seq']}  epoch {j['epoch']}  "
             f"snapshot at {j['snapshot_seq']}  state {j['state_hash'][:16]}",
             "holder    " + (f"{h['host']} pid {h['pid']} (instance {h['instance']}, epoch {h['epoch']}) since "
                            f"{h['since']}" if (h := j["holder"]) else "none recorded"),
             f"orders    {', '.join(f'{k} {v}' for k, v in data['orders']['by_state'].items()) or 'none'}",
             f"fills     {data['fills']}"]
    d = data["degradation"]
    lines.append(f"level     {d['level']}" + (f" since {d['since']}" if d["since"] else "") + f": {d['reason']}")
    h = data.get("halt")
    if h:
        lines.append(f"HALTED    since {h['since']} by {h['source']}: {h['reason']} (until `nonstop resume`)")
    for o in data["orders"]["open"]:
        lines.append(f"  open    {o['client_order_id']:<24} {o['instrument']:<20} {o['side']:<4} {o['quantity']} @ "
                     f"{o['price']}  filled {o['filled']}  {o['state']}")
    portfolio = data.get("portfolio")  # absent in a document from before M12: the plain positions
    if portfolio is None:
        lines += [f"position  {inst:<28} {qty}" for inst, qty in data["positions"].items()]
    for p in (portfolio or {}).get("per_venue", []) + (portfolio or {}).get("aggregated", []):
        where = "all venues" if p["venue"] == ANY_VENUE else p["venue"]
        lines.append(f"position  {where + ':' + p['symbol']:<28} {p['quantity']}  avg {p['avg_cost']}  "
                     f"realized {p['realized']}")
    now = data.get("balances_now")  # the last snapshot plus the fills since (absent: the snapshot as recorded)
    for venue, assets in (now if now is not None else data["balances"]).items():
        if now is not None:
            shown = "  ".join(f"{a} {b['now']}" + (f" ({b['fills_since']} since snapshot)"
                                                   if Decimal(b["fills_since"]) else "") for a, b in assets.items())
        else:
            shown = "  ".join(f"{a} {b['free']}+{b['locked']}" for a, b in assets.items())
        lines.append(f"balances  {venue:<12} {shown}")
    for strategy, quotes in data.get("pnl", {}).items():
        if "pnl" in quotes:  # a document from before per-quote PnL: one figure, in its "quote"
            quotes = {quotes["quote"]: quotes}
        for quote, p in quotes.items():  # one line per quote currency: amounts in two are never added up
            lines.append(f"pnl       {strategy:<12} {signed_amount(Decimal(p['pnl']), quote)}  (realized "
                         f"{signed_amount(Decimal(p['realized']), quote)}, unrealized "
                         f"{signed_amount(Decimal(p['unrealized']), quote)} at the last fill, fees "
                         f"{signed_amount(Decimal(p['fees']), quote, sign=False)})")
    for venue, r in data.get("last_reconcile", {}).items():
        lines.append(f"reconcile {venue:<12} {r['result']} at {r['at']}" +
                     (f": {'; '.join(r['differences'])}" if r["differences"] else ""))
    for a in data.get("open_alerts", []):
        lines.append(f"alert     {a['level']:<8} {a['title'] or a['key']} since {a['since']}")
    if data["reconcile_differences"]:
        lines.append(f"reconcile differences recorded: {data['reconcile_differences']}")
    return "\n".join(lines)


def table(data: dict[str, Any]) -> Any:
    """`render` as a rich table (for `nonstop status --watch`)."""
    from rich.table import Table

    out = Table(show_header=False, box=None, pad_edge=False)
    out.add_column(style="bold")
    out.add_column()
    for line in render(data).splitlines():
        label, _, rest = line.partition(" ")
        out.add_row(label, rest.strip())
    return out


async def watch(settings: Settings, every_s: float) -> None:
    """Refresh the status in place every `every_s` seconds until interrupted."""
    import asyncio

    from rich.live import Live

    with Live(table(await collect(settings)), auto_refresh=False) as live:
        while True:
            await asyncio.sleep(every_s)
            live.update(table(await collect(settings)), refresh=True)
