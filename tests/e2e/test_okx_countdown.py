"""OKX's venue-side dead man's switch with real processes: `nonstop run` on an OKX-dialect
`nonstop sim` arms cancel-all-after and re-arms it on its heartbeat (`watchdog.venue_countdown`).

While the engine runs the countdown never fires (a bounded run longer than a countdown
and two re-arms: without re-arming it would have fired); the
engine SIGSTOPped → the venue cancels every open order within the countdown (plus one re-arm
interval); SIGCONT → the engine finds its orders gone, re-arms, and quotes again."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.crashkit import SimProcess, control, start_engine, start_sim, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
COUNTDOWN_S = 10  # OKX's shortest
REARM_S = 2.0
HEALTHY_RUN_S = COUNTDOWN_S + 2 * REARM_S + 1  # unarmed, it would fire at COUNTDOWN_S
PREFIX = "nsZok2Z"  # our ids as OKX carries them (`-` sent as `Z`)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(workdir: Path, sim: SimProcess) -> Path:
    config = workdir / "engine.toml"
    urls = ", ".join(f'"{u}"' for u in sim.urls)
    config.write_text(
        f'data_dir = "{workdir}"\n[log]\nformat = "json"\n[monitor.api]\nport = {_free_port()}\n'
        f'[engine]\ninstance = "ok2"\nembedded_sim = false\nreconcile_interval_s = 2\n'
        f'request_timeout_ms = 1500\nrecv_window_ms = 2000\n'
        f'[engine.strategy]\nvenue = "{sim.name}"\ninterval_s = 0.2\nsize = "0.0005"\nmax_position = "0.005"\n'
        f'half_spread_bps = "25"\nrequote_bps = "15"\n'  # fallback quotes (x3) stay inside the collar

        f'[[engine.venues]]\nname = "{sim.name}"\nexchange = "okx"\nurls = [{urls}]\n'
        f'[watchdog]\nvenue_countdown_s = {COUNTDOWN_S}\nvenue_rearm_s = {REARM_S}\n')
    return config


def _countdown(sim: SimProcess) -> dict[str, Any]:
    return control(sim, "GET", f"/control/venues/{sim.name}/cancel-all-after")  # type: ignore[no-any-return]


def _open(sim: SimProcess) -> set[str]:
    rows = control(sim, "GET", f"/control/venues/{sim.name}/orders")
    return {r["client_order_id"] for r in rows if r["client_order_id"].startswith(PREFIX)
            and r["order"] is not None and r["order"]["status"] in ("NEW", "PARTIALLY_FILLED")}


def test_okx_countdown_cancels_everything_when_the_engine_stops_rearming_and_never_while_it_runs(
    tmp_path: Path,
) -> None:
    sim = start_sim(tmp_path, dialect="okx")
    engine = None
    try:
        engine = start_engine(tmp_path, _config(tmp_path, sim), 1)
        wait_until(engine.reached_trading, 60, "the engine trading", step=0.2)
        wait_until(lambda: _countdown(sim)["armed"], 45, "the countdown armed")
        wait_until(lambda: _open(sim), 45, "resting orders")

        healthy_until = time.monotonic() + HEALTHY_RUN_S  # longer than a countdown: re-armed throughout
        while time.monotonic() < healthy_until:
            state = _countdown(sim)
            assert state["fired"] == [] and state["armed"], state
            assert engine.proc.poll() is None, engine.log()[-3000:]
            time.sleep(0.5)

        resting = wait_until(lambda: _open(sim), 30, "resting orders before the stop")
        engine.proc.send_signal(signal.SIGSTOP)
        stopped = time.time()
        try:
            wait_until(lambda: _countdown(sim)["fired"] and not _open(sim), COUNTDOWN_S + REARM_S + 30,
                  "the venue's countdown cancelling every order")
            # measured to the venue's own record of the firing, not to this test's polling of it
            took = _countdown(sim)["fired"][0]["at_ms"] / 1000 - stopped
            print(f"OKX cancel-all-after canceled {len(resting)} order(s) {took:.2f} s after SIGSTOP "
                  f"(countdown {COUNTDOWN_S} s, re-armed every {REARM_S} s)")
            assert took <= COUNTDOWN_S + REARM_S + 1.0, f"{took:.2f}s"
            assert len(_countdown(sim)["fired"]) == 1
        finally:
            engine.proc.send_signal(signal.SIGCONT)

        try:
            wait_until(lambda: _countdown(sim)["armed"], 30, "re-armed after SIGCONT")
            wait_until(lambda: _open(sim) - resting, 60, "new quotes after SIGCONT", step=0.2)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{engine.log()[-4000:]}") from None
        assert len(_countdown(sim)["fired"]) == 1 and engine.proc.poll() is None
    finally:
        if engine is not None and engine.proc.poll() is None:
            os.kill(engine.proc.pid, signal.SIGCONT)
            engine.proc.terminate()
            try:
                engine.proc.wait(timeout=20)
            except Exception:  # noqa: BLE001 - a stuck engine is killed below
                engine.proc.kill()
                engine.proc.wait(timeout=10)
        sim.stop()
