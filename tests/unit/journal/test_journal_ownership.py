"""Both backends: a start claims a new, higher epoch with its holder in one transaction; an append
with an older epoch is fenced and the error names who holds the newer one."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from nonstop.errors import FencedOut
from nonstop.journal import Journal
from nonstop.journal.base import JournalHolder
from nonstop.model.testing import random_valid_events

if TYPE_CHECKING:
    from conftest import Backend

SINCE = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def holder(pid: int, host: str = "box-1") -> JournalHolder:
    return JournalHolder(host=host, pid=pid, instance="a1", since=SINCE)


async def test_journal_claim_next_epoch_is_one_higher_and_records_the_holder(journal: Journal) -> None:
    assert await journal.holder() is None
    assert await journal.claim_next_epoch(holder(100)) == 1
    assert await journal.claim_next_epoch(holder(200, "box-2")) == 2
    assert await journal.current_epoch() == 2
    got = await journal.holder()
    assert got == JournalHolder(host="box-2", pid=200, instance="a1", since=SINCE, epoch=2)
    await journal.claim_epoch(7)  # the HA lease's way: an epoch won elsewhere (the holder row stays)
    assert await journal.claim_next_epoch(holder(300)) == 8


async def test_journal_concurrent_claims_never_share_an_epoch(journal: Journal) -> None:
    epochs = await asyncio.gather(*(journal.claim_next_epoch(holder(p)) for p in range(1, 9)))
    assert sorted(epochs) == list(range(1, 9))
    assert (await journal.holder()).epoch == 8  # type: ignore[union-attr]


async def test_journal_append_after_a_newer_claim_is_fenced_naming_the_holder(journal: Journal) -> None:
    evs = random_valid_events(random.Random(3), 4)
    mine = await journal.claim_next_epoch(holder(100))
    await journal.append(evs[:2], epoch=mine)
    await journal.claim_next_epoch(holder(4242, "other-box"))
    with pytest.raises(FencedOut) as info:
        await journal.append(evs[2:], epoch=mine)
    assert info.value.current_epoch == mine + 1 and info.value.epoch == mine
    assert info.value.holder is not None and "other-box" in info.value.holder and "pid 4242" in info.value.holder
    assert "other-box" in str(info.value) and "2026-11-29T12:00:00" in str(info.value)
    assert await journal.last_seq() == 2  # nothing of the fenced append was written


async def test_journal_holder_survives_reopen(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    try:
        await first.claim_next_epoch(holder(55))
    finally:
        await first.close()
    again = backend.make()
    await again.open()
    try:
        assert (await again.holder()) == JournalHolder(host="box-1", pid=55, instance="a1", since=SINCE, epoch=1)
    finally:
        await again.close()


async def test_journal_claim_epoch_with_a_holder_records_both_or_is_fenced(journal: Journal) -> None:
    await journal.claim_epoch(5, holder(77, "lease-winner"))  # an epoch won elsewhere (an HA lease)
    assert await journal.current_epoch() == 5
    assert await journal.holder() == JournalHolder(host="lease-winner", pid=77, instance="a1", since=SINCE, epoch=5)
    with pytest.raises(FencedOut):
        await journal.claim_epoch(4, holder(78))
    assert (await journal.holder()).pid == 77  # type: ignore[union-attr]
    evs = random_valid_events(random.Random(4), 1)
    with pytest.raises(FencedOut, match="claimed by host lease-winner pid 77"):
        await journal.append(evs, epoch=3)
