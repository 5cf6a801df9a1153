"""`[monitor]`: alert channels, routing and damping (`[monitor.alerts]`), the HTTP API and dashboard
(`[monitor.api]`), and the system sampler's intervals."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from nonstop.config_section import Section


class AlertChannelSettings(Section):
    """One alert channel: its name, and the environment variable holding its Apprise URL.

    Apprise URLs carry tokens and passwords, so the URL itself never lives in the file.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,30}$")]
    url_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,60}$")]
    per_minute: Annotated[float, Field(gt=0, le=6000)] = 6.0  # sustained sends per minute (token bucket)
    burst: Annotated[int, Field(ge=1, le=1000)] = 5  # sends allowed at once before the rate applies


class AlertSettings(Section):
    """Alert routing and damping. CRITICAL always goes to every channel; `routes` maps the lower
    levels to channel names (a level absent from `routes` goes to every channel; [] to none)."""

    channels: list[AlertChannelSettings] = Field(default_factory=list)
    routes: dict[Literal["warning", "info"], list[str]] = Field(default_factory=dict)
    resolve_hold_s: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    flap_window_s: Annotated[float, Field(ge=0, le=86_400)] = 900.0
    digest_interval_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    retry_initial_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    attempt_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3  # WARNING/INFO; CRITICAL retries until delivered
    queue_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    history_size: Annotated[int, Field(ge=1, le=1_000_000)] = 1000

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertSettings:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"alert channel names must be unique, got {names}")
        for level, targets in self.routes.items():
            unknown = [t for t in targets if t not in names]
            if unknown:
                raise ValueError(f"routes.{level} names unknown channels {unknown}; channels are {names}")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        return self


class ApiSettings(Section):
    """The HTTP API and dashboard. Bound to loopback by default; anywhere else it needs a token
    (at least 16 characters) in the environment variable named by `token_env`."""

    enabled: bool = True
    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080  # 0 = a free port
    token_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,40}$")] = "NONSTOP_API_TOKEN"
    # a port that is taken stops start-up (true), or (false) the engine trades on and warns until it is free
    required: bool = True
    retry_s: Annotated[float, Field(ge=0.1, le=3600)] = 30.0  # required = false: how often it tries again


class MonitorSettings(Section):
    alerts: AlertSettings = AlertSettings()
    api: ApiSettings = ApiSettings()
    sample_interval_s: Annotated[float, Field(ge=0.1, le=3600)] = 15.0  # system metrics (psutil)
    loop_lag_interval_s: Annotated[float, Field(ge=0.01, le=60)] = 0.5
