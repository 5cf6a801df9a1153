"""`nonstop drill` on a PostgreSQL (HA) config journals into a fresh `drill_<time>` schema: at the end it
is dropped, unless `--keep`; the user's own schema is never touched. A real server (tests/pg.py)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from nonstop.config import EngineSettings, JournalSettings, Settings
from nonstop.drills import DrillOptions, clean_up_schema
from nonstop.drills.journal_schema import drill_schema
from tests.pg import PgServer

pytestmark = pytest.mark.postgres


async def _schemas(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
    finally:
        await conn.close()


async def _make(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'CREATE TABLE "{schema}".events (seq bigint PRIMARY KEY)')
    finally:
        await conn.close()


def _settings(schema: str) -> Settings:
    return Settings(engine=EngineSettings(journal=JournalSettings(backend="postgres", schema_name=schema)))


async def test_drill_schema_dropped_at_the_end_kept_with_keep_and_the_users_never_touched(
    postgres_server: PgServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NONSTOP_PG_DSN", postgres_server.dsn)
    dropped, kept, users = drill_schema(1_700_000_001), drill_schema(1_700_000_002), "nonstop"
    for schema in (dropped, kept, users):
        await _make(postgres_server.dsn, schema)
    await clean_up_schema(_settings(dropped), DrillOptions(config=None, out=tmp_path))
    await clean_up_schema(_settings(kept), DrillOptions(config=None, out=tmp_path, keep_schema=True))
    await clean_up_schema(_settings(users), DrillOptions(config=None, out=tmp_path))  # not the drill's: never dropped
    left = await _schemas(postgres_server.dsn)
    assert dropped not in left
    assert kept in left and users in left
