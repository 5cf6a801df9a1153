"""The drill's real processes: the simulator (the `sim` command) and the engines (`run`) it supervises.

Every wait is bounded; `stop()` always ends the process (SIGTERM, then SIGKILL after a grace).
Each process runs in its own session so a kill reaches nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nonstop.errors import NonstopError

NONSTOP = [sys.executable, "-m", "nonstop.cli"]


class DrillError(NonstopError):
    """The drill could not set up or drive its processes (the message says which and why)."""


@dataclass
class Process:
    name: str
    proc: asyncio.subprocess.Process
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, chars: int = 2000) -> str:
        return self.log()[-chars:]

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    async def kill9(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 10)

    async def stop(self, grace_s: float = 30.0) -> int:
        """SIGTERM (a clean stop: the engine cancels its orders), SIGKILL if it is not gone in `grace_s`."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except TimeoutError:
                await self.kill9()
        rc = self.proc.returncode
        return -1 if rc is None else rc


async def _spawn(name: str, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> Process:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            *NONSTOP,
            *args,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return Process(name, proc, log_path)


async def first_line(process: Process, predicate: str, timeout_s: float) -> dict[str, object]:
    """The first JSON log line containing `predicate`, waiting at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in process.log().splitlines():
            if predicate in line and line.startswith("{"):
                with contextlib.suppress(ValueError):
                    data = json.loads(line)
                    if isinstance(data, dict):
                        return data
        if not process.running:
            raise DrillError(
                f"{process.name} exited ({process.proc.returncode}) before it was ready:\n{process.tail()}"
            )
        await asyncio.sleep(0.1)
    raise DrillError(f"{process.name} was not ready within {timeout_s:.0f} s:\n{process.tail()}")


@dataclass
class SimHandle:
    process: Process
    control: str
    urls: dict[str, list[str]] = field(default_factory=dict)


async def start_sim(config: Path, log_path: Path, *, max_s: float) -> SimHandle:
    process = await _spawn("simulator", ["sim", "--config", str(config), "--duration", str(int(max_s))], log_path)
    try:
        info = await first_line(process, '"control"', 30)
    except BaseException:
        await process.stop(5)
        raise
    return SimHandle(process, str(info["control"]), dict(info["venues"]))  # type: ignore[arg-type]


@dataclass
class EngineHandle:
    process: Process
    api: str


async def start_engine(config: Path, log_path: Path, *, max_s: float) -> EngineHandle:
    """`max_s` bounds the engine's life even if the drill itself is killed (it stops by itself)."""
    process = await _spawn("engine", ["run", "--config", str(config), "--duration", str(int(max_s))], log_path)
    try:
        line = await first_line(process, '"api_server_starting"', 60)
    except BaseException:
        await process.stop(5)
        raise
    return EngineHandle(process, str(line["url"]).rstrip("/"))
