"""The leader lease of one instance, in PostgreSQL: holder, epoch and expiry (M13).

One row per instance in `<schema>.leases` (the journal's schema), so several instances share one
database and each has its own leader. Every operation is ONE statement, and the expiry is always
computed by the database clock (`clock_timestamp() + ttl`), so the machines need no synchronised
clocks:

- `acquire` takes the row only when it is free or expired; in the same statement the epoch becomes
  `greatest(lease epoch, journal fencing epoch) + 1`, so the new leader's epoch fences the journal
  against every earlier writer (`Journal.claim_epoch`);
- `renew` extends the expiry while holder and epoch are still ours;
- `release` ends the lease now (a clean stop hands over without waiting for the TTL).

The leader does not trust PostgreSQL to tell it when it lost: `LeaseClock` keeps its OWN monotonic
deadline. A renewal that starts at monotonic `t0` and succeeds moves the deadline to
`t0 + ttl * (1 - DRIFT)`. The database computed its expiry after `t0`, so the local deadline ends
before the database's, by at least the clock-rate drift `DRIFT` covers. `may_send()` is a comparison
with that deadline, nothing more: a paused, partitioned or slow leader stops sending the moment its
deadline passes, before any answer from PostgreSQL, and a standby can only acquire after it.

Written here rather than taken from a library: no asyncio PostgreSQL lease library computes the
expiry on the server and gives the holder a local monotonic deadline, which fencing needs.
The DSN (it may hold a password) never reaches a message or a log line.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from nonstop.clock import Clock
from nonstop.errors import JournalError

DRIFT = 0.05  # share of the TTL kept as margin for clock-rate drift between this host and the database
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class LeaseError(JournalError):
    """The lease store could not be reached or answered with an error (the outcome may be unknown)."""


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """The lease as the database holds it; `db_now` is the database clock when it was read."""

    instance: str
    holder: str
    epoch: int
    expires_at: datetime
    acquired_at: datetime
    db_now: datetime
    previous_holder: str | None = None  # on acquire: who held it before (None: nobody, or released)

    @property
    def live(self) -> bool:
        return self.expires_at > self.db_now

    @property
    def remaining_s(self) -> float:
        return (self.expires_at - self.db_now).total_seconds()

    def to_dict(self) -> dict[str, object]:
        return {"instance": self.instance, "holder": self.holder, "epoch": self.epoch,
                "expires_at": self.expires_at.isoformat(), "acquired_at": self.acquired_at.isoformat(),
                "live": self.live, "remaining_s": round(self.remaining_s, 3)}


def _ddl(s: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.leases (
    instance TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL, acquired_at TIMESTAMPTZ NOT NULL, released BOOLEAN NOT NULL DEFAULT false);
CREATE OR REPLACE FUNCTION {s}.notify_journal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{s}_journal', ''); RETURN NULL; END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'journal_appended'
                   AND tgrelid = '{s}.journal'::regclass) THEN
        CREATE TRIGGER journal_appended AFTER INSERT ON {s}.journal
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.notify_journal();
    END IF;
END $$;
"""


_COLS = "instance, holder, epoch, expires_at, acquired_at, clock_timestamp() AS db_now"


class LeaseStore:
    """The lease statements on one dedicated connection (reconnected after an error)."""

    def __init__(self, dsn: str, *, schema: str, instance: str, timeout_s: float = 5.0) -> None:
        if not _SCHEMA.match(schema):
            raise ValueError(f"schema {schema!r} must match {_SCHEMA.pattern}")
        self._dsn = dsn
        self.schema = schema
        self.instance = instance
        self.timeout_s = timeout_s
        self._conn: asyncpg.Connection | None = None
        self._listeners: list[tuple[str, object]] = []

    @property
    def channel(self) -> str:
        """The NOTIFY channel a journal append signals on."""
        return f"{self.schema}_journal"

    async def connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            try:
                self._conn = await asyncpg.connect(
                    self._dsn, timeout=self.timeout_s, command_timeout=self.timeout_s,
                    server_settings={"application_name": "nonstop-lease"})
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                raise LeaseError(f"lease store {self.schema}: connect failed: {type(err).__name__}: {err}") from err
            for channel, callback in self._listeners:
                await self._conn.add_listener(channel, callback)
        return self._conn

    async def _fetchrow(self, what: str, sql: str, *args: object) -> asyncpg.Record | None:
        try:
            conn = await self.connection()
            return await conn.fetchrow(sql, *args)
        except asyncio.CancelledError:
            self._drop()  # a statement cut short leaves the connection unusable
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            self._drop()
            raise LeaseError(f"lease store {self.schema}: {what} failed: {type(err).__name__}: {err}") from err

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def ensure_schema(self) -> None:
        """Create the lease table and the journal's append notification (idempotent, serialised)."""
        s = self.schema
        try:
            conn = await self.connection()
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"nonstop:{s}")
                await conn.execute(_ddl(s))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            self._drop()
            raise LeaseError(f"lease store {s}: creating the lease table failed: {type(err).__name__}: {err}") from err

    async def listen(self, callback: object) -> None:
        """Call `callback` (an asyncpg listener) on every journal append notification."""
        self._listeners.append((self.channel, callback))
        conn = await self.connection()
        await conn.add_listener(self.channel, callback)  # type: ignore[arg-type]

    @staticmethod
    def _row(rec: asyncpg.Record | None, previous: str | None = None) -> LeaseRow | None:
        if rec is None:
            return None
        return LeaseRow(rec["instance"], rec["holder"], int(rec["epoch"]), rec["expires_at"], rec["acquired_at"],
                        rec["db_now"], previous)

    async def acquire(self, holder: str, ttl_s: float) -> LeaseRow | None:
        """Take the lease if it is free, released or expired; None while someone else holds it."""
        s = self.schema
        rec = await self._fetchrow("acquire", f"""
            WITH fence AS (SELECT coalesce((SELECT epoch FROM {s}.fencing WHERE id = 1), 0) AS epoch),
                 old AS (SELECT holder, released, expires_at FROM {s}.leases WHERE instance = $1)
            INSERT INTO {s}.leases AS l (instance, holder, epoch, expires_at, acquired_at)
            VALUES ($1, $2, (SELECT epoch FROM fence) + 1,
                    clock_timestamp() + make_interval(secs => $3), clock_timestamp())
            ON CONFLICT (instance) DO UPDATE
                SET holder = EXCLUDED.holder, released = false,
                    epoch = greatest(l.epoch, (SELECT epoch FROM fence)) + 1,
                    expires_at = EXCLUDED.expires_at, acquired_at = EXCLUDED.acquired_at
                WHERE l.expires_at <= clock_timestamp() OR l.released
            RETURNING {_COLS},
                (SELECT CASE WHEN old.released THEN NULL ELSE old.holder END FROM old) AS previous
            """, self.instance, holder, float(ttl_s))
        return self._row(rec, rec["previous"] if rec is not None else None)

    async def renew(self, holder: str, epoch: int, ttl_s: float) -> LeaseRow | None:
        """Extend our lease; None when it is no longer ours (taken over or released)."""
        rec = await self._fetchrow("renew", f"""
            UPDATE {self.schema}.leases SET expires_at = clock_timestamp() + make_interval(secs => $4)
            WHERE instance = $1 AND holder = $2 AND epoch = $3 AND NOT released RETURNING {_COLS}
            """, self.instance, holder, epoch, float(ttl_s))
        return self._row(rec)

    async def release(self, holder: str, epoch: int) -> bool:
        """End our lease now (a standby may acquire at once); False if it was not ours any more."""
        rec = await self._fetchrow("release", f"""
            UPDATE {self.schema}.leases SET released = true, expires_at = clock_timestamp()
            WHERE instance = $1 AND holder = $2 AND epoch = $3 RETURNING {_COLS}
            """, self.instance, holder, epoch)
        return rec is not None

    async def read(self) -> LeaseRow | None:
        """The lease row of this instance (None if no engine ever led it)."""
        return self._row(await self._fetchrow(
            "read", f"SELECT {_COLS} FROM {self.schema}.leases WHERE instance = $1", self.instance))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=1.0)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()


class LeaseClock:
    """The holder's own view of its lease: a monotonic deadline moved only by successful renewals."""

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self.deadline = float("-inf")

    def renewed(self, started_at: float) -> None:
        """A renewal (or the acquire) that was sent at monotonic `started_at` succeeded."""
        self.deadline = max(self.deadline, started_at + self.ttl_s * (1 - DRIFT))

    def may_send(self) -> bool:
        """True while the lease is certainly ours; the cheap check before any byte leaves."""
        return self.clock.monotonic() < self.deadline

    @property
    def remaining_s(self) -> float:
        return self.deadline - self.clock.monotonic()

    def expire(self) -> None:
        self.deadline = float("-inf")
