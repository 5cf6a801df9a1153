"""The drill's own PostgreSQL journal schema (`drill_<time>`): made fresh for a drill whose config runs
HA (a leader and a standby share it), read for the report, then dropped, unless `nonstop drill --keep`.

Only a schema the drill named itself is ever dropped (`drill_` and the start time's digits); the
user's own journal schema is never touched.
"""

from __future__ import annotations

import os
import re

import asyncpg
import structlog

from nonstop.config import Settings
from nonstop.errors import ConfigError

log = structlog.get_logger("nonstop.drills")

_DRILL_SCHEMA = re.compile(r"^drill_[0-9]{1,20}$")


def drill_schema(started: float) -> str:
    """The schema name of a drill started at `started` (epoch seconds)."""
    return f"drill_{int(started)}"


def schema_of(settings: Settings) -> str | None:
    """The drill's own schema in the drill's engine settings, or None (SQLite, or a schema not the drill's)."""
    journal = settings.engine.journal
    if journal.backend != "postgres" or not _DRILL_SCHEMA.match(journal.schema_name):
        return None
    return journal.schema_name


async def drop_drill_schema(settings: Settings) -> str | None:
    """Drop the drill's schema with everything in it; the name dropped, or None when there is none."""
    schema = schema_of(settings)
    if schema is None:
        return None
    dsn = os.environ.get(settings.engine.journal.dsn_env)
    if not dsn:
        raise ConfigError(f"the drill's journal schema {schema} cannot be dropped: environment variable "
                          f"{settings.engine.journal.dsn_env} (its DSN) is not set")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # the name matched _DRILL_SCHEMA
    finally:
        await conn.close()
    log.info("drill_schema_dropped", schema=schema)
    return schema
