"""The venue's clock, measured at connect and periodically; skew raises alerts.

A signed request carries our timestamp and the venue refuses it outside `recv_window_ms`, so each
venue's offset is measured (`clock_offset_ms`, which also makes the adapter's signed requests use
it) and compared with the window: above a quarter of it a WARNING alert, above half a CRITICAL one,
resolved once the skew is back under a quarter. The offset is applied either way: the alert says
the host clock needs fixing before the correction itself becomes a risk (a jump mid-window).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.monitor.alert_model import AlertLevel

log = structlog.get_logger("nonstop.venues.clock")
CHECK_EVERY_S = 60.0


@runtime_checkable
class ClockedVenue(Protocol):
    name: str

    async def clock_offset_ms(self) -> int: ...


def skew_level(offset_ms: int, recv_window_ms: int) -> AlertLevel | None:
    """The alert level a clock offset calls for (None: within a quarter of the window)."""
    skew = abs(offset_ms)
    if skew > recv_window_ms / 2:
        return AlertLevel.CRITICAL
    if skew > recv_window_ms / 4:
        return AlertLevel.WARNING
    return None


class ClockWatch:
    """Measures every venue's clock offset now and every `every_s`; alerts on skew."""

    def __init__(
        self,
        venues: Mapping[str, object],
        recv_window_ms: int,
        clock: Clock,
        alert: Callable[[str, AlertLevel, str, str], None],
        clear: Callable[[str, str], None],
        every_s: float = CHECK_EVERY_S,
    ) -> None:
        self.venues = {n: v for n, v in venues.items() if isinstance(v, ClockedVenue)}
        self.recv_window_ms = recv_window_ms
        self.clock = clock
        self._alert, self._clear = alert, clear
        self.every_s = every_s
        self.offsets: dict[str, int] = {}

    async def check(self, name: str) -> int | None:
        """Measure one venue (None when it could not be reached: the next pass tries again)."""
        try:
            offset = await self.venues[name].clock_offset_ms()
        except ConnectivityError as err:
            log.info("clock_offset_unmeasured", venue=name, error=str(err))
            return None
        self.offsets[name] = offset
        level = skew_level(offset, self.recv_window_ms)
        key = f"clock_skew:{name}"
        if level is None:
            self._clear(key, f"clock offset {offset} ms")
            return offset
        log.warning("clock_skew", venue=name, offset_ms=offset, recv_window_ms=self.recv_window_ms,
                    level=level.name.lower())
        self._alert(
            key,
            level,
            f"clock of this host is {abs(offset)} ms {'ahead of' if offset > 0 else 'behind'} {name}",
            f"recv_window_ms is {self.recv_window_ms}; signed requests use the measured offset; "
            "synchronise the host clock (NTP)",
        )
        return offset

    async def check_all(self) -> None:
        for name in self.venues:
            await self.check(name)

    async def run(self) -> None:
        """Re-measure every `every_s` (the first pass is `check_all`, at connect)."""
        while True:
            await self.clock.sleep(self.every_s)
            await self.check_all()
