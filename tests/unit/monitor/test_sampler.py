"""System sampler: psutil readings land in the gauges; event-loop lag is measured for real."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from nonstop.clock import LiveClock, ManualClock
from nonstop.monitor import Metrics, SystemSampler


def gauge(m: Metrics, name: str) -> float:
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            if s.name == name:
                return s.value
    raise KeyError(name)


async def test_sample_once_fills_cpu_memory_and_disk(tmp_path: Path) -> None:
    m = Metrics()
    sampler = SystemSampler(m, clock=ManualClock(), data_dir=tmp_path / "not" / "yet" / "created")
    sample = await sampler.sample_once()
    assert sample.rss_bytes > 10_000_000 and sample.disk_free_bytes > 0 and sample.cpu_seconds > 0
    assert gauge(m, "nonstop_process_resident_memory_bytes") == sample.rss_bytes
    assert gauge(m, "nonstop_data_dir_free_bytes") == sample.disk_free_bytes
    assert gauge(m, "nonstop_process_cpu_seconds_total") == sample.cpu_seconds


async def test_blocked_loop_shows_as_lag_and_close_stops_every_task(tmp_path: Path) -> None:
    m = Metrics()
    sampler = SystemSampler(m, clock=LiveClock(), data_dir=tmp_path, interval_s=60, lag_interval_s=0.02)
    async with sampler:
        await asyncio.sleep(0.1)
        time.sleep(0.25)  # noqa: ASYNC251 - block the event loop on purpose
        await asyncio.sleep(0.1)
        assert gauge(m, "nonstop_event_loop_lag_max_seconds") >= 0.2
        assert len(sampler._supervisor) == 2
    assert len(sampler._supervisor) == 0
