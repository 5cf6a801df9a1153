"""Property: random valid events → journal → snapshot → replay gives the fold's state hash."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model.testing import fold, random_valid_events


async def _roundtrip(path: Path, events: list, cut: int) -> tuple[str, str]:  # type: ignore[type-arg]
    async with SQLiteJournal(path, durability=Durability.OS) as journal:
        if cut:
            await journal.append(events[:cut], epoch=1)
            await journal.write_snapshot(await replay(journal), cut)
        if events[cut:]:
            await journal.append(events[cut:], epoch=1)
    async with SQLiteJournal(path, durability=Durability.OS) as reopened:  # a restart
        from_snapshot = await replay(reopened)
        full = await replay(reopened, use_snapshot=False)
    return from_snapshot.state_hash(), full.state_hash()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 120), st.data())
def test_replay_from_snapshot_equals_fold_for_random_events(rng: random.Random, n: int, data: st.DataObject) -> None:
    events = random_valid_events(rng, n)
    cut = data.draw(st.integers(0, n), label="snapshot at seq")
    with tempfile.TemporaryDirectory() as tmp:
        from_snapshot, full = asyncio.run(_roundtrip(Path(tmp) / "j.db", events, cut))
    assert from_snapshot == full == fold(events).state_hash()
