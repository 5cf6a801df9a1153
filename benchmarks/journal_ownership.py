"""Journal ownership and repair benchmark: what the single-writer claim adds to a start, and how
long `nonstop journal verify` and `copy` take, each against a baseline measured in the same run.

Prints one JSON document. Compare within the run (ratios), not with another machine.

    .venv/bin/python benchmarks/journal_ownership.py                     # defaults
    .venv/bin/python benchmarks/journal_ownership.py --records 20000 --claims 50

- claim: `ha.ownership.claim` (flock on the sidecar file + `claim_next_epoch` in one transaction +
  the holder written to the lock file) then release, versus the start-up it replaced
  (`current_epoch` + `claim_epoch`), on one SQLite journal (fsync), median and max per start.
- verify: `journal.verify.verify` (checksums, sequence, epochs, the fold) over `--records` order
  events, versus a full replay (`replay(use_snapshot=False)`) of the same journal.
- copy: `journal.repair.copy_prefix` of every record into a new file (fsync), versus the same
  events appended in one transaction per 1000 by a plain `SQLiteJournal.append`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_throughput import order_events

from nonstop.clock import LiveClock
from nonstop.ha import ownership
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.journal.repair import copy_prefix
from nonstop.journal.verify import verify


def _ms(xs: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(xs) * 1000, 3), "max_ms": round(max(xs) * 1000, 3)}


async def bench_claim(tmp: Path, claims: int) -> dict[str, Any]:
    journal = SQLiteJournal(tmp / "claim.sqlite", durability=Durability.FSYNC)
    await journal.open()
    try:
        new, old = [], []
        for _ in range(claims):
            t = time.perf_counter()
            owner = await ownership.claim(journal, "bench", LiveClock())
            new.append(time.perf_counter() - t)
            await owner.release()
            t = time.perf_counter()
            epoch = max(await journal.current_epoch(), 1)  # the start-up before single-writer claims
            await journal.claim_epoch(epoch)
            old.append(time.perf_counter() - t)
    finally:
        await journal.close()
    return {"starts": claims, "ownership_claim": _ms(new), "baseline_current_epoch_claim_epoch": _ms(old),
            "ratio_median": round(statistics.median(new) / statistics.median(old), 2)}


async def bench_verify_copy(tmp: Path, records: int) -> dict[str, Any]:
    path = tmp / "source.sqlite"
    events = order_events(records)
    source = SQLiteJournal(path, durability=Durability.OS)
    await source.open()
    try:
        for i in range(0, len(events), 1000):
            await source.append(events[i:i + 1000], epoch=1)
        t = time.perf_counter()
        report = await verify(source)
        verify_s = time.perf_counter() - t
        assert report.ok, report.first_bad
        t = time.perf_counter()
        await replay(source, use_snapshot=False)
        replay_s = time.perf_counter() - t
        t = time.perf_counter()
        await copy_prefix(source, records, tmp / "copy.sqlite")
        copy_s = time.perf_counter() - t
    finally:
        await source.close()
    plain = SQLiteJournal(tmp / "plain.sqlite", durability=Durability.FSYNC)
    await plain.open()
    try:
        t = time.perf_counter()
        for i in range(0, len(events), 1000):
            await plain.append(events[i:i + 1000], epoch=1)
        plain_s = time.perf_counter() - t
    finally:
        await plain.close()
    return {
        "records": records,
        "verify_s": round(verify_s, 3), "verify_records_per_s": round(records / verify_s),
        "baseline_full_replay_s": round(replay_s, 3), "verify_over_replay": round(verify_s / replay_s, 2),
        "copy_s": round(copy_s, 3), "baseline_plain_append_s": round(plain_s, 3),
        "copy_over_plain_append": round(copy_s / plain_s, 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        return {"benchmark": "journal_ownership", "python": platform.python_version(),
                "claim": await bench_claim(tmp, args.claims),
                "verify_copy": await bench_verify_copy(tmp, args.records)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=100)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
