"""Bounded in-memory time series for the dashboard's charts."""

from __future__ import annotations

from collections import deque

from nonstop.api.views import SeriesPoint


class Series:
    """The last `maxlen` (t, v) points; the oldest are dropped first."""

    def __init__(self, maxlen: int = 900) -> None:
        if maxlen < 1:
            raise ValueError("a series needs maxlen >= 1")
        self._points: deque[tuple[float, float]] = deque(maxlen=maxlen)

    def add(self, t: float, v: float) -> None:
        self._points.append((t, v))

    def points(self) -> list[SeriesPoint]:
        return [SeriesPoint(t=round(t, 3), v=round(v, 6)) for t, v in self._points]

    def __len__(self) -> int:
        return len(self._points)
