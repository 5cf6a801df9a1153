"""A journal that stops taking writes (a full filesystem) halts trading with the resting orders
canceled, one critical alert and no traceback; trading resumes by itself once space is back."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nonstop.engine import Engine
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import JournalOutage
from nonstop.monitor.alert_model import TransitionKind
from tests.integration.engine.kit import TRADING, eventually, running, settings
from tests.netproxy import TcpProxy
from tests.pg import PgServer, make_postgres_fixture
from tests.simkit import control

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` at `path` (the tests run as root, as CI does)."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill_up(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


async def sim_orders(engine: Engine) -> list[dict]:
    assert engine.sim is not None
    return await control(engine.sim, "GET", f"/control/venues/{TRADING}/orders")


async def test_disk_full_halts_cancels_alerts_once_and_resumes_when_space_is_back(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small") as small:
        base = settings(small / "data", data_venues=1)
        base = base.model_copy(update={"data": base.data.model_copy(update={
            "history": base.data.history.model_copy(update={"path": tmp_path / "history.sqlite"})})})
        engine = Engine(base)
        async with running(engine, duration=100) as e:
            assert e.recorder is not None and e.alerts is not None and e.state is not None
            filler = fill_up(small)
            # the next journal write fails; the guard halts, alerts and cancels what rests
            await eventually(lambda: e.recorder.unwritable is not None, 20, "a failed journal write")
            await eventually(lambda: e.degradation is not None and e.degradation.level == "halted", 10, "HALTED")

            async def nothing_open() -> bool:
                orders = await sim_orders(e)
                return not any(o["order"] and o["order"]["status"] in ("NEW", "PARTIALLY_FILLED") for o in orders)

            for _ in range(100):
                if await nothing_open():
                    break
                await asyncio.sleep(0.1)
            assert await nothing_open(), "resting orders were left on the venue"
            sent_during, known = len(await sim_orders(e)), len(e.state.orders)
            assert e.journal_guard is not None and e.journal_guard.active
            raised = [t for t in e.alerts.history()
                      if t.key == "journal_unwritable" and t.kind is TransitionKind.RAISED]
            assert len(raised) == 1 and raised[0].alert is not None
            assert "free space there" in raised[0].alert.body and str(small) in raised[0].alert.body
            await asyncio.sleep(3.0)  # the outage lasts: still nothing new reaches the venue
            assert len(await sim_orders(e)) == sent_during
            assert e.recorder.unwritable is not None and e.status.phase == "trading"
            # space is back: the outage ends by itself and trading resumes
            filler.unlink()
            await eventually(lambda: e.journal_guard.outages == 1, 20, "the journal writing again")
            await eventually(lambda: len(e.state.orders) > known, 30, "new orders")
            for _ in range(300):  # an intent may be refused by risk first: wait for one to reach the venue
                if len(await sim_orders(e)) > sent_during:
                    break
                await asyncio.sleep(0.1)
            assert len(await sim_orders(e)) > sent_during
            resolved = [t for t in e.alerts.history() if t.key == "journal_unwritable"
                        and t.kind in (TransitionKind.CLEARING, TransitionKind.RESOLVED)]
            assert resolved, "the alert was not resolved"
        journal = SQLiteJournal(small / "data" / "journal.sqlite", durability=Durability.FSYNC)
        await journal.open()
        try:
            state = await replay(journal)  # the journal replays: nothing half-written
            outages = [r.event async for r in journal.read() if isinstance(r.event, JournalOutage)]
        finally:
            await journal.close()
        assert len(outages) == 1
        # the orders the guard canceled unjournaled were settled from the venue once it wrote again
        assert all(state.order(cid).state.is_terminal for cid in outages[0].canceled)


postgres_server = make_postgres_fixture(scope="module")


@pytest.mark.postgres
async def test_postgres_going_away_halts_cancels_and_resumes_when_it_is_back(
    tmp_path: Path, postgres_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = TcpProxy(postgres_server.host, postgres_server.port)
    await proxy.start()
    monkeypatch.setenv("NONSTOP_PG_DSN", f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres")
    base = settings(tmp_path, data_venues=1)
    journal_cfg = base.engine.journal.model_copy(update={"backend": "postgres", "schema_name": "outage_pg"})
    engine = Engine(base.model_copy(update={"engine": base.engine.model_copy(update={"journal": journal_cfg})}))
    try:
        async with running(engine, duration=100) as e:
            assert e.recorder is not None and e.alerts is not None and e.state is not None
            await proxy.cut()  # the database is gone: connections dropped, new ones refused
            await eventually(lambda: e.recorder.unwritable is not None, 20, "a failed journal write")
            await eventually(lambda: e.degradation is not None and e.degradation.level == "halted", 10, "HALTED")
            for _ in range(100):
                orders = await sim_orders(e)
                if not any(o["order"] and o["order"]["status"] in ("NEW", "PARTIALLY_FILLED") for o in orders):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("resting orders were left on the venue")
            sent_during, known = len(await sim_orders(e)), len(e.state.orders)
            await proxy.restore()
            await eventually(lambda: e.journal_guard is not None and e.journal_guard.outages == 1, 30,
                             "the journal writing again")
            await eventually(lambda: len(e.state.orders) > known, 30, "new orders")
            for _ in range(300):  # an intent may be refused by risk first: wait for one to reach the venue
                if len(await sim_orders(e)) > sent_during:
                    break
                await asyncio.sleep(0.1)
            assert len(await sim_orders(e)) > sent_during
            raised = [t for t in e.alerts.history()
                      if t.key == "journal_unwritable" and t.kind is TransitionKind.RAISED]
            assert len(raised) == 1
    finally:
        await proxy.close()
