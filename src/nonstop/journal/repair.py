"""The way out of a journal the engine cannot start from, without ever editing it.

`copy_prefix` copies records 1..N of a journal (every one verified and folded on the way) into a
NEW SQLite file, then appends one `JournalCopied` event that carries the highest client order
sequence the source may have used, beyond N too, so the copy never hands out an id twice. Start
the engine on the copy: reconciliation then brings in the venue's truth for everything after N
(orders it does not know are canceled as unknown, balances are taken from the venue).

The copy has the same seqs, epochs and payloads as the source; the record timestamps are the
time of the copy (each event keeps its own `ts`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from nonstop.clock import Clock, LiveClock
from nonstop.errors import CorruptRecord, JournalError, ModelError
from nonstop.journal.base import Durability, Journal
from nonstop.journal.sqlite import SQLiteJournal
from nonstop.model.events import Event, JournalCopied
from nonstop.model.identifiers import ClientOrderId
from nonstop.model.state import EngineState

CHUNK = 1000


async def copy_prefix(source: Journal, upto: int, target: Path, *, clock: Clock | None = None) -> EngineState:
    """Copy records 1..`upto` of `source` into a new SQLite journal at `target`; returns its state.

    Raises JournalError (and leaves no target file) if `target` exists, or if a record up to
    `upto` is corrupt or refused by the fold (the message names the seq to copy up to instead).
    """
    if upto < 0:
        raise JournalError(f"--upto must be >= 0, got {upto}")
    if await asyncio.to_thread(target.exists):
        raise JournalError(f"{target} already exists; the copy goes to a new file")
    last = await source.last_seq()
    if upto > last:
        raise JournalError(f"--upto {upto} is beyond the last record {last} of {getattr(source, 'location', '?')}")
    state = EngineState()
    order_seqs: dict[str, int] = {}
    chunks: list[tuple[int, list[Event]]] = []
    read_to = 0
    try:
        async for record in source.read(1):
            read_to = record.seq
            if record.seq <= upto:
                try:
                    state.apply(record.event, seq=record.seq)
                except ModelError as err:
                    raise JournalError(f"record seq={record.seq} ({record.event_type}) is refused by the fold: "
                                       f"{err}; copy --upto {record.seq - 1} instead") from None
                if chunks and chunks[-1][0] == record.epoch and len(chunks[-1][1]) < CHUNK:
                    chunks[-1][1].append(record.event)
                else:
                    chunks.append((record.epoch, [record.event]))
            _note_ids(record.event, order_seqs)
    except CorruptRecord as err:
        if err.seq <= upto:
            raise JournalError(f"record seq={err.seq} is corrupt ({err.reason}); copy --upto {err.seq - 1} "
                               "instead") from None
    # every record not read may have introduced one new client order id: count them as used
    unread = last - read_to
    for instance in list(order_seqs):
        order_seqs[instance] += unread
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    copy = SQLiteJournal(target, durability=Durability.FSYNC, clock=clock or LiveClock())
    await copy.open()
    try:
        for epoch, events in chunks:
            await copy.append(events, epoch=epoch)
        marker = JournalCopied(ts=(clock or LiveClock()).now(), source=getattr(source, "location", "?"),
                               upto_seq=upto,
                               order_seqs=tuple(f"{i}={s}" for i, s in sorted(order_seqs.items())))
        await copy.append([marker], epoch=chunks[-1][0] if chunks else 0)
        state.apply(marker, seq=upto + 1)
    except BaseException:
        await copy.close()
        for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    await copy.close()
    return state


def _note_ids(event: Event, order_seqs: dict[str, int]) -> None:
    if isinstance(event, JournalCopied):  # a copy of a copy keeps what its source had used
        for instance, seq in event.order_seq_map().items():
            order_seqs[instance] = max(order_seqs.get(instance, 0), seq)
        return
    cid = getattr(event, "client_order_id", None)
    if isinstance(cid, ClientOrderId):
        order_seqs[cid.instance] = max(order_seqs.get(cid.instance, 0), cid.seq)
