"""Degradation detectors (M9): catch the slide before the failure, and say it with numbers.

Each detector is fed observations by the engine and reports through an `AlertSink` (what
`AlertManager` offers: `raise_(key, level, title, body)` and `resolve(key, body)`), with the
evidence in the body. Pure logic on an injected `Clock`: no tasks, no I/O, bounded memory.

- `LatencyDetector`: order round-trip latency per venue, recent median against the venue's own
  baseline median. The baseline is "what normal looked like": samples taken while the detector
  fires never enter it, so a lasting slowdown does not become the new normal and resolve itself.
- `SlippageDetector`: executed versus expected price, in bps (positive = worse), recent mean
  against the baseline mean, per venue and strategy; same baseline rule.
- `DriftDetector`: internal versus venue view of balances, positions or open orders. A difference
  must persist for `confirm_s` (fills in flight make transient ones) before it is raised; critical
  once it persists for `critical_s`.
- `FeedQualityDetector`: per source and instrument, data age and deviation from consensus; a
  breach must be seen `confirm` times in a row (one late tick is not a degradation).

Every detector resolves its alert once the condition clears (with hysteresis where it matters).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from nonstop.clock import Clock
from nonstop.monitor.alert_model import AlertLevel

__all__ = [
    "AlertSink",
    "DriftDetector",
    "FeedQualityDetector",
    "LatencyDetector",
    "SlippageDetector",
]


class AlertSink(Protocol):
    """The part of `AlertManager` a detector uses."""

    def raise_(self, key: str, level: AlertLevel, title: str, body: str = "") -> Any: ...

    def resolve(self, key: str, body: str = "") -> Any: ...


class _Firing:
    """Remembers which keys are raised, so each detector resolves exactly what it raised."""

    def __init__(self, sink: AlertSink) -> None:
        self._sink = sink
        self.levels: dict[str, AlertLevel] = {}

    def raise_(self, key: str, level: AlertLevel, title: str, body: str) -> None:
        self.levels[key] = level
        self._sink.raise_(key, level, title, body)

    def resolve(self, key: str, body: str) -> None:
        if self.levels.pop(key, None) is not None:
            self._sink.resolve(key, body)

    def __contains__(self, key: str) -> bool:
        return key in self.levels


@dataclass(slots=True)
class _Window:
    """Samples of one key: `recent` (the last `recent_s`) and `baseline` (older, normal samples)."""

    recent: deque[tuple[float, float, bool]]  # (time, value, taken while firing)
    baseline: deque[tuple[float, float]]


class _BaselineDetector:
    """Shared mechanics: a recent window judged against a baseline window of the same key."""

    def __init__(
        self, sink: AlertSink, clock: Clock, *, recent_s: float, baseline_s: float, min_recent: int,
        min_baseline: int, max_samples: int,
    ) -> None:
        if not 0 < recent_s < baseline_s:
            raise ValueError("need 0 < recent_s < baseline_s")
        if min_recent < 1 or min_baseline < 1 or max_samples < min_baseline + min_recent:
            raise ValueError("need min_recent >= 1, min_baseline >= 1 and max_samples >= min_baseline + min_recent")
        self._firing = _Firing(sink)
        self._clock = clock
        self.recent_s, self.baseline_s = recent_s, baseline_s
        self.min_recent, self.min_baseline = min_recent, min_baseline
        self._max = max_samples
        self._windows: dict[str, _Window] = {}

    def _add(self, key: str, value: float) -> tuple[list[float], list[float]]:
        now = self._clock.monotonic()
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _Window(deque(maxlen=self._max), deque(maxlen=self._max))
        w.recent.append((now, value, key in self._firing))
        while w.recent and w.recent[0][0] < now - self.recent_s:
            t, v, firing = w.recent.popleft()
            if not firing:
                w.baseline.append((t, v))
        if key not in self._firing:  # while firing, the last normal baseline is kept as it was
            while w.baseline and w.baseline[0][0] < now - self.baseline_s:
                w.baseline.popleft()
        return [v for _, v, _ in w.recent], [v for _, v in w.baseline]

    @property
    def firing(self) -> dict[str, AlertLevel]:
        return dict(self._firing.levels)


class LatencyDetector(_BaselineDetector):
    """Order latency rising against its own baseline, per venue (key `latency_rising:<venue>`).

    Warning when the recent median is at least `warn_ratio` x the baseline median and at least
    `min_increase_s` above it (tiny latencies doubling is noise); critical at `critical_ratio`.
    Resolved when the recent median is back under `clear_ratio` x baseline.
    """

    def __init__(
        self, sink: AlertSink, clock: Clock, *, recent_s: float = 60.0, baseline_s: float = 1800.0,
        warn_ratio: float = 2.0, critical_ratio: float = 5.0, clear_ratio: float = 1.5,
        min_increase_s: float = 0.05, min_recent: int = 5, min_baseline: int = 20, max_samples: int = 20_000,
    ) -> None:
        super().__init__(sink, clock, recent_s=recent_s, baseline_s=baseline_s, min_recent=min_recent,
                         min_baseline=min_baseline, max_samples=max_samples)
        if not 1 <= clear_ratio <= warn_ratio <= critical_ratio:
            raise ValueError("need 1 <= clear_ratio <= warn_ratio <= critical_ratio")
        self.warn_ratio, self.critical_ratio, self.clear_ratio = warn_ratio, critical_ratio, clear_ratio
        self.min_increase_s = min_increase_s

    def observe(self, venue: str, seconds: float) -> None:
        """One order round trip (submit to acknowledgement) on `venue`."""
        key = f"latency_rising:{venue}"
        recent, baseline = self._add(key, seconds)
        if len(recent) < self.min_recent or len(baseline) < self.min_baseline:
            return
        now_med, base_med = statistics.median(recent), statistics.median(baseline)
        ratio = now_med / base_med if base_med > 0 else float("inf")
        evidence = (
            f"order round trip on {venue}: recent median {now_med * 1000:.0f} ms over {len(recent)} orders "
            f"(last {self.recent_s:g}s) vs baseline median {base_med * 1000:.0f} ms over {len(baseline)} orders "
            f"= {ratio:.1f}x; p90 recent {_quantile(recent, 0.9) * 1000:.0f} ms"
        )
        rising = now_med - base_med >= self.min_increase_s
        if rising and ratio >= self.critical_ratio:
            self._firing.raise_(key, AlertLevel.CRITICAL, f"Order latency on {venue} is {ratio:.1f}x its baseline",
                                evidence)
        elif rising and ratio >= self.warn_ratio:
            self._firing.raise_(key, AlertLevel.WARNING, f"Order latency on {venue} is rising ({ratio:.1f}x)",
                                evidence)
        elif key in self._firing and ratio < self.clear_ratio:
            self._firing.resolve(key, evidence)


class SlippageDetector(_BaselineDetector):
    """Slippage widening per venue and strategy (key `slippage_widening:<venue>:<strategy>`).

    Slippage is `side * (executed - expected) / expected` in bps, positive = worse. Warning when
    the recent mean is `warn_bps` above the baseline mean and above `floor_bps`; critical at
    `critical_bps` above. Resolved when back within `clear_bps` of the baseline.
    """

    def __init__(
        self, sink: AlertSink, clock: Clock, *, recent_s: float = 300.0, baseline_s: float = 6 * 3600.0,
        warn_bps: float = 5.0, critical_bps: float = 20.0, clear_bps: float = 2.0, floor_bps: float = 2.0,
        min_recent: int = 5, min_baseline: int = 20, max_samples: int = 20_000,
    ) -> None:
        super().__init__(sink, clock, recent_s=recent_s, baseline_s=baseline_s, min_recent=min_recent,
                         min_baseline=min_baseline, max_samples=max_samples)
        if not 0 <= clear_bps <= warn_bps <= critical_bps:
            raise ValueError("need 0 <= clear_bps <= warn_bps <= critical_bps")
        self.warn_bps, self.critical_bps, self.clear_bps, self.floor_bps = warn_bps, critical_bps, clear_bps, floor_bps

    @staticmethod
    def slippage_bps(side: str, expected: Decimal, executed: Decimal) -> float:
        """Positive when the execution was worse than expected (paid more on a buy, got less on a sell)."""
        if expected <= 0:
            raise ValueError(f"expected price must be > 0, got {expected}")
        sign = {"buy": 1, "sell": -1}.get(side.lower())
        if sign is None:
            raise ValueError(f"side must be buy or sell, got {side!r}")
        return float(sign * (executed - expected) / expected * 10_000)

    def observe(self, venue: str, strategy: str, side: str, expected: Decimal, executed: Decimal) -> float:
        """One execution; returns its slippage in bps."""
        bps = self.slippage_bps(side, expected, executed)
        key = f"slippage_widening:{venue}:{strategy}"
        recent, baseline = self._add(key, bps)
        if len(recent) < self.min_recent or len(baseline) < self.min_baseline:
            return bps
        now_mean, base_mean = statistics.fmean(recent), statistics.fmean(baseline)
        wider = now_mean - base_mean
        evidence = (
            f"{strategy} on {venue}: mean slippage {now_mean:.2f} bps over the last {len(recent)} fills "
            f"({self.recent_s:g}s) vs baseline {base_mean:.2f} bps over {len(baseline)} fills "
            f"(+{wider:.2f} bps); worst recent {max(recent):.2f} bps; last: {side} expected {expected} got {executed}"
        )
        if now_mean >= self.floor_bps and wider >= self.critical_bps:
            self._firing.raise_(key, AlertLevel.CRITICAL, f"Slippage on {venue} widened by {wider:.1f} bps", evidence)
        elif now_mean >= self.floor_bps and wider >= self.warn_bps:
            self._firing.raise_(key, AlertLevel.WARNING, f"Slippage on {venue} is widening (+{wider:.1f} bps)",
                                evidence)
        elif key in self._firing and wider < self.clear_bps:
            self._firing.resolve(key, evidence)
        return bps


class DriftDetector:
    """Internal versus venue state (key `drift:<kind>:<venue>`), confirmed by persistence.

    `compare` takes two mappings of name -> amount (balances per asset, positions per instrument);
    `compare_open_orders` two sets of client order ids. A difference above `abs_tol` and
    `rel_tol` x the larger side is drift; raised as a warning after `confirm_s`, critical after
    `critical_s`; resolved on the first clean comparison.
    """

    def __init__(
        self, sink: AlertSink, clock: Clock, *, confirm_s: float = 10.0, critical_s: float = 120.0,
        abs_tol: Decimal = Decimal("0.00000001"), rel_tol: Decimal = Decimal("0.0001"), max_items: int = 10,
    ) -> None:
        if not 0 <= confirm_s <= critical_s:
            raise ValueError("need 0 <= confirm_s <= critical_s")
        self._firing = _Firing(sink)
        self._clock = clock
        self.confirm_s, self.critical_s = confirm_s, critical_s
        self.abs_tol, self.rel_tol, self.max_items = abs_tol, rel_tol, max_items
        self._since: dict[str, float] = {}

    def compare(
        self, venue: str, kind: str, internal: Mapping[str, Decimal], external: Mapping[str, Decimal]
    ) -> list[str]:
        """Compare amounts; returns the drifting names (empty when in line)."""
        lines, names = [], []
        for name in sorted(set(internal) | set(external)):
            ours, theirs = Decimal(internal.get(name, 0)), Decimal(external.get(name, 0))
            diff = ours - theirs
            if abs(diff) > max(self.abs_tol, self.rel_tol * max(abs(ours), abs(theirs))):
                names.append(name)
                rel = f", {abs(diff) / max(abs(ours), abs(theirs)) * 100:.3f}%" if max(abs(ours), abs(theirs)) else ""
                lines.append(f"{name}: internal {ours} vs venue {theirs} (diff {diff:+}{rel})")
        self._judge(venue, kind, lines)
        return names

    def compare_open_orders(self, venue: str, internal: Iterable[str], external: Iterable[str]) -> list[str]:
        """Compare open order ids; returns the ids open on one side only."""
        ours, theirs = set(internal), set(external)
        lines = [f"open here, not on the venue: {cid}" for cid in sorted(ours - theirs)]
        lines += [f"open on the venue, unknown here: {cid}" for cid in sorted(theirs - ours)]
        self._judge(venue, "open_orders", lines)
        return sorted(ours ^ theirs)

    def _judge(self, venue: str, kind: str, lines: list[str]) -> None:
        key = f"drift:{kind}:{venue}"
        now = self._clock.monotonic()
        if not lines:
            self._since.pop(key, None)
            self._firing.resolve(key, f"{kind} on {venue} match the venue again")
            return
        since = self._since.setdefault(key, now)
        lasted = now - since
        if lasted < self.confirm_s:
            return
        shown = lines[: self.max_items]
        if len(lines) > self.max_items:
            shown.append(f"... and {len(lines) - self.max_items} more")
        body = f"{kind} on {venue} differ from the venue for {lasted:.0f}s:\n" + "\n".join(shown)
        level = AlertLevel.CRITICAL if lasted >= self.critical_s else AlertLevel.WARNING
        self._firing.raise_(key, level, f"Internal {kind} drift on {venue} ({len(lines)} difference(s))", body)

    @property
    def firing(self) -> dict[str, AlertLevel]:
        return dict(self._firing.levels)


class FeedQualityDetector:
    """Feed quality falling per source and instrument (key `feed_quality:<source>:<instrument>`).

    Stale (age above `stale_s`; critical above `critical_stale_s`) or deviating from consensus by
    more than `max_deviation_bps`; raised after `confirm` breaching observations in a row, resolved
    after `confirm` clean ones.
    """

    def __init__(
        self, sink: AlertSink, clock: Clock, *, stale_s: float = 5.0, critical_stale_s: float = 60.0,
        max_deviation_bps: float = 50.0, confirm: int = 3,
    ) -> None:
        if not 0 < stale_s <= critical_stale_s or max_deviation_bps <= 0 or confirm < 1:
            raise ValueError("need 0 < stale_s <= critical_stale_s, max_deviation_bps > 0, confirm >= 1")
        self._firing = _Firing(sink)
        self._clock = clock
        self.stale_s, self.critical_stale_s = stale_s, critical_stale_s
        self.max_deviation_bps, self.confirm = max_deviation_bps, confirm
        self._streak: dict[str, int] = {}  # > 0: consecutive bad observations; < 0: consecutive good ones

    def observe(self, source: str, instrument: str, *, age_s: float, deviation_bps: float) -> None:
        key = f"feed_quality:{source}:{instrument}"
        problems = []
        if age_s > self.stale_s:
            problems.append(f"data {age_s:.1f}s old (limit {self.stale_s:g}s)")
        if abs(deviation_bps) > self.max_deviation_bps:
            problems.append(f"{deviation_bps:+.1f} bps from consensus (limit {self.max_deviation_bps:g} bps)")
        streak = self._streak.get(key, 0)
        streak = max(streak, 0) + 1 if problems else min(streak, 0) - 1
        self._streak[key] = streak
        if problems and streak >= self.confirm:
            level = AlertLevel.CRITICAL if age_s > self.critical_stale_s else AlertLevel.WARNING
            body = f"{source} for {instrument}: " + "; ".join(problems) + f" ({streak} checks in a row)"
            self._firing.raise_(key, level, f"Feed quality falling: {source} {instrument}", body)
        elif not problems and -streak >= self.confirm:
            self._firing.resolve(
                key, f"{source} for {instrument}: age {age_s:.1f}s, {deviation_bps:+.1f} bps from consensus"
            )

    @property
    def firing(self) -> dict[str, AlertLevel]:
        return dict(self._firing.levels)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
