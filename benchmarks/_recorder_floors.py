"""The recorder benchmark's floors (`recorder_throughput.py`): what the disk, SQLite, asyncio and a
thread hand-off cost with none of the recorder's work around them, measured in the same run."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from nonstop.model import Event


def chains(events: list[Event]) -> list[list[Event]]:
    """The events grouped by order, each order's events in order (a placer records one order's)."""
    orders: dict[str, list[Event]] = {}
    for e in events:
        orders.setdefault(e.client_order_id.value, []).append(e)  # type: ignore[attr-defined]
    return list(orders.values())


def floor(tmp: Path, events: list[Event], batch: int) -> dict[str, Any]:
    """A bare SQLite executemany + COMMIT of the same rows, `batch` rows per transaction; bare fsync."""
    from nonstop.journal.base import encode_payload, fence_batch

    items = [(type(e).__name__, encode_payload(e)) for e in events]
    rows, _, _ = fence_batch([(items, 1)], current=1, last=0, ts_ms=0, where="floor", holder=None)
    db = sqlite3.connect(tmp / "floor.db", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, epoch INTEGER NOT NULL, "
                   "type TEXT NOT NULL, payload TEXT NOT NULL, checksum TEXT NOT NULL)")
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(rows), batch):
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)", rows[i:i + batch])
            db.execute("COMMIT")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        db.close()
    fsyncs = []
    fd = os.open(tmp / "fsync.bin", os.O_WRONLY | os.O_CREAT)
    try:
        for _ in range(200):
            os.write(fd, b"x" * 200)
            t = time.perf_counter()
            os.fsync(fd)
            fsyncs.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
    return {"sqlite_executemany_commit": {"rows_per_transaction": batch, "events_per_s": round(len(rows) / wall),
                                          "events_per_cpu_s": round(len(rows) / cpu)},
            "fsync_200_bytes_ms": {"p50": round(statistics.median(fsyncs), 3),
                                   "p99": round(sorted(fsyncs)[int(0.99 * len(fsyncs))], 3)}}


async def asyncio_floor(events: list[Event], placers: int) -> dict[str, Any]:
    """The same placers and one-future-per-call hand-off, resolved in batches by one task that does
    nothing else (no validation, journal or fold): what asyncio alone costs per event here."""
    loop = asyncio.get_running_loop()
    queue: list[asyncio.Future[None]] = []
    wake = asyncio.Event()
    done = False

    async def resolver() -> None:
        while not done or queue:
            await wake.wait()
            wake.clear()
            await asyncio.sleep(0)
            batch, queue[:] = list(queue), []
            for fut in batch:
                fut.set_result(None)

    async def record(_: Event) -> None:
        fut = loop.create_future()
        queue.append(fut)
        wake.set()
        await fut

    todo = iter(chains(events))

    async def placer() -> None:
        for chain in todo:
            for e in chain:
                await record(e)

    task = asyncio.create_task(resolver())
    t0, c0 = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as tg:
        for _ in range(placers):
            tg.create_task(placer())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    done = True
    wake.set()
    await task
    return {"events_per_s": round(len(events) / wall), "events_per_cpu_s": round(len(events) / cpu)}


async def thread_round_trip(n: int = 300) -> dict[str, float]:
    """A do-nothing call on a one-thread executor and back, as the journal's appends make it (ms)."""
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    times = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for _ in range(n):
            t = time.perf_counter()
            await loop.run_in_executor(pool, int)
            times.append((time.perf_counter() - t) * 1000)
    return {"p50": round(statistics.median(times), 3), "p99": round(sorted(times)[int(0.99 * n)], 3)}
