"""Test doubles for the monitor package: a recording notifier that can be told to fail."""

from __future__ import annotations

import asyncio

from nonstop.clock import ManualClock
from nonstop.config import AlertChannelSettings, AlertSettings
from nonstop.monitor import AlertManager, AlertTransition, Notification


class RecordingNotifier:
    """Records every delivered message; raises `ConnectionError` while `failures` > 0."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.attempts = 0
        self.failures = 0

    async def send(self, note: Notification) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("channel down")
        self.sent.append(note)


def alert_settings(*names: str, **overrides: object) -> AlertSettings:
    """Settings with channels `names` (URL env vars unused by injected notifiers)."""
    values: dict[str, object] = {
        "channels": [AlertChannelSettings(name=n, url_env=f"TEST_{n.upper()}_URL") for n in names],
        "resolve_hold_s": 30.0,
        "flap_window_s": 600.0,
        "digest_interval_s": 60.0,
        "retry_initial_s": 1.0,
        "retry_max_s": 8.0,
    }
    values.update(overrides)
    return AlertSettings.model_validate(values)


def manager_with(
    settings: AlertSettings, clock: ManualClock, journal: list[AlertTransition] | None = None
) -> tuple[AlertManager, dict[str, RecordingNotifier]]:
    notifiers = {c.name: RecordingNotifier() for c in settings.channels}
    sink = journal.append if journal is not None else None
    return AlertManager(settings, notifiers, clock=clock, journal_sink=sink, seed=1), notifiers


async def settle(rounds: int = 20) -> None:
    """Let background tasks run; fake deliveries complete in one loop step."""
    for _ in range(rounds):
        await asyncio.sleep(0)
