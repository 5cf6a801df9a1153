"""The configured journal: SQLite at `<data_dir>/journal.sqlite` by default, or PostgreSQL whose DSN
(a secret) comes from the environment variable the config names."""

from __future__ import annotations

import os
from pathlib import Path

from nonstop.config import Settings
from nonstop.errors import ConfigError
from nonstop.journal import Durability, Journal, PostgresJournal, SQLiteJournal


def journal_path(settings: Settings) -> Path:
    """The SQLite file of the configured journal."""
    return Path(settings.engine.journal.path or settings.data_dir / "journal.sqlite")


def open_journal(settings: Settings, *, read_only: bool = False) -> Journal:
    """The configured journal (not yet opened); `read_only` opens a SQLite file without writing to it."""
    cfg = settings.engine.journal
    durability = Durability(cfg.durability)
    if cfg.backend == "postgres":
        dsn = os.environ.get(cfg.dsn_env)
        if not dsn:
            raise ConfigError(
                f"engine.journal.backend = 'postgres' needs the DSN in environment variable {cfg.dsn_env}"
            )
        ha = settings.engine.ha
        return PostgresJournal(dsn, schema=cfg.schema_name, durability=durability,
                               idle_in_transaction_timeout_s=ha.lease_ttl_s if ha.role == "auto" else None)
    path = journal_path(settings)
    if read_only:
        return SQLiteJournal(path, durability=durability, read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteJournal(path, durability=durability)


def journal_name(settings: Settings) -> str:
    """The journal's location, for messages (never the DSN: it may hold a password)."""
    cfg = settings.engine.journal
    if cfg.backend == "postgres":
        return f"PostgreSQL schema {cfg.schema_name!r}"
    return str(cfg.path or settings.data_dir / "journal.sqlite")
