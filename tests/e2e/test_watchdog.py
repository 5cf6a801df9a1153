"""The dead man's switch with real processes: `nonstop sim`, `nonstop run` and `nonstop watchdog`.

A healthy engine is never touched (a bounded healthy run with no trigger); the engine SIGSTOPped with
resting orders → the watchdog cancels all of them within silence_s + 1 s (the simulator's records
show them canceled); SIGCONT → the engine reconciles them as gone (ORDER_GONE) and carries on quoting.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.crashkit import NONSTOP, SimProcess, control, start_engine, start_sim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
SILENCE_S = 3.0
HEALTHY_RUN_S = 30.0
INSTANCE = "wd1"
PREFIX = f"ns-{INSTANCE}-"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(workdir: Path, sim: SimProcess) -> Path:
    config = workdir / "engine.toml"
    urls = ", ".join(f'"{u}"' for u in sim.urls)
    config.write_text(
        f'data_dir = "{workdir}"\n[log]\nformat = "json"\n[monitor.api]\nport = {_free_port()}\n'
        f'[engine]\ninstance = "{INSTANCE}"\nembedded_sim = false\nreconcile_interval_s = 2\n'
        f'request_timeout_ms = 1500\nrecv_window_ms = 2000\n'
        f'[engine.strategy]\ninterval_s = 0.2\nsize = "0.0005"\nmax_position = "0.005"\n'
        f'half_spread_bps = "20"\nrequote_bps = "10"\n'  # resting, and its fallback (x3) inside the 100 bps collar
        f'[engine.degradation]\nrecover_after_s = 2\n'
        f'[[engine.venues]]\nname = "binance-a"\nurls = [{urls}]\n'
        f'[watchdog]\nsilence_s = {SILENCE_S}\npoll_interval_s = 0.2\nrequest_timeout_s = 0.4\n')
    return config


def _ours(sim: SimProcess) -> list[dict]:
    return [r for r in control(sim, "GET", "/control/venues/binance-a/orders")
            if r["client_order_id"].startswith(PREFIX) and r["order"] is not None]


def _open(sim: SimProcess) -> dict[str, dict]:
    return {r["client_order_id"]: r for r in _ours(sim) if r["order"]["status"] in ("NEW", "PARTIALLY_FILLED")}


def _wait(check, within: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(step)


def _watchdog_events(workdir: Path) -> list[dict]:
    path = workdir / "watchdog.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _journal_payloads(workdir: Path) -> list[dict]:
    with sqlite3.connect(workdir / "journal.sqlite") as db:
        return [json.loads(row[0]) for row in db.execute("SELECT payload FROM journal ORDER BY seq")]


def test_watchdog_cancels_a_silent_engines_orders_and_the_engine_reconciles_them(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        config = _config(tmp_path, sim)
        engine = start_engine(tmp_path, config, 1)
        procs.append(engine.proc)
        _wait(engine.reached_trading, 60, "the engine trading", step=0.2)
        _wait(lambda: _open(sim), 20, "resting orders")
        wd_log = (tmp_path / "watchdog.log").open("wb")
        watchdog = subprocess.Popen([*NONSTOP, "watchdog", "--config", str(config)], stdout=wd_log,
                                    stderr=subprocess.STDOUT)
        procs.append(watchdog)
        _wait(lambda: any(e["event"] == "armed" for e in _watchdog_events(tmp_path)), 30, "the watchdog armed")

        # a healthy run: the watchdog never acts (bounded)
        healthy_until = time.monotonic() + HEALTHY_RUN_S
        while time.monotonic() < healthy_until:
            assert not [e for e in _watchdog_events(tmp_path) if e["event"] != "armed" and e["event"] != "started"]
            assert engine.proc.poll() is None and watchdog.poll() is None
            time.sleep(0.5)

        resting = _wait(lambda: _open(sim), 10, "resting orders before the stop")
        engine.proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            def swept() -> bool:
                return not _open(sim) and any(e["event"] == "swept" for e in _watchdog_events(tmp_path))
            _wait(swept, SILENCE_S + 5, "the watchdog's sweep: every order of the instance canceled")
            took = time.monotonic() - stopped
            rows = {r["client_order_id"]: r for r in _ours(sim)}
            assert all(rows[c]["order"]["status"] in ("CANCELED", "FILLED") for c in resting)
            print(f"watchdog canceled {len(resting)} order(s) {took:.2f} s after SIGSTOP (silence_s {SILENCE_S})")
            assert took <= SILENCE_S + 1.0, f"{took:.2f}s"
            swept = [c for e in _watchdog_events(tmp_path) if e["event"] == "swept" for c in e["canceled"]]
            assert set(resting) - {c for c in resting if rows[c]["order"]["status"] == "FILLED"} <= set(swept)
        finally:
            engine.proc.send_signal(signal.SIGCONT)

        # the engine, back, finds the cancellations (reconciliation's ORDER_GONE, or its own lookup when the
        # strategy's requote meets "unknown order", whichever comes first) and carries on
        def reconciled() -> bool:
            payloads = _journal_payloads(tmp_path)
            closed = {p["client_order_id"] for p in payloads if p["type"] in ("OrderCanceled", "OrderFilled")}
            return set(resting) <= closed
        _wait(reconciled, 30, "the swept orders closed in the engine's journal", step=0.5)
        _wait(lambda: set(_open(sim)) - set(resting), 45, "new quotes after SIGCONT", step=0.2)
        _wait(lambda: any(e["event"] == "engine_back" for e in _watchdog_events(tmp_path)), 10, "re-armed")
        assert engine.proc.poll() is None
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        sim.stop()
