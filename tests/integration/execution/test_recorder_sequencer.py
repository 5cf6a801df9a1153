"""The recorder's sequencer: concurrent records share one group commit, each caller is acknowledged
only once its records are durable, acknowledgement order is journal order, and a failed batch
fails every caller in it (SQLite and PostgreSQL, real files and a real server)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.errors import FencedOut, IllegalTransition, JournalClosed, JournalUnwritable
from nonstop.execution.recorder import Recorder
from nonstop.execution.sequencer import Batch
from nonstop.journal import Durability, Journal, PostgresJournal, SQLiteJournal, replay
from nonstop.model import (
    AlertRecorded,
    ClientOrderId,
    Event,
    InstrumentId,
    OrderIntent,
    OrderState,
    OrderSubmitted,
    OrderType,
    Side,
)
from tests.integration.engine.test_journal_outage import small_filesystem
from tests.pg import PgServer, make_postgres_fixture

pytestmark = pytest.mark.timeout(120)
TS = datetime(2026, 11, 29, tzinfo=UTC)
postgres_server = make_postgres_fixture()


class GatedSQLite(SQLiteJournal):
    """A real SQLite journal that remembers how many events each append carried; while `gate` is
    closed an append waits before writing (`waiting` is set), so the next batch forms behind it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.appends: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()
        self.refuse_next: Exception | None = None  # raised (once) instead of writing, after the gate

    async def append(self, events: Sequence[Event], *, epoch: int) -> int:
        self.appends.append(len(events))
        if not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        if self.refuse_next is not None:
            err, self.refuse_next = self.refuse_next, None
            raise err
        return await super().append(events, epoch=epoch)


class Watched(Recorder):
    """The real recorder, noting for each batch whether it was validated while another was written."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.validated_during_a_write: list[bool] = []

    def validate(self, batch: Batch, after: Batch | None) -> None:
        self.validated_during_a_write.append(after is not None)
        super().validate(batch, after)


async def _hold_one_batch(journal: GatedSQLite, recorder: Recorder, first: Event) -> asyncio.Task[list[Event]]:
    """Record `first` and hold its append at the gate: what is recorded next forms the next batch."""
    journal.gate.clear()
    held = asyncio.create_task(recorder.record(first))
    await journal.waiting.wait()
    return held


def _alert(i: int, detail: str = "") -> AlertRecorded:
    return AlertRecorded(ts=TS, key=f"k{i}", level="info", transition="raised", detail=detail)


def _intent(seq: int) -> OrderIntent:
    return OrderIntent(ts=TS, client_order_id=ClientOrderId.build("u1", "mm", seq),
                       instrument_id=InstrumentId("v", "BTC/USDT"), side=Side.BUY, order_type=OrderType.LIMIT,
                       quantity=Decimal("1"), price=Decimal("10"))


async def _record_concurrently(recorder: Recorder, events: list[Event]) -> tuple[list[str], list[object]]:
    """Record each event from its own task; returns the event ids in acknowledgement order and
    each task's outcome (its recorded events, or the exception it got)."""
    acked: list[str] = []

    async def one(event: Event) -> list[Event]:
        kept = await recorder.record(event)
        acked.append(event.event_id)
        return kept

    outcomes = await asyncio.gather(*(one(e) for e in events), return_exceptions=True)
    return acked, list(outcomes)


async def _journal_ids(journal: Journal) -> list[str]:
    return [r.event.event_id async for r in journal.read(1)]


async def _check_sequencer(journal: Journal) -> None:
    recorder = Recorder(journal, await replay(journal), 1)
    folded: list[str] = []
    recorder.listeners.append(lambda event: folded.append(event.event_id))
    events: list[Event] = [_alert(i) for i in range(64)]
    acked, outcomes = await _record_concurrently(recorder, events)
    assert all(isinstance(o, list) and len(o) == 1 for o in outcomes)
    on_disk = await _journal_ids(journal)
    assert acked == on_disk  # acknowledged in journal order
    assert folded == on_disk  # folded and announced in journal order
    assert recorder.state.last_seq == 64
    assert recorder.state.state_hash() == (await replay(journal, use_snapshot=False)).state_hash()


async def test_concurrent_records_share_one_append_and_are_acknowledged_in_journal_order(tmp_path: Path) -> None:
    journal = GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC)
    async with journal:
        await _check_sequencer(journal)
    assert journal.appends == [64]  # all 64 queued before the sequencer ran: one append


async def test_postgres_journal_takes_the_same_batches(postgres_server: PgServer) -> None:
    async with PostgresJournal(postgres_server.dsn, schema="seq_batches", durability=Durability.FSYNC) as journal:
        await _check_sequencer(journal)


async def test_no_caller_is_acknowledged_before_its_batch_is_durable(tmp_path: Path) -> None:
    async with GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Recorder(journal, await replay(journal), 1)
        held = await _hold_one_batch(journal, recorder, _alert(0))
        callers = [asyncio.create_task(recorder.record(_alert(i))) for i in range(1, 65)]
        await asyncio.sleep(0.05)  # give a wrong implementation every chance to answer early
        assert not held.done() and not any(c.done() for c in callers)
        assert recorder.state.last_seq == 0 and await journal.last_seq() == 0
        journal.gate.set()
        await asyncio.gather(held, *callers)
        assert journal.appends == [1, 64]
        assert recorder.state.last_seq == await journal.last_seq() == 65


async def test_the_next_batch_is_validated_while_one_is_written_and_lands_after_it(tmp_path: Path) -> None:
    async with GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Watched(journal, await replay(journal), 1)
        journal.gate.clear()
        intent = asyncio.create_task(recorder.record(_intent(1)))
        await asyncio.sleep(0)  # the intent is queued; the sequencer runs next and starts its append
        cid = _intent(1).client_order_id
        submitted = asyncio.create_task(recorder.record(OrderSubmitted(ts=TS, client_order_id=cid)))
        await journal.waiting.wait()
        journal.gate.set()
        # the submit names an order only the batch being written creates: validated against that batch
        assert len(await intent) == 1 and len(await submitted) == 1
        assert recorder.validated_during_a_write == [False, True]
        assert [type(r.event) async for r in journal.read(1)] == [OrderIntent, OrderSubmitted]
        assert recorder.state.order(cid).state is OrderState.SUBMITTING
        assert recorder.state.state_hash() == (await replay(journal, use_snapshot=False)).state_hash()


async def test_a_batch_validated_behind_one_that_failed_is_never_written(tmp_path: Path) -> None:
    async with GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Watched(journal, await replay(journal), 1)
        journal.gate.clear()
        journal.refuse_next = JournalClosed("the append failed, and the recorder stays writable")
        intent = asyncio.create_task(recorder.record(_intent(1)))
        await asyncio.sleep(0)
        cid = _intent(1).client_order_id
        submitted = asyncio.create_task(recorder.record(OrderSubmitted(ts=TS, client_order_id=cid)))
        await journal.waiting.wait()
        journal.gate.set()
        with pytest.raises(JournalClosed):
            await intent
        # validated against the intent's batch, which was not written: failed too, never sent
        with pytest.raises(JournalClosed):
            await submitted
        assert recorder.validated_during_a_write == [False, True]
        assert journal.appends == [1] and await journal.last_seq() == 0 and recorder.state.last_seq == 0
        assert len(await recorder.record(_alert(1))) == 1  # the recorder itself still writes


async def test_a_caller_cancelled_while_queued_withdraws_its_records(tmp_path: Path) -> None:
    async with GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Recorder(journal, await replay(journal), 1)
        held = await _hold_one_batch(journal, recorder, _alert(0))
        queued = asyncio.create_task(recorder.record(_alert(1)))
        kept = asyncio.create_task(recorder.record(_alert(2)))
        await asyncio.sleep(0)  # both queued behind the held batch, not yet taken
        queued.cancel()
        journal.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await queued
        await held
        await kept
        assert [r.event.key async for r in journal.read(1)] == ["k0", "k2"]  # type: ignore[attr-defined]
        assert recorder.state.last_seq == 2


async def test_a_sequencer_stopped_mid_write_answers_everyone_and_resumes_by_reading_back(tmp_path: Path) -> None:
    async with GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Watched(journal, await replay(journal), 1)
        journal.gate.clear()
        first = asyncio.create_task(recorder.record(_alert(0)))
        await asyncio.sleep(0)
        second = asyncio.create_task(recorder.record(_alert(1)))  # taken and validated behind the first
        await journal.waiting.wait()
        assert recorder.validated_during_a_write == [False, True]
        sequencer = recorder._sequencer._task  # stopped as the loop's shutdown would stop it
        assert sequencer is not None
        sequencer.cancel()
        for caller in (first, second):  # every caller is answered (cancelled), none left waiting
            with pytest.raises(asyncio.CancelledError):
                await caller
        assert recorder.unwritable is not None and recorder.unwritable.outcome_unknown
        with pytest.raises(JournalUnwritable):
            await recorder.record(_alert(2))
        journal.gate.set()
        assert await recorder.try_resume(_alert(3))  # reads back what the stopped append did write
        assert recorder.state.state_hash() == (await replay(journal, use_snapshot=False)).state_hash()
        assert len(await recorder.record(_alert(4))) == 1


async def test_a_refused_request_fails_alone_and_the_rest_of_its_batch_is_recorded(tmp_path: Path) -> None:
    async with GatedSQLite(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Recorder(journal, await replay(journal), 1)
        # the same client order id twice in one batch: the second intent is refused, only its caller fails
        events: list[Event] = [_intent(1), _alert(1), _intent(2), _intent(1), _alert(2)]
        held = await _hold_one_batch(journal, recorder, _alert(0))  # the rest form one batch behind it
        recording = asyncio.create_task(_record_concurrently(recorder, events))
        await asyncio.sleep(0)
        journal.gate.set()
        acked, outcomes = await recording
        await held
        assert isinstance(outcomes[3], IllegalTransition)
        assert [isinstance(o, list) for o in outcomes] == [True, True, True, False, True]
        recorded = [e.event_id for i, e in enumerate(events) if i != 3]
        assert acked == recorded
        assert await _journal_ids(journal) == [held.result()[0].event_id, *recorded]
        assert recorder.state.state_hash() == (await replay(journal, use_snapshot=False)).state_hash()


async def test_a_stale_epochs_batch_is_refused_whole_and_nothing_after_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with GatedSQLite(path, durability=Durability.FSYNC) as journal:
        await journal.claim_epoch(1)
        recorder = Recorder(journal, await replay(journal), 1)
        await recorder.record(_alert(0))
        held = await _hold_one_batch(journal, recorder, _alert(1))
        async with SQLiteJournal(path, durability=Durability.FSYNC) as newer:  # a new leader claims epoch 2
            await newer.claim_epoch(2)
        recording = asyncio.create_task(_record_concurrently(recorder, [_alert(i) for i in range(2, 34)]))
        await asyncio.sleep(0)  # queued behind the held batch
        journal.gate.set()
        with pytest.raises(FencedOut):
            await held
        _, outcomes = await recording
        assert all(isinstance(o, FencedOut) for o in outcomes), outcomes
        assert recorder.lost is not None and recorder.state.last_seq == 1  # nothing of either batch folded
        assert await journal.last_seq() == 1
        with pytest.raises(FencedOut):
            await recorder.record(_alert(99))
        assert journal.appends == [1, 1]  # the batch behind the refused one was never sent


@pytest.mark.slow
async def test_a_failed_batch_commit_fails_every_caller_in_it(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", size="2m") as small:
        async with GatedSQLite(small / "j.sqlite", durability=Durability.FSYNC) as journal:
            recorder = Recorder(journal, await replay(journal), 1)
            told: list[Exception] = []
            recorder.on_unwritable.append(told.append)
            await recorder.record(_alert(0))
            held = await _hold_one_batch(journal, recorder, _alert(1))
            # 32 x 100 kB in one transaction cannot fit in 2 MB: the batch's commit fails as a whole
            recording = asyncio.create_task(
                _record_concurrently(recorder, [_alert(i, "y" * 100_000) for i in range(2, 34)]))
            await asyncio.sleep(0)
            journal.gate.set()
            _, outcomes = await recording
            assert len(await held) == 1
            # every caller of the batch got the error, each its own instance; nothing of it was folded
            assert all(isinstance(o, JournalUnwritable) for o in outcomes), outcomes
            assert len({id(o) for o in outcomes}) == len(outcomes)
            assert len(told) == 1 and recorder.unwritable is not None
            assert recorder.state.last_seq == 2
            with pytest.raises(JournalUnwritable):
                await recorder.record(_alert(99))
        async with SQLiteJournal(small / "j.sqlite", read_only=True) as again:
            assert await again.last_seq() == 2


_CHILD = textwrap.dedent("""
    import asyncio, sys
    from datetime import UTC, datetime
    from nonstop.execution.recorder import Recorder
    from nonstop.journal import Durability, SQLiteJournal, replay
    from nonstop.model import AlertRecorded

    async def main(path):
        journal = SQLiteJournal(path, durability=Durability.FSYNC)
        await journal.open()
        recorder = Recorder(journal, await replay(journal), 1)
        ts = datetime(2026, 11, 29, tzinfo=UTC)

        async def placer(p):
            for i in range(5000):  # bounded: the parent kills the process long before
                event = AlertRecorded(ts=ts, key=f"p{p}-{i}", level="info", transition="raised")
                await recorder.record(event)
                sys.stdout.write("ack " + event.event_id + "\\n")  # acknowledged: durable
                sys.stdout.flush()

        await asyncio.gather(*(placer(p) for p in range(64)))

    asyncio.run(main(sys.argv[1]))
""")


@pytest.fixture
def child_env() -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[3] / "src"), env.get("PYTHONPATH", "")])
    yield env


@pytest.mark.slow
async def test_every_acknowledged_record_survives_sigkill_in_acknowledgement_order(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    path = tmp_path / "j.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE,  # noqa: ASYNC220
                            stderr=subprocess.DEVNULL, text=True, env=child_env)
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        while len(acked) < 3000:  # kill it mid-stream, with batches in flight
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, f"the child exited early with {proc.poll()}"
            if line.startswith("ack "):  # (its log lines go to stdout too)
                acked.append(line[4:].strip())
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    async with SQLiteJournal(path, durability=Durability.FSYNC) as journal:
        on_disk = await _journal_ids(journal)
        assert (await replay(journal)).last_seq == len(on_disk)
    position = {event_id: n for n, event_id in enumerate(on_disk)}
    assert all(event_id in position for event_id in acked), "an acknowledged record is missing after SIGKILL"
    assert [position[e] for e in acked] == sorted(position[e] for e in acked)  # journal order = ack order
