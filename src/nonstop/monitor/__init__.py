"""Monitoring (M7) and alerting (M8): metrics registry, system sampler, health model, alert manager.

What the engine calls:

- `Metrics` - the Prometheus registry; typed update methods; `render()` for `/metrics`.
- `SystemSampler` - refreshes CPU, memory, disk and event-loop lag gauges (start/close).
- `Liveness` / `Readiness` - bodies for `/healthz` and `/readyz`.
- `AlertManager` - `raise_(key, level, title, body)` / `resolve(key, body)`, delivered through Apprise.
"""

from __future__ import annotations

from nonstop.monitor.alert_model import (
    Alert,
    AlertLevel,
    AlertStatus,
    AlertTransition,
    Notification,
    NotificationKind,
    TransitionKind,
)
from nonstop.monitor.alerts import AlertManager, JournalSink
from nonstop.monitor.channels import AppriseNotifier, DeliveryFailed, Notifier
from nonstop.monitor.errors import ChannelConfigError, MonitorClosed, MonitorError, UnsafeLabel
from nonstop.monitor.health import Check, Liveness, Readiness
from nonstop.monitor.metrics import CONTENT_TYPE, Metrics
from nonstop.monitor.sampler import SystemSample, SystemSampler
from nonstop.monitor.scrub import Scrubber, scrub

__all__ = [
    "CONTENT_TYPE",
    "Alert",
    "AlertLevel",
    "AlertManager",
    "AlertStatus",
    "AlertTransition",
    "AppriseNotifier",
    "ChannelConfigError",
    "Check",
    "DeliveryFailed",
    "JournalSink",
    "Liveness",
    "Metrics",
    "MonitorClosed",
    "MonitorError",
    "Notification",
    "NotificationKind",
    "Notifier",
    "Readiness",
    "Scrubber",
    "SystemSample",
    "SystemSampler",
    "TransitionKind",
    "UnsafeLabel",
    "scrub",
]
