"""Values as venues write them in their raw JSON (`info`), read exactly: decimals from text, times
from epoch milliseconds. Binance and OKX write both the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def venue_decimal(value: Any) -> Decimal:
    """An exact Decimal from the venue's text, without its padding zeros (`"0.01000000"` -> 0.01); "" is zero."""
    if value in (None, ""):
        return Decimal(0)
    d = Decimal(str(value))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def venue_time(ms: Any) -> datetime:
    """An aware UTC time from epoch milliseconds; now when the venue gave none."""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC) if ms not in (None, "", 0) else datetime.now(UTC)
