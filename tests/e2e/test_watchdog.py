"""The dead man's switch with real processes: `nonstop sim`, `nonstop run` and `nonstop watchdog`
(with `flatten = true`).

A healthy engine is never touched (a bounded healthy run with no trigger); the engine SIGSTOPped with
a position and resting orders → the watchdog cancels all of them within silence_s + 1 s (the
simulator's records show them canceled), then closes the position with its own orders (the
simulator's trades of the instance net to zero within the lot step); SIGCONT → the engine reconciles
the cancellations, takes the watchdog's orders in (its journal's position is flat) and halts: no
order of its strategy goes out until `nonstop resume`, after which it quotes again.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.crashkit import NONSTOP, SimProcess, control, start_engine, start_sim, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
SILENCE_S = 3.0
HEALTHY_RUN_S = 20.0
INSTANCE = "wd1"
PREFIX = f"ns-{INSTANCE}-"
STEP = Decimal("0.00001")  # the simulator's BTC/USDT lot step
QUOTE = Decimal("0.0005")  # the market maker's order size
TAKERS = itertools.count(1)
TOKEN_ENV = {"NONSTOP_API_TOKEN": "watchdog-test-token-0123456789"}


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
        f'[engine.degradation]\nrecover_after_s = 1\n'
        f'[[engine.venues]]\nname = "binance-a"\nurls = [{urls}]\n'
        f'[watchdog]\nsilence_s = {SILENCE_S}\npoll_interval_s = 0.2\nrequest_timeout_s = 0.4\nflatten = true\n')
    return config


def _ours(sim: SimProcess) -> list[dict]:
    return [r for r in control(sim, "GET", "/control/venues/binance-a/orders")
            if r["client_order_id"].startswith(PREFIX) and r["order"] is not None]


def _open(sim: SimProcess) -> dict[str, dict]:
    return {r["client_order_id"]: r for r in _ours(sim) if r["order"]["status"] in ("NEW", "PARTIALLY_FILLED")}


def _watchdog_events(workdir: Path) -> list[dict]:
    path = workdir / "watchdog.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _journal_payloads(workdir: Path) -> list[dict]:
    with sqlite3.connect(workdir / "journal.sqlite") as db:
        return [json.loads(row[0]) for row in db.execute("SELECT payload FROM journal ORDER BY seq")]


def _journal_position(payloads: list[dict]) -> Decimal:
    """The engine's position as its journal folds it: the net base quantity of its fills."""
    side = {p["client_order_id"]: p["side"] for p in payloads if p["type"] == "OrderIntent"}
    return sum((Decimal(p["quantity"]) * (1 if side[p["client_order_id"]] == "BUY" else -1)
                for p in payloads if p["type"] == "OrderFilled"), Decimal(0))


def halt_ms(payload: dict) -> float:
    return datetime.fromisoformat(payload["ts"]).timestamp() * 1000


def _adding_order(sim: SimProcess) -> dict | None:
    """Our resting order that would add to the position, when the position is at least one quote and
    another order rests beside it (for the watchdog to cancel)."""
    position = _venue_position(sim)
    side = "BUY" if position > 0 else "SELL"
    resting = _open(sim)
    if abs(position) < QUOTE or len(resting) < 2:
        return None
    return next((r for r in resting.values() if r["order"]["side"] == side), None)


def _stop_holding_a_position(proc: subprocess.Popen[bytes], sim: SimProcess, taker: Taker) -> float:
    """SIGSTOP the engine when its position is at least one quote and it rests an order that would add
    to it, and have `taker` fill that order at once (a fill the engine never hears of); bounded tries
    (a stop shorter than silence_s is no silence to the watchdog). The (wall-clock) time of the stop."""
    if abs(_venue_position(sim)) < QUOTE:  # no waiting for the market: a taker gives the engine a position
        taker.take(wait_until(lambda: next(iter(_open(sim).values()), None), 30, "a resting order"))
    for _ in range(10):
        adding = wait_until(lambda: _adding_order(sim), 60, "a position and an order resting that adds to it", step=0.1)
        proc.send_signal(signal.SIGSTOP)
        stopped = time.time()
        if taker.take(adding):
            return stopped
        proc.send_signal(signal.SIGCONT)  # the engine had replaced it just before the stop: again
        since = time.time() * 1000
        wait_until(lambda since=since: [r for r in _ours(sim) if r["time"] > since], 30, "a new quote")
    raise AssertionError("the engine never held a position of a quote with an order resting that adds to it")


class Taker:
    """Another account on the venue that trades against our resting orders."""

    def __init__(self, sim: SimProcess) -> None:
        import ccxt

        from nonstop.venues.binance_profile import BINANCE
        from nonstop.venues.profile import Network

        self.sim = sim
        control(sim, "POST", "/control/accounts",
                {"api_key": "taker", "secret": "taker-secret", "balances": {"BTC": "1000", "USDT": "1000000000"}})
        self.client = ccxt.binance(BINANCE.ccxt_config(BINANCE.pointed_at(Network.SIM, sim.urls[0]), "taker",
                                                       "taker-secret"))
        self.client.load_markets()

    def take(self, row: dict) -> bool:
        """Take the whole price level of `row` (ours included); True if our order is filled now."""
        order = row["order"]
        with urllib.request.urlopen(f"{self.sim.urls[0]}/api/v3/depth?symbol=BTCUSDT&limit=1000", timeout=10) as resp:
            book = json.loads(resp.read())
        price = Decimal(order["price"])
        ours_bid = order["side"] == "BUY"
        levels = book["bids"] if ours_bid else book["asks"]
        qty = sum(Decimal(q) for p, q in levels if (Decimal(p) >= price if ours_bid else Decimal(p) <= price))
        if qty > 0:
            self.client.create_order("BTC/USDT", "limit", "sell" if ours_bid else "buy", str(qty), str(price),
                                     {"timeInForce": "IOC", "newClientOrderId": f"taker-{next(TAKERS)}"})
        rows = {r["client_order_id"]: r for r in _ours(self.sim)}
        return rows[row["client_order_id"]]["order"]["status"] == "FILLED"


def _venue_position(sim: SimProcess) -> Decimal:
    """The instance's position as the simulator's trades show it (its orders and the watchdog's)."""
    ours = {r["order_id"] for r in _ours(sim)}
    trades = control(sim, "GET", "/control/venues/binance-a/trades")
    return sum((Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in trades if t["orderId"] in ours), Decimal(0))


def test_watchdog_cancels_and_flattens_for_a_silent_engine_which_then_halts(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        config = _config(tmp_path, sim)
        engine = start_engine(tmp_path, config, 1, env=TOKEN_ENV)
        procs.append(engine.proc)
        wait_until(engine.reached_trading, 60, "the engine trading", step=0.2)
        wait_until(lambda: _open(sim), 45, "resting orders")
        wd_log = (tmp_path / "watchdog.log").open("wb")
        watchdog = subprocess.Popen([*NONSTOP, "watchdog", "--config", str(config)], stdout=wd_log,
                                    stderr=subprocess.STDOUT, env={**os.environ, **TOKEN_ENV})
        procs.append(watchdog)
        wait_until(lambda: any(e["event"] == "armed" for e in _watchdog_events(tmp_path)), 30, "the watchdog armed")

        # a healthy run: the watchdog never acts (bounded)
        healthy_until = time.monotonic() + HEALTHY_RUN_S
        while time.monotonic() < healthy_until:
            assert not [e for e in _watchdog_events(tmp_path) if e["event"] != "armed" and e["event"] != "started"]
            assert engine.proc.poll() is None and watchdog.poll() is None
            time.sleep(0.5)

        taker = Taker(sim)
        stopped = _stop_holding_a_position(engine.proc, sim, taker)
        try:
            resting = _open(sim)
            assert resting and abs(_venue_position(sim)) >= QUOTE
            def swept() -> bool:
                return not _open(sim) and any(e["event"] == "swept" for e in _watchdog_events(tmp_path))
            wait_until(swept, SILENCE_S + 30, "the watchdog's sweep: every order of the instance canceled")
            # measured to the sweep's own record (written once its cancels were answered), not to this
            # test's polling of the simulator and the watchdog's file, which a loaded machine delays
            sweep = next(e for e in _watchdog_events(tmp_path) if e["event"] == "swept")
            took = datetime.fromisoformat(sweep["ts"]).timestamp() - stopped
            rows = {r["client_order_id"]: r for r in _ours(sim)}
            assert all(rows[c]["order"]["status"] in ("CANCELED", "FILLED") for c in resting)
            print(f"watchdog canceled {len(resting)} order(s) {took:.2f} s after SIGSTOP (silence_s {SILENCE_S})")
            assert took <= SILENCE_S + 1.0, f"{took:.2f}s"
            swept = [c for e in _watchdog_events(tmp_path) if e["event"] == "swept" for c in e["canceled"]]
            assert set(resting) - {c for c in resting if rows[c]["order"]["status"] == "FILLED"} <= set(swept)

            flattened = wait_until(lambda: [e for e in _watchdog_events(tmp_path) if e["event"] == "flattened"], 45,
                              "the watchdog's flatten")[0]
            assert flattened["sent"] and flattened["left"] == {} and flattened["problems"] == [], flattened
            assert all(c.startswith((f"{PREFIX}wds-", f"{PREFIX}wdb-")) for c in flattened["sent"])
            assert abs(_venue_position(sim)) < STEP, _venue_position(sim)
        finally:
            engine.proc.send_signal(signal.SIGCONT)

        # the engine, back, finds the cancellations and the watchdog's orders, and halts
        def halted() -> list[dict]:
            return [p for p in _journal_payloads(tmp_path)
                    if p["type"] == "TradingHalted" and p["source"] == "watchdog"]
        halt = wait_until(halted, 30, "the engine halted after taking the watchdog's orders in", step=0.5)[0]
        payloads = _journal_payloads(tmp_path)
        closed = {p["client_order_id"] for p in payloads
                  if p["type"] in ("OrderCanceled", "OrderFilled", "OrderExpired")}
        assert set(resting) <= closed
        taken_in = {p["client_order_id"] for p in payloads if p["type"] == "ReconcileDifference"
                    and p["kind"] == "WATCHDOG_ORDER"}
        assert taken_in == set(flattened["sent"])
        upto_halt = payloads[:next(i for i, p in enumerate(payloads) if p is halt or p == halt)]
        assert abs(_journal_position(upto_halt)) < STEP, _journal_position(upto_halt)
        assert abs(_journal_position(payloads) - _venue_position(sim)) < STEP  # no fill lost, none foreign

        # halted: the engine runs on (two reconcile passes after the halt) and sends no order of its
        # strategy until `nonstop resume`; then it quotes again
        def passes_after_halt() -> bool:
            after = _journal_payloads(tmp_path)[len(payloads):]
            return sum(1 for p in after if p["type"] == "BalanceSnapshot") >= 2
        wait_until(passes_after_halt, 30, "reconcile passes while halted", step=0.5)
        resumed_at = time.time() * 1000
        sent_while_halted = [r["client_order_id"] for r in _ours(sim) if halt_ms(halt) + 1000 < r["time"] < resumed_at]
        assert sent_while_halted == []
        out = subprocess.run([*NONSTOP, "resume", "--config", str(config), "--reason", "looked at it"],
                             env={**os.environ, **TOKEN_ENV}, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_until(lambda: [r for r in _open(sim).values() if r["time"] >= resumed_at], 45, "quotes after resume",
              step=0.2)
        wait_until(lambda: any(e["event"] == "engine_back" for e in _watchdog_events(tmp_path)), 30, "re-armed")
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
