"""Real processes for crash tests: a `nonstop sim` that outlives many `nonstop run`s, each SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.simkit import WILD_SYMBOLS_TOML

NONSTOP = [sys.executable, "-m", "nonstop.cli"]


@dataclass
class SimProcess:
    proc: subprocess.Popen[bytes]
    control: str
    urls: list[str]
    name: str = "binance-a"
    dialect: str = "binance"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_sim(workdir: Path, *, tick_ms: int = 50, dialect: str = "binance", duration_s: int = 900) -> SimProcess:
    """A standalone simulator with one venue of `dialect` (named `binance-a` or `okx-a`), which stops by
    itself after `duration_s` (a test that dies leaves no simulator behind for long)."""
    name = f"{dialect}-a"
    config = workdir / "sim.toml"
    config.write_text(f'[sim]\ncontrol_port = 0\ntick_ms = {tick_ms}\n'
                      f'[[sim.venues]]\nname = "{name}"\nports = [0, 0]\ndialect = "{dialect}"\n{WILD_SYMBOLS_TOML}')
    log = (workdir / "sim.log").open("wb")
    proc = subprocess.Popen([*NONSTOP, "sim", "--config", str(config), "--duration", str(duration_s)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60  # a time box for the process start
    while time.monotonic() < deadline:
        for line in (workdir / "sim.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                info = json.loads(line)
                return SimProcess(proc, info["control"], info["venues"][name], name, dialect)
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the simulator did not start: " + (workdir / "sim.log").read_text(errors="replace"))


def engine_config(workdir: Path, sim: SimProcess, *, journal: str) -> Path:
    config = workdir / "engine.toml"
    urls = ", ".join(f'"{u}"' for u in sim.urls)
    config.write_text(
        f'data_dir = "{workdir}"\n[log]\nformat = "json"\n[monitor.api]\nport = 0\n'
        f'[engine]\ninstance = "crash1"\nembedded_sim = false\nreconcile_interval_s = 3\n'
        f'request_timeout_ms = 1500\nrecv_window_ms = 2000\n'
        f'[engine.journal]\n{journal}\n'
        f'[engine.strategy]\nvenue = "{sim.name}"\ninterval_s = 0.2\nsize = "0.0005"\nmax_position = "0.005"\n'
        f'[[engine.venues]]\nname = "{sim.name}"\nexchange = "{sim.dialect}"\nurls = [{urls}]\n')
    return config


@dataclass
class EngineRun:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def reached_trading(self) -> bool:
        return '"event": "trading"' in self.log()


def start_engine(workdir: Path, config: Path, n: int, *, duration: float | None = None,
                 env: dict[str, str] | None = None) -> EngineRun:
    log_path = workdir / f"engine-{n:03d}.log"
    args = [*NONSTOP, "run", "--config", str(config)] + (["--duration", str(duration)] if duration else [])
    proc = subprocess.Popen(args, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    return EngineRun(proc, log_path)


def kill9(run: EngineRun) -> None:
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(timeout=10)


def control(sim: SimProcess, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.control + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wait_until(check: Any, within: float, what: str, step: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy (returned); fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(step)
