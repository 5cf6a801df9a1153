"""The write-ahead recorder: the in-memory state is always the fold of the journal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nonstop.errors import IllegalTransition
from nonstop.execution.recorder import Recorder
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import (
    ClientOrderId,
    Event,
    InstrumentId,
    OrderAccepted,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    VenueOrderId,
)

TS = datetime(2026, 11, 25, tzinfo=UTC)
CID = ClientOrderId.build("u1", "mm", 1)


def _intent() -> OrderIntent:
    return OrderIntent(ts=TS, client_order_id=CID, instrument_id=InstrumentId("v", "BTC/USDT"), side=Side.BUY,
                       order_type=OrderType.LIMIT, quantity=Decimal("1"), price=Decimal("10"))


class SlowAck(SQLiteJournal):
    """A real SQLite journal whose acknowledgement comes back late: the records are already on disk
    (`written` is set) and the acknowledgement waits until `acked` is set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written, self.acked = asyncio.Event(), asyncio.Event()

    async def append(self, events: Sequence[Event], *, epoch: int) -> int:
        last = await super().append(events, epoch=epoch)
        self.written.set()
        await self.acked.wait()
        return last


async def test_a_cancelled_record_still_folds_what_reached_the_disk(tmp_path: Path) -> None:
    journal = SlowAck(tmp_path / "j.sqlite", durability=Durability.FSYNC)
    await journal.open()
    try:
        recorder = Recorder(journal, await replay(journal), 1)
        task = asyncio.create_task(recorder.record(_intent(), OrderSubmitted(ts=TS, client_order_id=CID)))
        # the append is on disk, its acknowledgement not yet back (was a 0.1 s sleep against a 0.3 s late
        # acknowledgement: an fsync slower than 0.1 s on a loaded machine cancelled the write itself)
        await asyncio.wait_for(journal.written.wait(), 30)
        assert recorder.busy
        task.cancel()
        await asyncio.sleep(0)  # the cancellation reaches the caller first
        journal.acked.set()  # then the acknowledgement comes back
        with pytest.raises(asyncio.CancelledError):
            await task
        assert recorder.state.last_seq == await journal.last_seq() == 2
        assert not recorder.busy
        assert recorder.state.state_hash() == (await replay(journal)).state_hash()
        # the next event is validated against the state that includes what was written
        await recorder.record(OrderAccepted(ts=TS, client_order_id=CID, venue_order_id=VenueOrderId("7")))
        assert (await replay(journal)).order(CID).venue_order_id == VenueOrderId("7")
    finally:
        await journal.close()


async def test_events_the_fold_would_refuse_are_never_written(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite", durability=Durability.FSYNC)
    await journal.open()
    try:
        recorder = Recorder(journal, await replay(journal), 1)
        await recorder.record(_intent())
        with pytest.raises(IllegalTransition):
            await recorder.record(_intent())  # a second intent for the same id
        stale = await recorder.record(OrderAccepted(ts=TS, client_order_id=CID, venue_order_id=VenueOrderId("1")))
        assert stale == []  # INITIALIZED cannot be accepted: dropped, not written
        assert await journal.last_seq() == 1
    finally:
        await journal.close()
