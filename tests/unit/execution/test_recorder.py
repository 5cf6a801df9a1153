"""The write-ahead recorder: the in-memory state is always the fold of the journal."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nonstop.errors import IllegalTransition, ModelError
from nonstop.execution.recorder import Recorder
from nonstop.execution.sequencer import Batch
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import (
    ClientOrderId,
    Event,
    InstrumentId,
    Order,
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
    new_event_id,
)
from nonstop.model.testing import random_valid_events

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


class FoldWatch(Recorder):
    """The real recorder, noting whether it is folding (and how many batches it folded)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.folding = False
        self.batches = 0

    def fold(self, batch: Batch, last: int) -> None:
        self.folding, self.batches = True, self.batches + 1
        try:
            super().fold(batch, last)
        finally:
            self.folding = False


def _with_refusals(rng: random.Random, events: list[Event]) -> tuple[list[Event], set[str]]:
    """`events` with events the fold refuses mixed in (an intent reusing an id, a fill far beyond
    its order's quantity); returns them all, in order, and the ids of the refused ones."""
    out: list[Event] = []
    refused: set[str] = set()
    seen: list[OrderIntent] = []  # the intents so far
    for n, event in enumerate(events):
        out.append(event)
        if isinstance(event, OrderIntent):
            seen.append(event)
        if n % 25 == 0 and seen:
            bad: Event = dataclasses.replace(rng.choice(seen), event_id=new_event_id())
        elif n % 25 == 12 and seen:
            target = rng.choice(seen)
            bad = OrderFilled(ts=event.ts, client_order_id=target.client_order_id, trade_id=TradeId(f"x{n}"),
                              price=Decimal("1"), quantity=Decimal("1000000"), fee=Decimal(0), fee_asset="USDT")
        else:
            continue
        out.append(bad)
        refused.add(bad.event_id)
    return out, refused


async def test_concurrent_batches_fold_what_validation_computed_and_replay_gives_the_same_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)
    events, refused = _with_refusals(rng, random_valid_events(rng, 400))
    applied_in_fold: list[OrderEvent] = []
    recorder: FoldWatch | None = None
    apply = Order.apply

    def watched_apply(order: Order, event: OrderEvent) -> Order:
        if recorder is not None and recorder.folding:
            applied_in_fold.append(event)
        return apply(order, event)

    monkeypatch.setattr(Order, "apply", watched_apply)
    async with SQLiteJournal(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = FoldWatch(journal, await replay(journal), 1)
        recorder._sequencer.max_batch_events = 48  # several batches, each validated while the one before is written
        announced: list[str] = []
        recorder.listeners.append(lambda event: announced.append(event.event_id))
        # every event from its own caller, all at once: queue order is the events' order
        outcomes = await asyncio.gather(*(recorder.record(e) for e in events), return_exceptions=True)
        failed = {e.event_id for e, o in zip(events, outcomes, strict=True) if isinstance(o, BaseException)}
        assert failed == refused and all(isinstance(o, ModelError) for o in outcomes if isinstance(o, BaseException))
        on_disk = [r.event.event_id async for r in journal.read(1)]
        assert not refused & set(on_disk)  # a refused event is never journaled
        recorded = [e.event_id for o in outcomes if isinstance(o, list) for e in o]
        assert on_disk == recorded == announced  # acknowledged, folded and announced in journal order
        assert recorder.batches > 5 and recorder.state.last_seq == len(on_disk)
        assert applied_in_fold == []  # each order event's transition ran once, in validation
        assert recorder.state.state_hash() == (await replay(journal, use_snapshot=False)).state_hash()
