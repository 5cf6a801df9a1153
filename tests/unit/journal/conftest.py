"""Journal backends for the conformance suite: SQLite in every durability mode, and PostgreSQL.

Each `Backend` makes journals on one store (a fresh file or a fresh schema per test) and can
damage that store with raw SQL, behind the journal's back, the way a disk or an operator would.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

# `tests/pg.py` is shared with other test folders; make the repository root importable.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.pg import PgServer, make_postgres_fixture  # noqa: E402

from nonstop.journal import Durability, Journal, PostgresJournal, SQLiteJournal  # noqa: E402

postgres_server = make_postgres_fixture()


@dataclass
class Backend:
    kind: str  # "sqlite" | "postgres"
    durability: Durability
    path: Path | None = None
    dsn: str | None = None
    schema: str | None = None

    def make(self, durability: Durability | None = None) -> Journal:
        mode = durability or self.durability
        if self.kind == "sqlite":
            assert self.path is not None
            return SQLiteJournal(self.path, durability=mode)
        assert self.dsn is not None and self.schema is not None
        return PostgresJournal(self.dsn, schema=self.schema, durability=mode)

    async def raw(self, sqlite_sql: str, pg_sql: str, *args: Any) -> None:
        """Run one statement directly on the store (sqlite `?` / postgres `$n` placeholders)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                conn.execute(sqlite_sql, args)
            return
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(pg_sql.replace("{s}", str(self.schema)), *args)
        finally:
            await conn.close()

    async def set_payload(self, seq: int, payload: str) -> None:
        await self.raw("UPDATE journal SET payload = ? WHERE seq = ?",
                       "UPDATE {s}.journal SET payload = $1 WHERE seq = $2", payload, seq)

    async def set_checksum(self, seq: int, checksum: str) -> None:
        await self.raw("UPDATE journal SET checksum = ? WHERE seq = ?",
                       "UPDATE {s}.journal SET checksum = $1 WHERE seq = $2", checksum, seq)

    async def delete_record(self, seq: int) -> None:
        await self.raw("DELETE FROM journal WHERE seq = ?", "DELETE FROM {s}.journal WHERE seq = $1", seq)

    async def damage_snapshot(self, seq: int) -> None:
        await self.raw("UPDATE snapshots SET state = replace(state, '\"orders\"', '\"ordres\"') WHERE seq = ?",
                       "UPDATE {s}.snapshots SET state = replace(state, '\"orders\"', '\"ordres\"') WHERE seq = $1",
                       seq)


BACKENDS = [
    pytest.param(("sqlite", Durability.FSYNC), id="sqlite-fsync"),
    pytest.param(("sqlite", Durability.GROUP), id="sqlite-group"),
    pytest.param(("sqlite", Durability.OS), id="sqlite-os"),
    pytest.param(("postgres", Durability.FSYNC), id="postgres-fsync", marks=pytest.mark.postgres),
    pytest.param(("postgres", Durability.GROUP), id="postgres-group", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    kind, durability = request.param
    if kind == "sqlite":
        return Backend(kind, durability, path=tmp_path / "journal.db")
    server: PgServer = request.getfixturevalue("postgres_server")
    return Backend(kind, durability, dsn=server.dsn, schema=f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def journal(backend: Backend) -> AsyncIterator[Journal]:
    j = backend.make()
    await j.open()
    try:
        yield j
    finally:
        await j.close()
