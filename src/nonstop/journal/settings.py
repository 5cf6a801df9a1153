"""`[engine.journal]`: where the journal lives (SQLite file or PostgreSQL schema), how durable an
append is, and how often the state is snapshotted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from nonstop.config_section import Section


class JournalSettings(Section):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: Path | None = None  # SQLite file; default <data_dir>/journal.sqlite
    dsn_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,40}$")] = "NONSTOP_PG_DSN"  # PostgreSQL DSN (secret)
    schema_name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,40}$")] = "nonstop"
    durability: Literal["fsync", "group", "os"] = "group"
    snapshot_every: Annotated[int, Field(ge=100, le=10_000_000)] = 5000
    # a finished order without fills leaves the live state this long after it finished (event time);
    # it stays in the journal (see nonstop.execution.archive)
    archive_after_h: Annotated[float, Field(ge=1, le=8760)] = 24.0
