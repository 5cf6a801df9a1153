"""Settings of the market-data layer (validator, feeds, history cache).

Pydantic models, frozen, unknown keys refused, every field defaulted, so `DataSettings()` is a
working configuration. The engine's `config.py` nests `DataSettings` under `[data]`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidatorSettings(_Frozen):
    """What makes a source untrustworthy, and how many good sources a price needs."""

    max_age_s: float = Field(3.0, gt=0, description="no update received for this long: STALE")
    max_unchanged_s: float | None = Field(
        10.0, gt=0, description="updates arrive but the book has not changed for this long: FROZEN (None: off)"
    )
    band_bps: Decimal = Field(Decimal("50"), gt=0, description="max deviation of a source from the median")
    max_spread_bps: Decimal | None = Field(
        Decimal("500"), gt=0, description="a wider top-of-book spread is treated as an empty book (None: off)"
    )
    min_sources: int = Field(2, ge=1, description="fewer good sources than this: no trustworthy price")
    gap_s: float = Field(1.0, gt=0, description="an interval between two updates longer than this counts as a gap")


class FeedSettings(_Frozen):
    """Time boxes of one redundant feed (websocket with REST fallback)."""

    stall_s: float = Field(2.0, gt=0, description="no websocket message for this long: switch to REST polling")
    poll_interval_s: float = Field(0.5, gt=0, description="REST polling period while the websocket is down")
    reduced_poll_interval_s: float = Field(2.0, gt=0, description="REST polling period at REDUCED_DATA and below")
    request_timeout_s: float = Field(5.0, gt=0, description="one REST request may take at most this long")
    reconnect_min_s: float = Field(0.2, gt=0, description="first websocket reconnect delay")
    reconnect_max_s: float = Field(10.0, gt=0, description="longest websocket reconnect delay")
    restore_after: int = Field(3, ge=1, description="websocket messages in a row before REST polling stops")
    queue_size: int = Field(
        1024, ge=1,
        description="unused since issue 17 item 5 (nothing queues: updates are observed as they arrive and "
        "publications conflated per symbol); accepted so configurations that set it still load",
    )
    check_interval_s: float = Field(0.5, gt=0, description="re-assess every instrument this often (staleness)")

    @model_validator(mode="after")
    def _ordered(self) -> FeedSettings:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must be <= reconnect_max_s")
        return self


class HistorySettings(_Frozen):
    """The local OHLCV cache."""

    path: Path | None = Field(None, description="SQLite file; None: <data_dir>/history.sqlite")
    page_limit: int = Field(1000, ge=1, le=1000, description="candles per fetch request (Binance's max is 1000)")
    request_timeout_s: float = Field(10.0, gt=0)
    max_pages: int = Field(100, ge=1, description="upper bound of fetch requests for one call")


class DataSettings(_Frozen):
    validator: ValidatorSettings = ValidatorSettings()
    feeds: FeedSettings = FeedSettings()
    history: HistorySettings = HistorySettings()
