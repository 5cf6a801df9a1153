"""One suite every journal backend must pass (SQLite in each durability mode, PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING

import pytest

from nonstop.errors import CorruptRecord, FencedOut, JournalClosed, JournalError
from nonstop.journal import Journal, replay
from nonstop.journal.base import record_checksum
from nonstop.model.events import Event
from nonstop.model.testing import fold, random_valid_events

if TYPE_CHECKING:  # the fixture provides it; importing `conftest` at run time is ambiguous
    from conftest import Backend


def events(n: int, seed: int = 1) -> list[Event]:
    return random_valid_events(random.Random(seed), n)


async def read_all(journal: Journal, from_seq: int = 1, **kw: bool) -> list:  # type: ignore[type-arg]
    return [r async for r in journal.read(from_seq, **kw)]


async def test_journal_append_then_read_returns_events_in_order(journal: Journal) -> None:
    evs = events(30)
    assert await journal.append(evs[:10], epoch=1) == 10
    assert await journal.append(evs[10:], epoch=1) == 30
    records = await read_all(journal)
    assert [r.seq for r in records] == list(range(1, 31))
    assert [r.event for r in records] == evs
    assert [r.event_type for r in records] == [type(e).__name__ for e in evs]
    assert all(r.epoch == 1 and r.ts.tzinfo is not None for r in records)
    assert [r.event for r in await read_all(journal, 25)] == evs[24:]
    assert await read_all(journal, 31) == []
    assert await journal.last_seq() == 30


async def test_journal_reads_across_pages(journal: Journal) -> None:
    evs = events(4500, seed=9)
    await journal.append(evs, epoch=0)
    records = await read_all(journal)
    assert len(records) == 4500 and records[-1].event == evs[-1]


async def test_journal_concurrent_appends_get_unique_contiguous_atomic_seqs(journal: Journal) -> None:
    evs = events(100, seed=2)
    chunks = [evs[i:i + 4] for i in range(0, 100, 4)]
    lasts = await asyncio.gather(*(journal.append(c, epoch=1) for c in chunks))
    assert sorted(lasts) == list(range(4, 101, 4))
    records = await read_all(journal)
    assert [r.seq for r in records] == list(range(1, 101))
    by_seq = {r.seq: r.event for r in records}
    for chunk, last in zip(chunks, lasts, strict=True):
        assert [by_seq[s] for s in range(last - 3, last + 1)] == chunk  # each append stays contiguous


async def test_journal_reopened_continues_the_sequence(backend: Backend) -> None:
    evs = events(6)
    first = backend.make()
    await first.open()
    await first.append(evs[:3], epoch=1)
    await first.close()
    with pytest.raises(JournalClosed):
        await first.append(evs[3:], epoch=1)
    second = backend.make()
    await second.open()
    try:
        assert await second.last_seq() == 3
        assert await second.append(evs[3:], epoch=1) == 6
        assert [r.event for r in await read_all(second)] == evs
    finally:
        await second.close()


async def test_journal_lower_epoch_is_fenced_out_and_writes_nothing(journal: Journal) -> None:
    evs = events(5)
    await journal.append(evs[:2], epoch=2)
    with pytest.raises(FencedOut) as info:
        await journal.append(evs[2:], epoch=1)
    assert (info.value.epoch, info.value.current_epoch) == (1, 2)
    assert await journal.last_seq() == 2
    await journal.claim_epoch(7)
    assert await journal.current_epoch() == 7
    with pytest.raises(FencedOut):
        await journal.append(evs[2:], epoch=6)
    with pytest.raises(FencedOut):
        await journal.claim_epoch(3)
    assert await journal.append(evs[2:], epoch=7) == 5
    assert [r.epoch for r in await read_all(journal)] == [2, 2, 7, 7, 7]


async def test_journal_stale_writer_in_another_instance_is_fenced(backend: Backend, journal: Journal) -> None:
    evs = events(4)
    old_leader = backend.make()
    await old_leader.open()
    try:
        await old_leader.append(evs[:1], epoch=1)
        await journal.claim_epoch(2)  # the new leader takes over
        with pytest.raises(FencedOut):
            await old_leader.append(evs[1:2], epoch=1)
        assert await journal.append(evs[1:], epoch=2) == 4
    finally:
        await old_leader.close()


async def test_journal_fenced_append_fails_alone_among_concurrent_appends(journal: Journal) -> None:
    evs = events(6)
    await journal.claim_epoch(5)
    results = await asyncio.gather(
        journal.append(evs[:2], epoch=5), journal.append(evs[2:4], epoch=4), journal.append(evs[4:], epoch=5),
        return_exceptions=True)
    assert isinstance(results[1], FencedOut)
    assert sorted(r for r in results if isinstance(r, int)) == [2, 4]
    assert [r.event for r in await read_all(journal)] == evs[:2] + evs[4:]


async def test_journal_snapshot_replay_equals_full_replay(journal: Journal) -> None:
    evs = events(400, seed=3)
    await journal.append(evs[:250], epoch=1)
    await journal.write_snapshot(fold(evs[:250]), 250)
    await journal.append(evs[250:], epoch=1)
    snap = await journal.latest_snapshot()
    assert snap is not None and snap.seq == 250
    with_snapshot = await replay(journal)
    full = await replay(journal, use_snapshot=False)
    assert with_snapshot.state_hash() == full.state_hash() == fold(evs).state_hash()
    assert with_snapshot.last_seq == 400


async def test_journal_snapshot_must_match_seq_and_exist(journal: Journal) -> None:
    evs = events(5)
    await journal.append(evs, epoch=1)
    with pytest.raises(ValueError, match="does not match"):
        await journal.write_snapshot(fold(evs), 4)
    ahead = fold(evs)
    ahead.last_seq = 9  # claims records the journal does not have
    with pytest.raises(JournalError, match="beyond"):
        await journal.write_snapshot(ahead, 9)
    assert await journal.latest_snapshot() is None


async def test_journal_corrupt_snapshot_is_skipped_for_an_older_one(backend: Backend, journal: Journal) -> None:
    evs = events(60, seed=4)
    await journal.append(evs[:20], epoch=1)
    await journal.write_snapshot(fold(evs[:20]), 20)
    await journal.append(evs[20:], epoch=1)
    await journal.write_snapshot(fold(evs), 60)
    await backend.damage_snapshot(60)
    snap = await journal.latest_snapshot()
    assert snap is not None and snap.seq == 20
    assert (await replay(journal)).state_hash() == fold(evs).state_hash()


async def test_journal_corrupt_middle_record_raises_after_yielding_all_before(
        backend: Backend, journal: Journal) -> None:
    evs = events(20)
    await journal.append(evs, epoch=1)
    await backend.set_payload(8, '{"v":1,"type":"OrderSubmitted"')
    seen = []
    with pytest.raises(CorruptRecord) as info:
        async for record in journal.read(truncate_torn_tail=True):  # the flag never skips a middle record
            seen.append(record.event)
    err = info.value
    assert (err.seq, err.torn, err.backend) == (8, False, backend.kind)
    assert "checksum" in err.reason and "journal" in err.location and "seq=8" in str(err)
    assert seen == evs[:7]
    assert await journal.last_seq() == 20
    with pytest.raises(CorruptRecord):
        await replay(journal, truncate_torn_tail=True)


async def test_journal_unparsable_payload_with_valid_checksum_is_reported(backend: Backend, journal: Journal) -> None:
    evs = events(5)
    await journal.append(evs, epoch=1)
    bad = json.dumps({"v": 1, "type": "OrderTeleported"})
    (record,) = [r async for r in journal.read(3)][:1]
    await backend.set_payload(3, bad)
    await backend.set_checksum(3, record_checksum(3, int(record.ts.timestamp() * 1000), 1, record.event_type, bad))
    with pytest.raises(CorruptRecord, match="unknown event type") as info:
        await read_all(journal)
    assert info.value.seq == 3


async def test_journal_missing_middle_record_is_reported_as_a_gap(backend: Backend, journal: Journal) -> None:
    await journal.append(events(10), epoch=1)
    await backend.delete_record(4)
    with pytest.raises(CorruptRecord, match="missing record") as info:
        await read_all(journal)
    assert info.value.seq == 4


async def test_journal_torn_last_record_is_detected(backend: Backend, journal: Journal) -> None:
    evs = events(10)
    await journal.append(evs, epoch=1)
    await backend.set_payload(10, '{"v":1,"ty')
    with pytest.raises(CorruptRecord) as info:
        await read_all(journal)
    assert info.value.torn and info.value.seq == 10 and "torn last record" in str(info.value)
    assert await journal.last_seq() == 10  # nothing dropped without being asked


async def test_journal_torn_last_record_is_truncated_when_asked(backend: Backend, journal: Journal) -> None:
    evs = events(10)
    await journal.append(evs, epoch=1)
    await backend.set_payload(10, '{"v":1,"ty')
    state = await replay(journal, truncate_torn_tail=True)
    assert state.state_hash() == fold(evs[:9]).state_hash()
    assert await journal.last_seq() == 9
    assert await journal.append(evs[9:], epoch=1) == 10
    assert (await replay(journal)).state_hash() == fold(evs).state_hash()


async def test_journal_misuse_raises_clear_errors(backend: Backend, journal: Journal) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await journal.append([], epoch=1)
    with pytest.raises(ValueError, match="epoch"):
        await journal.append(events(1), epoch=-1)
    with pytest.raises(JournalError, match="once"):
        await journal.open()
    unopened = backend.make()
    with pytest.raises(JournalClosed):
        await unopened.last_seq()
    await unopened.close()  # closing a never-opened journal is harmless
