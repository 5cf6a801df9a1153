"""PostgresJournal: the multi-machine journal (asyncpg), same semantics as SQLiteJournal.

Fencing: every write runs in one transaction that first locks the single `fencing` row
(`SELECT epoch ... FOR UPDATE`), compares the writer's epoch, then reads the last seq and
inserts. Writers on any number of machines are therefore serialised by that row lock, and a
writer with a stale epoch writes nothing. Durability maps to `synchronous_commit`
(`on` for FSYNC and GROUP, `off` for OS); GROUP batches concurrent appends into one
transaction with the same `GroupCommitter` as SQLite.

Payloads are stored as TEXT, not JSONB: JSONB re-orders keys and would break the checksum.
Network and server errors are translated to `JournalError` here; an append that fails that
way has an UNKNOWN outcome (the commit may have happened), which the message says.
The DSN is never put in a message or a log line (it may hold a password).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
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

log = structlog.get_logger("nonstop.journal")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PAGE = 2000
POOL_CLOSE_TIMEOUT_S = 5.0
_COLUMNS = ("seq", "ts_ms", "epoch", "type", "payload", "checksum")


def _ddl(s: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.journal (
    seq BIGINT PRIMARY KEY, ts_ms BIGINT NOT NULL, epoch BIGINT NOT NULL,
    type TEXT NOT NULL, payload TEXT NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.fencing (id INT PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL);
INSERT INTO {s}.fencing (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS {s}.snapshots (
    seq BIGINT PRIMARY KEY, ts_ms BIGINT NOT NULL, state_hash TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.holder (
    id INT PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL, host TEXT NOT NULL,
    pid BIGINT NOT NULL, instance TEXT NOT NULL, since_ms BIGINT NOT NULL);
"""


class PostgresJournal:
    """The `Journal` in one PostgreSQL schema (tables `journal`, `fencing`, `snapshots`)."""

    backend = "postgres"

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "nonstop",
        durability: Durability = Durability.FSYNC,
        clock: Clock | None = None,
        max_batch: int = 512,
        pool_size: int = 4,
        command_timeout: float = 30.0,
        idle_in_transaction_timeout_s: float | None = None,
    ) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema {schema!r} must match {_SCHEMA_NAME.pattern}")
        self._dsn = dsn
        self.schema = schema
        self.durability = Durability(durability)
        self._clock = clock or LiveClock()
        self._max_batch = max_batch
        self._pool_size = pool_size
        self._command_timeout = command_timeout
        # HA: a writer paused or cut off inside a write transaction holds the fencing row lock; the
        # server ends such a session after this long, so a new leader's claim is never blocked by it
        self._idle_tx_timeout_ms = int(idle_in_transaction_timeout_s * 1000) if idle_in_transaction_timeout_s else None
        self._pool: asyncpg.Pool | None = None
        self._group: GroupCommitter | None = None
        self._write_lock = asyncio.Lock()
        self._status = "new"

    @property
    def location(self) -> str:
        return f"table {self.schema}.journal"

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        if self._status != "new":
            raise JournalError(f"postgres journal {self.schema} is {self._status}; open() is allowed once")
        self._status = "opening"
        try:
            async with self._translate("open"):
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    command_timeout=self._command_timeout,
                    server_settings={
                        "synchronous_commit": "off" if self.durability is Durability.OS else "on",
                        "application_name": "nonstop-journal",
                        **({"idle_in_transaction_session_timeout": str(self._idle_tx_timeout_ms)}
                           if self._idle_tx_timeout_ms else {}),
                    },
                )
                async with self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"nonstop:{self.schema}")
                    await conn.execute(_ddl(self.schema))
        except BaseException:
            self._status = "closed"
            if self._pool is not None:
                await self._pool.close()
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
        finally:
            self._status = "closed"
            pool, self._pool = self._pool, None
            if pool is not None:
                try:  # a graceful close needs the server; one that went away gets its sockets dropped
                    async with asyncio.timeout(POOL_CLOSE_TIMEOUT_S):
                        await pool.close()
                except (TimeoutError, asyncpg.InterfaceError, OSError) as err:
                    log.warning("postgres_pool_terminated", schema=self.schema, error=repr(err))
                    pool.terminate()

    def terminate(self) -> None:
        """Drop every connection now, without waiting for queries in flight (they fail with
        JournalError). For a fenced writer cut off from the server: its appends are refused anyway,
        and a graceful close would wait for the network to time out. `close()` still follows."""
        if self._pool is not None:
            self._pool.terminate()

    async def __aenter__(self) -> PostgresJournal:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _check_open(self) -> asyncpg.Pool:
        if self._status != "open" or self._pool is None:
            raise JournalClosed(f"postgres journal {self.schema} is {self._status}, not open")
        return self._pool

    @asynccontextmanager
    async def _translate(self, what: str) -> AsyncIterator[None]:
        """The one place asyncpg and socket errors become JournalError."""
        try:
            yield
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as err:
            unknown = " (outcome unknown: the write may have been committed)" if what == "append" else ""
            message = f"postgres journal {self.schema}: {what} failed: {type(err).__name__}: {err}{unknown}"
            if what in ("append", "write_snapshot"):
                raise JournalWriteFailed(message, location=self.location, outcome_unknown=what == "append") from err
            raise JournalError(message) from err

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
            await self._claim(holder, epoch)

    async def claim_next_epoch(self, holder: JournalHolder) -> int:
        return await self._claim(holder, None)

    async def _claim(self, holder: JournalHolder, wanted: int | None) -> int:
        pool = self._check_open()
        s = self.schema
        async with self._translate("claim"), pool.acquire() as conn, conn.transaction():
            current = int(await conn.fetchval(f"SELECT epoch FROM {s}.fencing WHERE id = 1 FOR UPDATE"))
            epoch = epoch_to_claim(current, wanted, f"postgres journal {s}")
            await conn.execute(f"UPDATE {s}.fencing SET epoch = $1 WHERE id = 1", epoch)
            await conn.execute(
                f"INSERT INTO {s}.holder (id, epoch, host, pid, instance, since_ms) VALUES (1, $1, $2, $3, $4, $5) "
                "ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch, host = EXCLUDED.host, pid = EXCLUDED.pid, "
                "instance = EXCLUDED.instance, since_ms = EXCLUDED.since_ms",
                *dataclasses.replace(holder, epoch=epoch).to_row())
        return epoch

    async def holder(self) -> JournalHolder | None:
        pool = self._check_open()
        async with self._translate("holder"):
            row = await pool.fetchrow(self._holder_sql())
        return JournalHolder.from_row(tuple(row)) if row is not None else None

    def _holder_sql(self) -> str:
        return f"SELECT epoch, host, pid, instance, since_ms FROM {self.schema}.holder WHERE id = 1"

    def dedicated_connection_args(self) -> tuple[str, dict[str, Any]]:
        """The DSN and options for a connection of one's own (the single-instance lock holds one)."""
        return self._dsn, {"timeout": self._command_timeout}

    async def _write(self, items: list[tuple[str, str]], epoch: int) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        if self._group is not None:
            return await self._group.submit(items, epoch)
        async with self._write_lock:
            (result,) = await self._write_batch([(items, epoch)])
        if isinstance(result, BaseException):
            raise result
        return result

    async def _write_group(self, batch: list[PendingAppend]) -> list[int | BaseException]:
        return await self._write_batch([(p.items, p.epoch) for p in batch])

    async def _write_batch(self, batch: Batch) -> list[int | BaseException]:
        pool = self._pool  # also used while closing, to drain the group commit queue
        if pool is None:
            raise JournalClosed(f"postgres journal {self.schema} is {self._status}, not open")
        s = self.schema
        ts_ms = ts_to_ms(self._clock.now())
        async with self._translate("append"), pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval(f"SELECT epoch FROM {s}.fencing WHERE id = 1 FOR UPDATE")
            last = await conn.fetchval(f"SELECT coalesce(max(seq), 0) FROM {s}.journal")
            start_epoch = current
            holder = None
            if is_fenced(batch, current):
                row = await conn.fetchrow(self._holder_sql())
                holder = JournalHolder.from_row(tuple(row)) if row is not None else None
            rows, results, current = fence_batch(batch, current=current, last=last, ts_ms=ts_ms,
                                                 where=f"postgres journal {s}", holder=holder)
            if rows:
                await conn.copy_records_to_table("journal", records=rows, columns=_COLUMNS, schema_name=s)
            if current != start_epoch:
                await conn.execute(f"UPDATE {s}.fencing SET epoch = $1 WHERE id = 1", current)
        return results

    # -- reads --------------------------------------------------------------------------------

    async def read(self, from_seq: int = 1, *, truncate_torn_tail: bool = False) -> AsyncIterator[JournalRecord]:
        pool = self._check_open()
        s = self.schema
        expected = max(1, from_seq)
        while True:
            async with self._translate("read"), pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT seq, ts_ms, epoch, type, payload, checksum FROM {s}.journal "
                    "WHERE seq >= $1 ORDER BY seq LIMIT $2", expected, _PAGE)
                max_seq = await conn.fetchval(f"SELECT max(seq) FROM {s}.journal") if rows else None
            records, error = await asyncio.to_thread(
                self._decode_page, [tuple(r) for r in rows], expected, max_seq)
            for record in records:
                yield record
            if records:
                expected = records[-1].seq + 1
            if error is not None:
                if error.torn and truncate_torn_tail:
                    await self._truncate(error.seq)
                    log.warning("journal_torn_tail_truncated", backend=self.backend, location=self.location,
                                seq=error.seq, reason=error.reason)
                    return
                raise error
            if len(rows) < _PAGE:
                return

    def _decode_page(
        self, rows: list[tuple[Any, ...]], expected: int, max_seq: int | None
    ) -> tuple[list[JournalRecord], CorruptRecord | None]:
        records: list[JournalRecord] = []
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

    async def _truncate(self, seq: int) -> None:
        pool = self._check_open()
        s = self.schema
        async with self._translate("truncate"), pool.acquire() as conn, conn.transaction():
            await conn.fetchval(f"SELECT epoch FROM {s}.fencing WHERE id = 1 FOR UPDATE")
            max_seq = await conn.fetchval(f"SELECT max(seq) FROM {s}.journal")
            if max_seq != seq:
                raise JournalError(f"postgres journal {s}: refusing to truncate seq {seq}: "
                                   f"it is no longer the last record (last is {max_seq})")
            await conn.execute(f"DELETE FROM {s}.journal WHERE seq = $1", seq)
            await conn.execute(f"DELETE FROM {s}.snapshots WHERE seq >= $1", seq)

    async def last_seq(self) -> int:
        pool = self._check_open()
        async with self._translate("last_seq"):
            return int(await pool.fetchval(f"SELECT coalesce(max(seq), 0) FROM {self.schema}.journal"))

    async def current_epoch(self) -> int:
        pool = self._check_open()
        async with self._translate("current_epoch"):
            return int(await pool.fetchval(f"SELECT epoch FROM {self.schema}.fencing WHERE id = 1"))

    # -- snapshots ----------------------------------------------------------------------------

    async def write_snapshot(self, state: EngineState, seq: int) -> None:
        pool = self._check_open()
        if state.last_seq != seq:
            raise ValueError(f"snapshot seq {seq} does not match the state's last_seq {state.last_seq}")
        text, digest = await asyncio.to_thread(snapshot_text, state.copy())
        s = self.schema
        ts_ms = ts_to_ms(self._clock.now())
        async with self._translate("write_snapshot"), pool.acquire() as conn, conn.transaction():
            last = await conn.fetchval(f"SELECT coalesce(max(seq), 0) FROM {s}.journal")
            if seq > last:
                raise JournalError(f"postgres journal {s}: snapshot at seq {seq} is beyond the last record {last}")
            await conn.execute(
                f"INSERT INTO {s}.snapshots (seq, ts_ms, state_hash, state) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (seq) DO UPDATE SET ts_ms = EXCLUDED.ts_ms, state_hash = EXCLUDED.state_hash, "
                "state = EXCLUDED.state", seq, ts_ms, digest, text)
            await conn.execute(
                f"DELETE FROM {s}.snapshots WHERE seq NOT IN "
                f"(SELECT seq FROM {s}.snapshots ORDER BY seq DESC LIMIT $1)", SNAPSHOTS_KEPT)

    async def latest_snapshot(self) -> Snapshot | None:
        pool = self._check_open()
        async with self._translate("latest_snapshot"):
            rows = await pool.fetch(
                f"SELECT seq, ts_ms, state_hash, state FROM {self.schema}.snapshots ORDER BY seq DESC")
        for row in rows:
            try:
                return await asyncio.to_thread(load_snapshot, row[0], row[1], row[2], row[3])
            except (ValueError, ModelError) as err:
                log.error("journal_snapshot_corrupt_skipped", backend=self.backend,
                          location=f"table {self.schema}.snapshots", seq=row[0], reason=str(err))
        return None
