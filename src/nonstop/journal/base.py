"""The journal port: an append-only, fenced, checksummed event store with snapshots.

Every backend (SQLite, PostgreSQL) implements `Journal` and passes the same conformance tests
(`tests/unit/journal/test_journal_conformance.py`).

A record is `(seq, ts, epoch, type, payload, checksum)`:

- `seq` starts at 1 and increases by exactly 1 (a gap is reported as corruption);
- `ts` is when the journal wrote it (the event carries its own `ts` inside the payload);
- `epoch` is the fencing epoch of the writer; a write whose epoch is lower than the highest
  epoch recorded (or claimed) raises `FencedOut`, and an append with a higher epoch claims it;
- `payload` is the event's canonical JSON (`Event.to_dict()`, sorted keys, no whitespace);
- `checksum` is blake2b-64 over `seq|ts_ms|epoch|type|payload` (`record_checksum`).

Ownership (invariant 11): the `fencing` row holds the current epoch and the `holder` row says who
claimed it (host, pid, instance, since). `claim_next_epoch` reads the epoch and writes epoch+1 with
the new holder in ONE transaction, so two starts can never claim the same epoch; every append is
conditional on its epoch (`fence_batch`, shared by both backends). The OS-level single-instance
lock around it lives in `nonstop.ha.ownership`.

Corruption (invariant 10): a bad checksum or undecodable payload raises `CorruptRecord` naming
the backend, the file or table, the seq and the reason, after every good record before it has
been yielded. Only the LAST record may be dropped, and only when the reader asks for it
(`truncate_torn_tail=True`), with a warning in the log. Transactional stores should never
produce a torn tail; when one appears its append most likely never returned, but dropping a
record is an operator's decision, so it is never done implicitly.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import orjson

from nonstop.errors import CorruptRecord, FencedOut, ModelError
from nonstop.model.codec import canonical_json
from nonstop.model.events import Event, event_from_dict
from nonstop.model.state import EngineState

SNAPSHOTS_KEPT = 3


class Durability(StrEnum):
    """When `append` returns, relative to the disk.

    - `FSYNC`: each append is its own transaction, flushed to disk before `append` returns
      (SQLite `synchronous=FULL`; PostgreSQL `synchronous_commit=on`). Survives power loss.
    - `GROUP`: appends wait in a bounded queue; one writer task commits whatever has queued as
      one flushed transaction and resolves every waiter together. Same guarantee as FSYNC,
      far more events per second under concurrency; a lone append pays one fsync.
    - `OS`: committed to the OS, not flushed (SQLite WAL `synchronous=NORMAL`; PostgreSQL
      `synchronous_commit=off`). Survives a process crash; a power loss or kernel panic may
      lose the last commits (never corrupts). For paper trading and tests, not real money.
    """

    FSYNC = "fsync"
    GROUP = "group"
    OS = "os"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One verified record as read back from a journal."""

    seq: int
    ts: datetime
    epoch: int
    event_type: str
    event: Event


@dataclass(frozen=True, slots=True)
class JournalHolder:
    """Who claimed (or is claiming) a journal epoch: one engine process."""

    host: str
    pid: int
    instance: str
    since: datetime  # aware UTC: when the claim was made
    epoch: int = 0  # the epoch claimed (0 while not yet claimed)

    def describe(self) -> str:
        epoch = f", epoch {self.epoch}" if self.epoch else ""
        return (f"host {self.host} pid {self.pid} (instance {self.instance}{epoch}) "
                f"since {self.since.isoformat(timespec='seconds')}")

    def to_row(self) -> tuple[int, str, int, str, int]:
        """(epoch, host, pid, instance, since_ms) as stored in the `holder` table."""
        return self.epoch, self.host, self.pid, self.instance, ts_to_ms(self.since)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JournalHolder:
        epoch, host, pid, instance, since_ms = row
        return cls(host=str(host), pid=int(pid), instance=str(instance), since=ms_to_ts(int(since_ms)),
                   epoch=int(epoch))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state as of journal `seq`; `state_hash` is verified when it is loaded."""

    seq: int
    ts: datetime
    state: EngineState
    state_hash: str


@runtime_checkable
class Journal(Protocol):
    """What the engine asks of its event store."""

    backend: str

    async def open(self) -> None:
        """Create the storage if needed and get ready; a second open raises JournalError."""
        ...

    async def close(self) -> None:
        """Finish pending appends and release everything; idempotent."""
        ...

    async def append(self, events: Sequence[Event], *, epoch: int) -> int:
        """Durably append `events` in order, atomically; return the seq of the last one.

        Raises FencedOut (and writes nothing) if `epoch` is lower than the journal's epoch.
        """
        ...

    def read(self, from_seq: int = 1, *, truncate_torn_tail: bool = False) -> AsyncIterator[JournalRecord]:
        """Yield verified records with seq >= `from_seq`, in order; see the module docstring."""
        ...

    async def last_seq(self) -> int:
        """The seq of the last record (0 when empty)."""
        ...

    async def current_epoch(self) -> int:
        """The highest fencing epoch recorded or claimed (0 initially)."""
        ...

    async def claim_epoch(self, epoch: int, holder: JournalHolder | None = None) -> None:
        """Record `epoch` as the current one; FencedOut if a higher one is already recorded.

        With `holder` (e.g. the winner of an HA lease), the holder row is written in the same
        transaction, so a fenced writer's error names it."""
        ...

    async def claim_next_epoch(self, holder: JournalHolder) -> int:
        """In one transaction: read the recorded epoch, record epoch+1 with `holder`; return it."""
        ...

    async def holder(self) -> JournalHolder | None:
        """Who claimed the current epoch (None if no start ever claimed one with a holder)."""
        ...

    async def write_snapshot(self, state: EngineState, seq: int) -> None:
        """Store `state`, which must be the fold of records 1..`seq` (so `state.last_seq == seq`)."""
        ...

    async def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot that verifies, or None; a corrupt one is logged and skipped
        (snapshots are redundant: the records they summarise are still in the journal)."""
        ...


def ts_to_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def ms_to_ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def encode_payload(event: Event) -> str:
    """The canonical JSON text of an event, as stored."""
    return canonical_json(event.to_dict())


def record_checksum(seq: int, ts_ms: int, epoch: int, event_type: str, payload: str) -> str:
    """blake2b-64 (hex) over `seq|ts_ms|epoch|type|payload`."""
    h = hashlib.blake2b(f"{seq}|{ts_ms}|{epoch}|{event_type}|".encode(), digest_size=8)
    h.update(payload.encode("utf-8"))
    return h.hexdigest()


def decode_record(
    row: tuple[Any, ...], *, backend: str, location: str, is_last: bool
) -> JournalRecord:
    """Verify and decode one raw `(seq, ts_ms, epoch, type, payload, checksum)` row."""
    seq, ts_ms, epoch, event_type, payload, checksum = row

    def corrupt(reason: str) -> CorruptRecord:
        return CorruptRecord(backend=backend, location=location, seq=seq, reason=reason, torn=is_last)

    try:
        expected = record_checksum(seq, ts_ms, epoch, event_type, payload)
    except (TypeError, AttributeError, UnicodeError) as err:
        raise corrupt(f"unreadable columns ({err})") from None
    if expected != checksum:
        raise corrupt(f"checksum mismatch (stored {checksum!r}, computed {expected!r})")
    try:
        data = orjson.loads(payload)
    except ValueError as err:
        raise corrupt(f"payload is not JSON ({err})") from None
    try:
        event = event_from_dict(data)
    except ModelError as err:
        raise corrupt(f"payload is not a valid event ({err})") from None
    if type(event).__name__ != event_type:
        raise corrupt(f"type column {event_type!r} does not match payload type {type(event).__name__!r}")
    return JournalRecord(seq=seq, ts=ms_to_ts(ts_ms), epoch=epoch, event_type=event_type, event=event)


def snapshot_text(state: EngineState) -> tuple[str, str]:
    """(canonical JSON, sha256 hex) of a state, as stored in a snapshot."""
    text = state.canonical_json()
    return text, hashlib.sha256(text.encode("ascii")).hexdigest()


def load_snapshot(seq: int, ts_ms: int, state_hash: str, text: str) -> Snapshot:
    """Verify and decode a stored snapshot; raises ValueError/ModelError saying why it is bad."""
    actual = hashlib.sha256(text.encode("ascii", errors="replace")).hexdigest()
    if actual != state_hash:
        raise ValueError(f"hash mismatch (stored {state_hash[:16]}..., computed {actual[:16]}...)")
    state = EngineState.from_dict(orjson.loads(text))
    if state.last_seq != seq:
        raise ValueError(f"snapshot seq {seq} holds a state of seq {state.last_seq}")
    return Snapshot(seq=seq, ts=ms_to_ts(ts_ms), state=state, state_hash=state_hash)


Batch = list[tuple[list[tuple[str, str]], int]]  # [(encoded events, epoch)] of one transaction
Row = tuple[int, int, int, str, str, str]  # (seq, ts_ms, epoch, type, payload, checksum)


def fence_batch(
    batch: Batch, *, current: int, last: int, ts_ms: int, where: str, holder: JournalHolder | None
) -> tuple[list[Row], list[int | BaseException], int]:
    """The fencing rule both backends apply inside their write transaction.

    Given the recorded epoch `current` and the last seq `last` (both read in the transaction),
    returns the rows to insert, each append's result (its last seq, or FencedOut naming the
    holder of the newer epoch) and the epoch to record afterwards.
    """
    rows: list[Row] = []
    results: list[int | BaseException] = []
    for items, epoch in batch:
        if epoch < current:
            who = holder.describe() if holder is not None and holder.epoch == current else None
            results.append(FencedOut(
                f"{where}: write with epoch {epoch} refused, epoch {current} is recorded"
                + (f" (claimed by {who})" if who else ""),
                epoch=epoch, current_epoch=current, holder=who))
            continue
        current = epoch
        for event_type, payload in items:
            last += 1
            rows.append((last, ts_ms, epoch, event_type, payload,
                         record_checksum(last, ts_ms, epoch, event_type, payload)))
        results.append(last)
    return rows, results, current


def epoch_to_claim(current: int, wanted: int | None, where: str) -> int:
    """The epoch a claim records: `current + 1` (`wanted` None), or `wanted` if not below `current`."""
    if wanted is None:
        return current + 1
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 0:
        raise ValueError(f"epoch must be an int >= 0, got {wanted!r}")
    if wanted < current:
        raise FencedOut(f"{where}: claim of epoch {wanted} refused, epoch {current} is recorded",
                        epoch=wanted, current_epoch=current)
    return wanted


def is_fenced(batch: Batch, current: int) -> bool:
    """True if some append of `batch` carries an epoch below `current` (read the holder then)."""
    return any(epoch < current for _, epoch in batch)
