"""Errors of the monitor package (metrics, alerts, health).

NonstopError
└── MonitorError         monitoring was used wrongly
    ├── MonitorClosed        an AlertManager or sampler was used after `close()`
    ├── UnsafeLabel          a metric label value is malformed or looks like a secret (names the label, not the value)
    └── ChannelConfigError   an alert channel's Apprise URL is missing or invalid (names the channel and env var)
"""

from __future__ import annotations

from nonstop.errors import ConfigError, NonstopError


class MonitorError(NonstopError):
    """Monitoring, alerting or health reporting was used wrongly."""


class MonitorClosed(MonitorError):
    """The component was closed; it accepts no more work."""


class UnsafeLabel(MonitorError, ValueError):
    """A metric label value is malformed or could carry a secret; the message never repeats the value."""


class ChannelConfigError(MonitorError, ConfigError):
    """An alert channel's URL environment variable is unset, or Apprise cannot parse the URL."""
