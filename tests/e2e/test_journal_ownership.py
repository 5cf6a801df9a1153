"""One owner per journal, with real processes (invariant 11): a second engine on a held SQLite
journal is refused naming the holder and the first trades on untouched; a SIGKILLed holder blocks
nothing; an engine fenced by a newer claim stops sending and exits naming the new holder; a
journal with a planted bad record is named by `nonstop journal verify`, and the documented way
out (copy up to the record before it, start from the copy) trades again without a duplicate."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nonstop.config import load_settings
from nonstop.journal import SQLiteJournal, replay
from nonstop.journal.base import JournalHolder
from nonstop.journal_setup import journal_path
from nonstop.model import OrderCancelRequested, OrderState, OrderSubmitted
from tests.e2e.crashkit import NONSTOP, EngineRun, SimProcess, control, engine_config, kill9, start_engine, start_sim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SQLITE = 'backend = "sqlite"\ndurability = "group"'


def wait_for(condition: Callable[[], bool], within: float, what: str, run: EngineRun | None = None) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if run is not None and run.proc.poll() is not None:
            raise AssertionError(f"the engine exited ({run.proc.returncode}) before {what}:\n{run.log()[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} within {within} s" + (
            f":\n{run.log()[-3000:]}" if run is not None else "")
        time.sleep(0.1)


def journal_facts(path: Path) -> dict[str, Any]:
    """What the journal says, read through a read-only connection (the engine may be running)."""

    async def read() -> dict[str, Any]:
        journal = SQLiteJournal(path, read_only=True)
        await journal.open()
        try:
            submitted, cancel_requested, epochs = set(), set(), set()
            async for record in journal.read():
                epochs.add(record.epoch)
                if isinstance(record.event, OrderSubmitted):
                    submitted.add(record.event.client_order_id.value)
                elif isinstance(record.event, OrderCancelRequested):
                    cancel_requested.add(record.event.client_order_id.value)
            state = await replay(journal, use_snapshot=False)
            return {"submitted": submitted, "cancel_requested": cancel_requested, "epochs": epochs,
                    "epoch": await journal.current_epoch(), "holder": await journal.holder(),
                    "last_seq": await journal.last_seq(), "open": {o.client_order_id.value: o.state
                                                                   for o in state.open_orders()}}
        finally:
            await journal.close()

    return asyncio.run(read())


def venue_orders(sim: SimProcess) -> dict[str, dict[str, Any]]:
    """The simulator's own record of every order it received, by client order id."""
    return {o["client_order_id"]: o for o in control(sim, "GET", "/control/venues/binance-a/orders")}


def canceled_at_venue(sim: SimProcess) -> set[str]:
    return {cid for cid, o in venue_orders(sim).items() if o["order"] and o["order"]["status"] == "CANCELED"}


def nonstop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NONSTOP, *args], capture_output=True, text=True, timeout=90, check=False)


def test_second_engine_refused_first_untouched_and_a_sigkilled_holder_blocks_nothing(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        config = engine_config(tmp_path, sim, journal=SQLITE)
        path = journal_path(load_settings(config))
        first = start_engine(tmp_path, config, 0)
        wait_for(first.reached_trading, 40, "trading", first)
        wait_for(lambda: len(journal_facts(path)["submitted"]) >= 2, 45, "first orders", first)
        second = start_engine(tmp_path, config, 1)
        assert second.proc.wait(timeout=60) == 3, second.log()[-3000:]
        refused = second.log()
        assert (f"is held by host {socket.gethostname()} pid {first.proc.pid} (instance crash1, epoch 1) since "
                in refused), refused[-3000:]
        assert "venue_connected" not in refused and "sim_started" not in refused  # refused before anything
        # the first trades on, untouched: more orders, and every cancel the venue carried out was its own
        before = len(journal_facts(path)["submitted"])
        wait_for(lambda: len(journal_facts(path)["submitted"]) >= before + 3, 30, "more orders", first)
        canceled = canceled_at_venue(sim)  # read the venue first: a cancel is journaled before it is sent
        facts = journal_facts(path)
        assert canceled <= facts["cancel_requested"], canceled - facts["cancel_requested"]
        assert facts["epoch"] == 1 and facts["holder"].pid == first.proc.pid and facts["epochs"] == {1}
        assert "has no record here" not in first.log()
        # the holder dies without a word: the next start claims the journal with a higher epoch
        kill9(first)
        third = start_engine(tmp_path, config, 2)
        wait_for(third.reached_trading, 40, "trading after the SIGKILL", third)
        status = nonstop("status", "--config", str(config), "--json")
        shown = json.loads(status.stdout)["journal"]
        assert shown["epoch"] == 2 and shown["holder"]["pid"] == third.proc.pid, status.stdout
        assert shown["holder"]["host"] == socket.gethostname()
        table = nonstop("status", "--config", str(config)).stdout
        assert f"holder    {socket.gethostname()} pid {third.proc.pid} (instance crash1, epoch 2) since" in table
        third.proc.terminate()
        assert third.proc.wait(timeout=60) == 0, third.log()[-3000:]
        assert control(sim, "GET", "/control/venues/binance-a/duplicates") == {}
    finally:
        sim.stop()


def test_engine_fenced_by_a_newer_claim_stops_sending_and_exits_naming_the_holder(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        config = engine_config(tmp_path, sim, journal=SQLITE)
        path = journal_path(load_settings(config))
        engine = start_engine(tmp_path, config, 0)
        wait_for(engine.reached_trading, 40, "trading", engine)
        wait_for(lambda: len(journal_facts(path)["submitted"]) >= 2, 45, "first orders", engine)

        async def claim_behind_its_back() -> int:  # e.g. a standby on another machine won the journal
            journal = SQLiteJournal(path)
            await journal.open()
            try:
                return await journal.claim_next_epoch(JournalHolder(
                    host="standby-7", pid=424242, instance="crash1", since=datetime.now(UTC)))
            finally:
                await journal.close()

        assert asyncio.run(claim_behind_its_back()) == 2
        assert engine.proc.wait(timeout=60) == 3, engine.log()[-3000:]
        log = engine.log()
        assert "claimed by host standby-7 pid 424242 (instance crash1, epoch 2) since" in log, log[-3000:]
        assert "no longer owns its journal" in log and '"event": "stopped"' not in log
        received = venue_orders(sim)  # the simulator's own records, after the fenced process is gone
        canceled = canceled_at_venue(sim)
        facts = journal_facts(path)
        assert facts["epochs"] == {1}  # not one record of the old epoch after the claim
        assert set(received) <= facts["submitted"], set(received) - facts["submitted"]  # nothing unjournaled sent
        assert canceled <= facts["cancel_requested"]  # it canceled nothing on its way out
        still_open = [cid for cid, s in facts["open"].items() if s is OrderState.ACCEPTED]
        assert all(received[c]["order"]["status"] in ("NEW", "PARTIALLY_FILLED", "FILLED")
                   for c in still_open)  # its live quotes are left to the new holder
    finally:
        sim.stop()


def test_planted_bad_record_is_named_and_the_way_out_trades_again(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        config = engine_config(tmp_path, sim, journal=SQLITE)
        path = journal_path(load_settings(config))
        run = start_engine(tmp_path, config, 0, duration=10)
        assert run.proc.wait(timeout=90) == 0, run.log()[-3000:]
        last = journal_facts(path)["last_seq"]
        bad = last // 2
        with sqlite3.connect(path) as db:  # one flipped byte in a stored checksum
            (checksum,) = db.execute("SELECT checksum FROM journal WHERE seq = ?", (bad,)).fetchone()
            db.execute("UPDATE journal SET checksum = ? WHERE seq = ?", (("0" if checksum[0] != "0" else "1")
                                                                         + checksum[1:], bad))
            original = db.execute("SELECT * FROM journal ORDER BY seq").fetchall()
        verify = nonstop("journal", "verify", "--config", str(config))
        assert verify.returncode == 1 and f"BAD       seq {bad} (corrupt): checksum mismatch" in verify.stdout
        refused = start_engine(tmp_path, config, 1)
        assert refused.proc.wait(timeout=60) == 1
        assert f"--upto {bad - 1} --to NEW.sqlite" in refused.log(), refused.log()[-3000:]
        new = tmp_path / "repaired.sqlite"
        copied = nonstop("journal", "copy", "--config", str(config), "--upto", str(bad - 1), "--to", str(new))
        assert copied.returncode == 0, copied.stderr
        new_config = tmp_path / "repaired.toml"
        new_config.write_text(config.read_text().replace('backend = "sqlite"', f'backend = "sqlite"\npath = "{new}"'))
        again = start_engine(tmp_path, new_config, 2, duration=12)
        assert again.proc.wait(timeout=90) == 0, again.log()[-3000:]
        assert again.reached_trading()
        assert nonstop("journal", "verify", "--config", str(new_config)).returncode == 0
        assert control(sim, "GET", "/control/venues/binance-a/duplicates") == {}  # no client id used twice
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT * FROM journal ORDER BY seq").fetchall() == original  # never edited
    finally:
        sim.stop()
