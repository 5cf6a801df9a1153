"""`[watchdog]`: the dead man's switch that runs beside (ideally away from) the engine."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class WatchdogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # the engine's liveness endpoint; default http://<monitor.api.host>:<monitor.api.port>/healthz
    health_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None
    silence_s: Annotated[float, Field(ge=1, le=3600)] = 10.0  # no heartbeat this long: cancel everything
    poll_interval_s: Annotated[float, Field(ge=0.05, le=60)] = 0.5
    request_timeout_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    resweep_s: Annotated[float, Field(ge=0.5, le=3600)] = 5.0  # while still silent, sweep again this often
    # the symbols whose open orders are swept on every trading venue; [] = the strategy's symbol
    symbols: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")]] = Field(default_factory=list)
    # after canceling, close the instance's positions (its net fills, read from the engine's journal) with
    # reduce-only IOC limit orders inside the collar; the engine, back, takes them in and stays halted
    # until `nonstop resume`. The engine and the watchdog must read the same [watchdog] section.
    flatten: bool = False
    # the flatten orders' price collar vs the venue's mid (half of it through the mid); default: the
    # risk collar of the kill switch's flatten (`[risk]` price_collar_bps), else 50 bps
    flatten_collar_bps: Annotated[Decimal, Field(gt=0, le=10_000)] | None = None
    journal_path: Path | None = None  # its own JSON-lines journal; default <data_dir>/watchdog.jsonl
    # the venue-side dead man's switch, armed by the engine on venues that offer one (`CancelAllAfter`):
    # the venue cancels everything `venue_countdown_s` after the last re-arm; 0 = never armed
    venue_countdown_s: Annotated[int, Field(ge=0, le=3600)] = 60
    venue_rearm_s: Annotated[float, Field(ge=1, le=3600)] = 10.0
