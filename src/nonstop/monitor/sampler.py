"""Periodic system metrics: CPU, memory and disk through psutil (in a worker thread, since a stat
of a hung network file system must not stall the loop), and event-loop lag measured on the loop.

Loop lag is a real-time property, so it is measured with the loop's own clock even when the rest
of the sampler runs on an injected (manual) `Clock`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

from nonstop.clock import Clock
from nonstop.monitor._tasks import Supervisor
from nonstop.monitor.metrics import Metrics


@dataclass(frozen=True, slots=True)
class SystemSample:
    cpu_seconds: float
    rss_bytes: int
    disk_free_bytes: int


def _existing(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class SystemSampler:
    """Refreshes the system gauges every `interval_s` and loop lag every `lag_interval_s`."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        clock: Clock,
        data_dir: Path,
        interval_s: float = 15.0,
        lag_interval_s: float = 0.5,
        process: psutil.Process | None = None,
    ) -> None:
        if interval_s <= 0 or lag_interval_s <= 0:
            raise ValueError("sampler intervals must be positive")
        self._metrics = metrics
        self._clock = clock
        self._data_dir = data_dir
        self._interval_s = interval_s
        self._lag_interval_s = lag_interval_s
        self._process = process or psutil.Process()
        self._supervisor = Supervisor(clock, owner="system-sampler")
        self._lag_max = 0.0
        self.last: SystemSample | None = None
        self.last_lag_s: float | None = None

    def read(self) -> SystemSample:
        """One blocking read of the process and the data dir's file system (run it in a thread)."""
        cpu = self._process.cpu_times()
        return SystemSample(
            cpu_seconds=cpu.user + cpu.system,
            rss_bytes=self._process.memory_info().rss,
            disk_free_bytes=psutil.disk_usage(str(_existing(self._data_dir))).free,
        )

    async def sample_once(self) -> SystemSample:
        """Read in a worker thread, then update the gauges on the loop."""
        sample = await asyncio.to_thread(self.read)
        self._metrics.process_cpu(sample.cpu_seconds)
        self._metrics.resident_memory(sample.rss_bytes)
        self._metrics.disk_free(sample.disk_free_bytes)
        self.last = sample
        return sample

    async def start(self) -> None:
        self._supervisor.spawn("system", self._sample_loop)
        self._supervisor.spawn("loop-lag", self._lag_loop)

    async def close(self) -> None:
        await self._supervisor.close()

    async def __aenter__(self) -> SystemSampler:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _sample_loop(self) -> None:
        while True:
            await self.sample_once()
            self._metrics.loop_lag(self.last_lag_s or 0.0, self._lag_max)
            self._lag_max = 0.0
            await self._clock.sleep(self._interval_s)

    async def _lag_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self._lag_interval_s)
            lag = max(loop.time() - start - self._lag_interval_s, 0.0)
            self.last_lag_s = lag
            self._lag_max = max(self._lag_max, lag)
            self._metrics.loop_lag(lag, self._lag_max)
