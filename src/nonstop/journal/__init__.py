"""The durable journal: append-only, fenced, checksummed events and snapshots; replay.

`SQLiteJournal` is the single-machine default, `PostgresJournal` the multi-machine store;
both implement `Journal` and pass the same conformance suite.
"""

from nonstop.journal.base import Durability, Journal, JournalRecord, Snapshot
from nonstop.journal.postgres import PostgresJournal
from nonstop.journal.replay import replay
from nonstop.journal.sqlite import SQLiteJournal

__all__ = [
    "Durability",
    "Journal",
    "JournalRecord",
    "PostgresJournal",
    "SQLiteJournal",
    "Snapshot",
    "replay",
]
