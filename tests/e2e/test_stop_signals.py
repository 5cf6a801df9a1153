"""A second SIGTERM ends a graceful stop's wait for the answers in flight at once: real `nonstop sim`
and `nonstop run` processes, the engine's submit held by the simulator (it never answers) and a
wait bound (`stop_wait_s = 60`) no test waits out. The stop then goes on: the unanswered order is
settled by the final reconcile (IN DOUBT if nothing reported it meanwhile), never sent twice."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from nonstop.config import load_settings
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.model import EngineState, Event, OrderInDoubt, OrderState, OrderSubmitted
from tests.e2e.crashkit import control, engine_config, kill9, start_engine, start_sim, wait_until


def _events(log: str, name: str) -> list[dict[str, Any]]:
    """The JSON log lines of event `name` (a line still being written is skipped)."""
    found = []
    for line in log.splitlines():
        if line.startswith("{") and f'"event": "{name}"' in line:
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


async def _journal(config: Path) -> tuple[list[Event], EngineState]:
    journal = open_journal(load_settings(config), read_only=True)
    await journal.open()
    try:
        return [r.event async for r in journal.read(1)], await replay(journal)
    finally:
        await journal.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_second_sigterm_ends_the_stop_wait_and_the_stop_goes_on(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        config = engine_config(tmp_path, sim, journal='backend = "sqlite"\ndurability = "group"')
        text = config.read_text().replace("request_timeout_ms = 1500\n",
                                          "request_timeout_ms = 60000\nstop_wait_s = 60\n")
        assert "stop_wait_s = 60" in text
        # the held submit outlasts every client-side timeout: only the stop's wait (or a signal) ends it
        config.write_text(text + "[engine.venues.connectivity]\nattempt_timeout_s = 120\n")
        run = start_engine(tmp_path, config, 1)
        try:
            wait_until(lambda: run.reached_trading() or run.proc.poll() is not None, 60, "trading")
            assert run.proc.poll() is None, run.log()
            control(sim, "POST", "/control/faults",
                    {"kind": "drop_order_response", "venue": sim.name, "params": {"mode": "hang"}})
            wait_until(lambda: "order_response_dropped" in (tmp_path / "sim.log").read_text(errors="replace"),
                       60, "a submit held by the venue")
            run.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: _events(run.log(), "stop_waiting_for_answers"), 60, "the stop to wait")
            run.proc.send_signal(signal.SIGTERM)
            assert run.proc.wait(timeout=120) == 0, run.log()
        finally:
            if run.proc.poll() is None:
                kill9(run)
        log = run.log()
        waited = _events(log, "stop_waiting_for_answers")[0]["in_flight"]
        assert len(waited) == 1 and waited[0].startswith("submit-"), waited
        cid = waited[0].removeprefix("submit-")
        missing = _events(log, "stop_answers_missing")
        assert [(m["interrupted"], m["unanswered"]) for m in missing] == [(True, waited)]
        assert _events(log, "stopped"), "the stop went on after the wait: cancels, final reconcile"
        at_venue = control(sim, "GET", f"/control/venues/{sim.name}/orders?client_order_id={cid}")
        assert len(at_venue) == 1  # never sent twice
    finally:
        sim.stop()
    events, state = asyncio.run(_journal(config))
    mine = [e for e in events if getattr(e, "client_order_id", None) is not None and e.client_order_id.value == cid]
    # IN DOUBT (settled by the final reconcile) unless the venue's user stream had already reported it
    assert [e.reason for e in mine if isinstance(e, OrderInDoubt)] in (
        ["the process stopped while the submit was in flight"], [])
    assert sum(isinstance(e, OrderSubmitted) for e in mine) == 1
    assert state.order(cid).state in (OrderState.CANCELED, OrderState.FILLED)  # settled by the final reconcile
