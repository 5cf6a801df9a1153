"""SQLiteJournal: the single-machine journal (stdlib sqlite3, WAL mode).

All SQLite work runs on one dedicated thread (a one-worker executor that owns the only
connection), never on the event loop (invariant 8). Every write is one `BEGIN IMMEDIATE`
transaction that re-reads the fencing epoch and the last seq inside the transaction, so a
second process writing the same file (a stale leader on the same machine) is fenced too.

A cancelled `append` may still be durable: the thread finishes what it started. The contract
is "durable before it is acted on", which the caller keeps by acting only after `append`
returns; reconciliation settles the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import structlog

from nonstop.clock import Clock, LiveClock
from nonstop.errors import CorruptRecord, JournalClosed, JournalError, JournalWriteFailed, ModelError
from nonstop.journal.base import (
    SNAPSHOTS_KEPT,
    Batch,
    Durability,
    JournalHolder,
    JournalRecord,
    Snapshot,
    decode_record,
    encode_payload,
    epoch_to_claim,
    fence_batch,
    is_fenced,
    load_snapshot,
    snapshot_text,
    ts_to_ms,
)
from nonstop.journal.batching import GroupCommitter, PendingAppend
from nonstop.model.events import Event
from nonstop.model.state import EngineState

T = TypeVar("T")
log = structlog.get_logger("nonstop.journal")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, epoch INTEGER NOT NULL,
    type TEXT NOT NULL, payload TEXT NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fencing (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL);
INSERT OR IGNORE INTO fencing (id, epoch) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, state_hash TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS holder (
    id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, host TEXT NOT NULL,
    pid INTEGER NOT NULL, instance TEXT NOT NULL, since_ms INTEGER NOT NULL);
"""
_PAGE = 2000
_HOLDER = "SELECT epoch, host, pid, instance, since_ms FROM holder WHERE id = 1"


class SQLiteJournal:
    """The `Journal` on one SQLite file; see `Durability` for the three modes."""

    backend = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = Durability.FSYNC,
        clock: Clock | None = None,
        max_batch: int = 512,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only  # for verify/inspect/status: the file is never written
        self.durability = Durability(durability)
        self._clock = clock or LiveClock()
        self._max_batch = max_batch
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._group: GroupCommitter | None = None
        self._status = "new"

    @property
    def location(self) -> str:
        return f"{self.path} table journal"

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        if self._status != "new":
            raise JournalError(f"sqlite journal {self.path} is {self._status}; open() is allowed once")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nonstop-journal-sqlite")
        self._status = "opening"
        try:
            await self._run(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._status = "closed"
            raise
        if self.durability is Durability.GROUP:
            self._group = GroupCommitter(self._write_group, max_batch=self._max_batch)
            self._group.start()
        self._status = "open"

    async def close(self) -> None:
        if self._status in ("new", "closed"):
            self._status = "closed"
            return
        self._status = "closing"
        try:
            if self._group is not None:
                await self._group.close()
            await self._run(self._close_sync)
        finally:
            self._status = "closed"
            if self._executor is not None:
                self._executor.shutdown(wait=False)

    async def __aenter__(self) -> SQLiteJournal:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._status != "open":
            raise JournalClosed(f"sqlite journal {self.path} is {self._status}, not open")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- writes -------------------------------------------------------------------------------

    async def append(self, events: Sequence[Event], *, epoch: int) -> int:
        self._check_open()
        if not events:
            raise ValueError("append needs at least one event")
        items = [(type(e).__name__, encode_payload(e)) for e in events]
        return await self._write(items, epoch)

    async def claim_epoch(self, epoch: int, holder: JournalHolder | None = None) -> None:
        self._check_open()
        if holder is None:
            await self._write([], epoch)
        else:
            await self._run(self._claim_sync, holder, epoch)

    async def claim_next_epoch(self, holder: JournalHolder) -> int:
        self._check_open()
        return await self._run(self._claim_sync, holder, None)

    async def holder(self) -> JournalHolder | None:
        self._check_open()
        return await self._run(self._holder_sync)

    async def _write(self, items: list[tuple[str, str]], epoch: int) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        if self._group is not None:
            return await self._group.submit(items, epoch)
        (result,) = await self._write_translated([(items, epoch)])
        if isinstance(result, BaseException):
            raise result
        return result

    async def _write_group(self, batch: list[PendingAppend]) -> list[int | BaseException]:
        return await self._write_translated([(p.items, p.epoch) for p in batch])

    async def _write_translated(self, batch: Batch) -> list[int | BaseException]:
        """The one place a failed SQLite write (disk full, I/O error, read-only file) becomes
        `JournalWriteFailed`, naming the file; the transaction was rolled back, nothing was written."""
        try:
            return await self._run(self._write_sync, batch, ts_to_ms(self._clock.now()))
        except sqlite3.Error as err:
            raise JournalWriteFailed(
                f"sqlite journal {self.path}: write failed: {type(err).__name__}: {err}", location=str(self.path)
            ) from err

    # -- reads --------------------------------------------------------------------------------

    async def read(self, from_seq: int = 1, *, truncate_torn_tail: bool = False) -> AsyncIterator[JournalRecord]:
        self._check_open()
        expected = max(1, from_seq)
        while True:
            records, error = await self._run(self._read_page_sync, expected)
            for record in records:
                yield record
            if records:
                expected = records[-1].seq + 1
            if error is not None:
                if error.torn and truncate_torn_tail:
                    await self._run(self._truncate_sync, error.seq)
                    log.warning("journal_torn_tail_truncated", backend=self.backend, location=self.location,
                                seq=error.seq, reason=error.reason)
                    return
                raise error
            if len(records) < _PAGE:
                return

    async def last_seq(self) -> int:
        self._check_open()
        return await self._run(self._scalar_sync, "SELECT coalesce(max(seq), 0) FROM journal")

    async def current_epoch(self) -> int:
        self._check_open()
        return await self._run(self._scalar_sync, "SELECT epoch FROM fencing WHERE id = 1")

    # -- snapshots ----------------------------------------------------------------------------

    async def write_snapshot(self, state: EngineState, seq: int) -> None:
        self._check_open()
        if state.last_seq != seq:
            raise ValueError(f"snapshot seq {seq} does not match the state's last_seq {state.last_seq}")
        # Copy on the loop (cheap, values are immutable); serialise on the journal thread.
        try:
            await self._run(self._write_snapshot_sync, state.copy(), seq, ts_to_ms(self._clock.now()))
        except sqlite3.Error as err:
            raise JournalWriteFailed(
                f"sqlite journal {self.path}: snapshot failed: {type(err).__name__}: {err}", location=str(self.path)
            ) from err

    async def latest_snapshot(self) -> Snapshot | None:
        self._check_open()
        return await self._run(self._latest_snapshot_sync)

    # -- the journal thread -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalClosed(f"sqlite journal {self.path} has no connection")
        return self._conn

    def _open_sync(self) -> None:
        if self.read_only:
            if not self.path.exists():
                raise JournalError(f"sqlite journal {self.path}: no such file")
            try:
                self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                             isolation_level=None, check_same_thread=False, timeout=30.0)
                self._conn.execute("SELECT count(*) FROM fencing").fetchone()
            except sqlite3.DatabaseError as err:
                raise JournalError(f"sqlite journal {self.path}: cannot open read-only: {err}") from err
            return
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise JournalError(f"sqlite journal {self.path}: cannot enable WAL mode (got {mode!r})")
            sync = "NORMAL" if self.durability is Durability.OS else "FULL"
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            conn.close()
            raise JournalError(f"sqlite journal {self.path}: cannot open: {err}") from err
        self._conn = conn

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _scalar_sync(self, sql: str) -> int:
        return int(self._db().execute(sql).fetchone()[0])

    def _holder_sync(self) -> JournalHolder | None:
        try:
            row = self._db().execute(_HOLDER).fetchone()
        except sqlite3.OperationalError:  # a read-only open of a journal from before the holder table
            return None
        return JournalHolder.from_row(row) if row is not None else None

    def _claim_sync(self, holder: JournalHolder, wanted: int | None) -> int:
        if self.read_only:
            raise JournalError(f"sqlite journal {self.path} is opened read-only")
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            current = db.execute("SELECT epoch FROM fencing WHERE id = 1").fetchone()[0]
            epoch = epoch_to_claim(current, wanted, f"sqlite journal {self.path}")
            db.execute("UPDATE fencing SET epoch = ? WHERE id = 1", (epoch,))
            db.execute("INSERT OR REPLACE INTO holder (id, epoch, host, pid, instance, since_ms) "
                       "VALUES (1, ?, ?, ?, ?, ?)", dataclasses.replace(holder, epoch=epoch).to_row())
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return epoch

    def _write_sync(self, batch: Batch, ts_ms: int) -> list[int | BaseException]:
        if self.read_only:
            raise JournalError(f"sqlite journal {self.path} is opened read-only")
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            current = db.execute("SELECT epoch FROM fencing WHERE id = 1").fetchone()[0]
            last = db.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
            start_epoch = current
            holder = self._holder_sync() if is_fenced(batch, current) else None
            rows, results, current = fence_batch(batch, current=current, last=last, ts_ms=ts_ms,
                                                 where=f"sqlite journal {self.path}", holder=holder)
            if rows:
                db.executemany("INSERT INTO journal (seq, ts_ms, epoch, type, payload, checksum) "
                               "VALUES (?, ?, ?, ?, ?, ?)", rows)
            if current != start_epoch:
                db.execute("UPDATE fencing SET epoch = ? WHERE id = 1", (current,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    def _read_page_sync(self, from_seq: int) -> tuple[list[JournalRecord], CorruptRecord | None]:
        db = self._db()
        rows = db.execute(
            "SELECT seq, ts_ms, epoch, type, payload, checksum FROM journal WHERE seq >= ? ORDER BY seq LIMIT ?",
            (from_seq, _PAGE),
        ).fetchall()
        if not rows:
            return [], None
        max_seq = db.execute("SELECT max(seq) FROM journal").fetchone()[0]
        records: list[JournalRecord] = []
        expected = from_seq
        for row in rows:
            if row[0] != expected:
                return records, CorruptRecord(backend=self.backend, location=self.location, seq=expected,
                                              reason=f"missing record: next stored seq is {row[0]}")
            try:
                records.append(decode_record(row, backend=self.backend, location=self.location,
                                             is_last=row[0] == max_seq))
            except CorruptRecord as err:
                return records, err
            expected += 1
        return records, None

    def _truncate_sync(self, seq: int) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            max_seq = db.execute("SELECT max(seq) FROM journal").fetchone()[0]
            if max_seq != seq:
                raise JournalError(f"sqlite journal {self.path}: refusing to truncate seq {seq}: "
                                   f"it is no longer the last record (last is {max_seq})")
            db.execute("DELETE FROM journal WHERE seq = ?", (seq,))
            db.execute("DELETE FROM snapshots WHERE seq >= ?", (seq,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _write_snapshot_sync(self, state: EngineState, seq: int, ts_ms: int) -> None:
        text, digest = snapshot_text(state)
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            last = db.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
            if seq > last:
                raise JournalError(f"sqlite journal {self.path}: snapshot at seq {seq} is beyond "
                                   f"the last record {last}")
            db.execute("INSERT OR REPLACE INTO snapshots (seq, ts_ms, state_hash, state) VALUES (?, ?, ?, ?)",
                       (seq, ts_ms, digest, text))
            db.execute("DELETE FROM snapshots WHERE seq NOT IN "
                       "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)", (SNAPSHOTS_KEPT,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _latest_snapshot_sync(self) -> Snapshot | None:
        rows = self._db().execute(
            "SELECT seq, ts_ms, state_hash, state FROM snapshots ORDER BY seq DESC"
        ).fetchall()
        for seq, ts_ms, digest, text in rows:
            try:
                return load_snapshot(seq, ts_ms, digest, text)
            except (ValueError, ModelError) as err:
                log.error("journal_snapshot_corrupt_skipped", backend=self.backend,
                          location=f"{self.path} table snapshots", seq=seq, reason=str(err))
        return None
