"""The PostgreSQL lease (real server): one statement per operation, expiry by the database clock,
the epoch bumped past the journal's on every acquire; the standby's journal follower; and the
leader's own monotonic deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from nonstop.clock import ManualClock
from nonstop.errors import FencedOut
from nonstop.ha.lease import DRIFT, LeaseClock, LeaseStore
from nonstop.ha.standby import JournalFollower
from nonstop.journal import Durability, PostgresJournal, replay
from nonstop.model import Balance, BalanceSnapshot
from tests.pg import PgServer, make_postgres_fixture

pytestmark = pytest.mark.postgres
postgres_server = make_postgres_fixture(scope="module")


@pytest.fixture
async def journal(postgres_server: PgServer) -> AsyncIterator[PostgresJournal]:
    j = PostgresJournal(postgres_server.dsn, schema=f"l_{uuid.uuid4().hex[:12]}", durability=Durability.FSYNC)
    await j.open()
    try:
        yield j
    finally:
        await j.close()


@pytest.fixture
async def stores(postgres_server: PgServer, journal: PostgresJournal) -> AsyncIterator[tuple[LeaseStore, LeaseStore]]:
    a = LeaseStore(postgres_server.dsn, schema=journal.schema, instance="i1")
    b = LeaseStore(postgres_server.dsn, schema=journal.schema, instance="i1")
    await a.ensure_schema()
    await b.ensure_schema()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_lease_acquire_live_lease_refuses_second_holder(stores: tuple[LeaseStore, LeaseStore]) -> None:
    a, b = stores
    row = await a.acquire("host-a:1:aa", 30)
    assert row is not None and row.epoch == 1 and row.previous_holder is None and row.live
    assert 29 < row.remaining_s <= 30
    assert await b.acquire("host-b:2:bb", 30) is None
    assert (await b.read()).holder == "host-a:1:aa"  # type: ignore[union-attr]


async def test_lease_expired_is_taken_over_with_higher_epoch(stores: tuple[LeaseStore, LeaseStore]) -> None:
    a, b = stores
    first = await a.acquire("host-a:1:aa", 0.5)
    assert first is not None
    started = time.monotonic()
    taken = None
    while taken is None and time.monotonic() - started < 10:
        taken = await b.acquire("host-b:2:bb", 30)
    assert taken is not None, "the expired lease was never taken over"
    assert time.monotonic() - started > 0.3  # not before the database's expiry
    assert taken.epoch == 2 and taken.previous_holder == "host-a:1:aa"
    assert await a.renew("host-a:1:aa", 1, 30) is None  # the old holder can no longer renew
    renewed = await b.renew("host-b:2:bb", 2, 30)
    assert renewed is not None and renewed.epoch == 2


async def test_lease_release_hands_over_at_once(stores: tuple[LeaseStore, LeaseStore]) -> None:
    a, b = stores
    await a.acquire("host-a:1:aa", 30)
    assert await a.release("host-a:1:aa", 1)
    taken = await b.acquire("host-b:2:bb", 30)
    assert taken is not None and taken.epoch == 2 and taken.previous_holder is None  # released, not expired


async def test_lease_epoch_passes_the_journal_epoch_and_fences_older_writers(
    stores: tuple[LeaseStore, LeaseStore], journal: PostgresJournal
) -> None:
    a, _ = stores
    await journal.claim_epoch(7)  # e.g. a single-role run wrote at epoch 7 before HA was turned on
    row = await a.acquire("host-a:1:aa", 30)
    assert row is not None and row.epoch == 8
    await journal.claim_epoch(row.epoch)
    with pytest.raises(FencedOut):
        await journal.append([_event()], epoch=7)


async def test_lease_each_instance_has_its_own_row(postgres_server: PgServer, journal: PostgresJournal) -> None:
    one = LeaseStore(postgres_server.dsn, schema=journal.schema, instance="i1")
    two = LeaseStore(postgres_server.dsn, schema=journal.schema, instance="i2")
    try:
        await one.ensure_schema()
        assert await one.acquire("host-a:1:aa", 30) is not None
        assert await two.acquire("host-a:1:aa", 30) is not None  # machine a leads both; b could lead either
        assert (await two.read()).instance == "i2"  # type: ignore[union-attr]
    finally:
        await one.close()
        await two.close()


def _event(n: int = 0) -> BalanceSnapshot:
    return BalanceSnapshot(ts=datetime(2026, 1, 1, tzinfo=UTC), venue="v", balances=(Balance("USDT", Decimal(n)),))


async def test_follower_keeps_standby_state_current_on_notify(
    stores: tuple[LeaseStore, LeaseStore], journal: PostgresJournal, postgres_server: PgServer
) -> None:
    _, standby_store = stores
    reader = PostgresJournal(postgres_server.dsn, schema=journal.schema)
    await reader.open()
    try:
        state = await replay(reader)
        follower = JournalFollower(reader, state, ManualClock(), poll_s=3600)  # no polling: notifications only
        assert await follower.subscribe(standby_store)
        task = asyncio.create_task(follower.run())
        try:
            for n in range(3):
                await journal.append([_event(n)], epoch=1)
            for _ in range(500):  # up to 10 s
                if state.last_seq >= 3:
                    break
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert follower.wakeups >= 1
        assert state.state_hash() == (await replay(reader, use_snapshot=False)).state_hash()
    finally:
        await reader.close()


def test_lease_clock_deadline_is_local_and_moves_only_on_renewal() -> None:
    clock = ManualClock()
    lc = LeaseClock(clock, ttl_s=2.0)
    assert not lc.may_send()
    clock.advance(5)
    lc.renewed(started_at=4.0)  # sent at 4.0: the database's expiry is at least 6.0
    assert lc.may_send()
    clock.advance(2.0 * (1 - DRIFT) - 1.0 - 0.001)
    assert lc.may_send()
    clock.advance(0.002)
    assert not lc.may_send()  # before the database could give the lease to anyone else
    lc.renewed(started_at=1.0)  # an older renewal never moves the deadline back
    assert not lc.may_send()
