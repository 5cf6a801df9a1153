"""A local OHLCV cache in SQLite: fetched incrementally, gaps detected and back-filled.

`OhlcvCache.candles(symbol, timeframe, start, end)` returns the closed candles of [start, end) and
fetches only what the file does not hold yet: the missing open times are grouped into contiguous
runs and each run is fetched in pages (`page_limit` candles per request, at most `max_pages` per
call, every request time-boxed by `request_timeout_s`). A second start over a cached range makes no
request; a hole (a crash between two runs, a row lost) is found the same way and back-filled.

Only closed candles are stored (open time + step <= now), so a cached candle never changes. A
slot the venue skipped although it returned later candles (no trades in that minute, on a venue that
omits such candles) is stored as known-empty, so it is not asked for again; a slot past the last
candle the venue returned stays missing and is retried next time.

The fetch callable has ccxt's `fetch_ohlcv(symbol, timeframe, since, limit)` signature, so a ccxt
client's bound method plugs in directly. SQLite runs on one dedicated thread (the connection lives
there); the event loop never waits on the disk (invariant 8). The file is this cache's own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from nonstop.clock import Clock, utc_ms
from nonstop.connectivity._aio import run_with_timeout
from nonstop.data.settings import HistorySettings
from nonstop.errors import NonstopError

__all__ = ["TIMEFRAME_MS", "Candle", "FetchOhlcv", "HistoryError", "OhlcvCache"]

FetchOhlcv = Callable[[str, str, int, int], Awaitable[list[list[Any]]]]
T = TypeVar("T")

TIMEFRAME_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS candles (
    venue TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, open_ms INTEGER NOT NULL,
    open TEXT, high TEXT, low TEXT, close TEXT, volume TEXT, empty INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (venue, symbol, timeframe, open_ms)
) WITHOUT ROWID
"""


class HistoryError(NonstopError):
    """The history cache was misused or got an answer it cannot store (names what and where)."""


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed OHLCV candle; `open_time` is aware UTC."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @property
    def open_ms(self) -> int:
        return utc_ms(self.open_time)


def _dec(value: Any, where: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except ArithmeticError as err:
        raise HistoryError(f"{where}: {value!r} is not a number") from err
    if not d.is_finite():
        raise HistoryError(f"{where}: {value!r} is not a finite number")
    return d


class OhlcvCache:
    """OHLCV candles of one venue, cached in a SQLite file. Use as `async with OhlcvCache(...)`."""

    def __init__(
        self,
        path: Path,
        venue: str,
        fetch: FetchOhlcv,
        clock: Clock,
        settings: HistorySettings | None = None,
    ) -> None:
        self.path = Path(path)
        self.venue = venue
        self.fetch = fetch
        self.clock = clock
        self.settings = settings or HistorySettings()
        self.requests = 0  # fetch calls made by this instance
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def __aenter__(self) -> OhlcvCache:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._pool is not None:
            raise HistoryError(f"history cache {self.path} is already open")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        await self._db(self._connect)

    async def close(self) -> None:
        if self._pool is None:
            return
        try:
            await self._db(self._disconnect)
        finally:
            self._pool.shutdown(wait=True)
            self._pool = None

    # ------------------------------------------------------------ public API
    async def candles(self, symbol: str, timeframe: str, start: datetime, end: datetime) -> list[Candle]:
        """Closed candles with open time in [start, end), fetching only what is missing."""
        step, lo, hi = self._range(timeframe, start, end)
        for run_lo, run_hi in await self._db(lambda: self._missing(symbol, timeframe, step, lo, hi)):
            await self._fill(symbol, timeframe, step, run_lo, run_hi)
        return await self._db(lambda: self._read(symbol, timeframe, lo, hi))

    async def gaps(
        self, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The runs of [start, end) (closed candles only) not in the cache, without fetching anything."""
        step, lo, hi = self._range(timeframe, start, end)
        runs = await self._db(lambda: self._missing(symbol, timeframe, step, lo, hi))
        return [(_dt(a), _dt(b)) for a, b in runs]

    # -------------------------------------------------------------- fetching
    def _range(self, timeframe: str, start: datetime, end: datetime) -> tuple[int, int, int]:
        step = TIMEFRAME_MS.get(timeframe)
        if step is None:
            raise HistoryError(f"timeframe {timeframe!r} is unknown; allowed: {', '.join(TIMEFRAME_MS)}")
        if start.tzinfo is None or end.tzinfo is None:
            raise HistoryError("start and end must be timezone-aware (UTC)")
        lo = utc_ms(start) // step * step
        closed_until = utc_ms(self.clock.now()) // step * step  # candles opening before this are closed
        hi = min(-(-utc_ms(end) // step) * step, closed_until)
        return step, lo, max(lo, hi)

    async def _fill(self, symbol: str, timeframe: str, step: int, lo: int, hi: int) -> None:
        since, pages, limit = lo, 0, self.settings.page_limit
        while since < hi:
            if pages >= self.settings.max_pages:
                raise HistoryError(
                    f"history {self.venue} {symbol} {timeframe}: more than max_pages={self.settings.max_pages} requests"
                )
            pages += 1
            self.requests += 1
            rows = await run_with_timeout(
                self.clock, self.settings.request_timeout_s, lambda s=since: self.fetch(symbol, timeframe, s, limit)
            )
            candles = self._parse(rows, symbol, timeframe, step, hi)
            if not candles:
                return  # the venue has nothing from `since` on: leave the rest missing, retry next time
            last = candles[-1][0]
            await self._db(lambda c=candles, s=since, e=last: self._store(symbol, timeframe, step, c, s, e))
            since = last + step

    def _parse(self, rows: Sequence[Any], symbol: str, timeframe: str, step: int, hi: int) -> list[tuple[Any, ...]]:
        out: dict[int, tuple[Any, ...]] = {}
        for i, row in enumerate(rows):
            where = f"history {self.venue} {symbol} {timeframe} row {i}"
            if not isinstance(row, list | tuple) or len(row) < 6:
                raise HistoryError(f"{where}: expected [time, open, high, low, close, volume], got {row!r}")
            open_ms = int(row[0])
            if open_ms % step:
                raise HistoryError(f"{where}: open time {open_ms} is not on a {timeframe} boundary")
            if open_ms >= hi:
                continue  # not closed yet, or beyond what was asked
            o, h, lo_, c, v = (_dec(x, where) for x in row[1:6])
            out[open_ms] = (open_ms, str(o), str(h), str(lo_), str(c), str(v))
        return [out[k] for k in sorted(out)]

    # --------------------------------------------------- SQLite (own thread)
    async def _db(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            raise HistoryError(f"history cache {self.path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last page on power loss is harmless
        conn.execute(_SCHEMA)
        conn.commit()
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _conn_(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HistoryError(f"history cache {self.path} is not open")
        return self._conn

    def _missing(self, symbol: str, timeframe: str, step: int, lo: int, hi: int) -> list[tuple[int, int]]:
        have = {
            r[0]
            for r in self._conn_().execute(
                "SELECT open_ms FROM candles WHERE venue=? AND symbol=? AND timeframe=? AND open_ms>=? AND open_ms<?",
                (self.venue, symbol, timeframe, lo, hi),
            )
        }
        runs: list[tuple[int, int]] = []
        t = lo
        while t < hi:
            if t in have:
                t += step
                continue
            run_start = t
            while t < hi and t not in have:
                t += step
            runs.append((run_start, t))
        return runs

    def _store(
        self, symbol: str, timeframe: str, step: int, candles: list[tuple[Any, ...]], since: int, last: int
    ) -> None:
        conn = self._conn_()
        got = {c[0] for c in candles}
        empties = [(self.venue, symbol, timeframe, t) for t in range(since, last, step) if t not in got]
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO candles"
                " (venue, symbol, timeframe, open_ms, open, high, low, close, volume, empty)"
                " VALUES (?,?,?,?,?,?,?,?,?,0)",
                [(self.venue, symbol, timeframe, *c) for c in candles],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO candles (venue, symbol, timeframe, open_ms, empty) VALUES (?,?,?,?,1)", empties
            )

    def _read(self, symbol: str, timeframe: str, lo: int, hi: int) -> list[Candle]:
        rows = self._conn_().execute(
            "SELECT open_ms, open, high, low, close, volume FROM candles WHERE venue=? AND symbol=? AND timeframe=?"
            " AND open_ms>=? AND open_ms<? AND empty=0 ORDER BY open_ms",
            (self.venue, symbol, timeframe, lo, hi),
        )
        return [Candle(_dt(r[0]), *(Decimal(x) for x in r[1:6])) for r in rows]

    async def delete_range(self, symbol: str, timeframe: str, start: datetime, end: datetime) -> int:
        """Drop cached candles in [start, end) (maintenance, and tests that punch a hole)."""
        return await self._db(lambda: self._delete(symbol, timeframe, utc_ms(start), utc_ms(end)))

    def _delete(self, symbol: str, timeframe: str, lo: int, hi: int) -> int:
        conn = self._conn_()
        with conn:
            cur = conn.execute(
                "DELETE FROM candles WHERE venue=? AND symbol=? AND timeframe=? AND open_ms>=? AND open_ms<?",
                (self.venue, symbol, timeframe, lo, hi),
            )
        return cur.rowcount


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
