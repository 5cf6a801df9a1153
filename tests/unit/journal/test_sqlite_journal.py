"""SQLite specifics: durability pragmas, the loop is never blocked, torn files are named."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from nonstop.errors import CorruptRecord
from nonstop.journal import Durability, SQLiteJournal
from nonstop.model.testing import random_valid_events


@pytest.mark.parametrize(("mode", "expected"), [(Durability.FSYNC, 2), (Durability.GROUP, 2), (Durability.OS, 1)])
async def test_sqlite_durability_mode_sets_wal_and_synchronous(tmp_path: Path, mode: Durability, expected: int) -> None:
    journal = SQLiteJournal(tmp_path / "j.db", durability=mode)
    async with journal:
        pragmas = await journal._run(  # the connection lives on the journal thread
            lambda: [journal._db().execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous")])
    assert pragmas == ["wal", expected]  # synchronous: 2 = FULL, 1 = NORMAL


async def test_sqlite_journal_waits_on_its_thread_not_on_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    events = random_valid_events(random.Random(1), 3)
    async with SQLiteJournal(path) as journal:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock: the append must wait
        append = asyncio.ensure_future(journal.append(events, epoch=1))
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.01)  # the loop keeps running while the journal thread waits
            ticks += 1
        assert ticks == 5 and not append.done()
        blocker.execute("COMMIT")
        blocker.close()
        assert await asyncio.wait_for(append, 10) == 3


async def test_sqlite_corrupt_record_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "named.db"
    async with SQLiteJournal(path) as journal:
        await journal.append(random_valid_events(random.Random(2), 4), epoch=1)
        with sqlite3.connect(path) as raw:
            raw.execute("UPDATE journal SET checksum = 'x' WHERE seq = 2")
        with pytest.raises(CorruptRecord) as info:
            [r async for r in journal.read()]
    assert str(path) in str(info.value) and "sqlite" in str(info.value) and info.value.seq == 2
