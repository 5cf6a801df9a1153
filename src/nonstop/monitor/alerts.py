"""The alert manager (M8): one alert per condition, routed, damped, delivered, remembered.

The engine reports conditions by key; the manager decides what a person is told:

- de-duplication: raising an active key again updates its count, last_seen and evidence; nothing is re-sent;
- escalation: the same key raised at a higher level is sent again, at that level;
- flap damping: `resolve()` starts a hold; "resolved" is sent only once the key stayed clear for
  `resolve_hold_s`. A re-raise during the hold continues the same alert silently. A key re-raised
  within `flap_window_s` after its "resolved" went out is *re-opened* (same alert, sent once as
  re-opened) and its next hold doubles per re-open (capped at the flap window);
- routing: CRITICAL goes to every channel; WARNING/INFO by `routes` (see `AlertSettings`);
- rate limiting per channel, digests, retries: see `channels.ChannelDispatcher`;
- history: every transition is kept in a bounded in-memory history and passed to `journal_sink`;
- secrets: key, title, body and source are scrubbed before anything is stored or sent.
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType

import structlog

from nonstop.clock import Clock
from nonstop.monitor._tasks import Supervisor
from nonstop.monitor.alert_model import (
    Alert,
    AlertLevel,
    AlertStatus,
    AlertTransition,
    Notification,
    NotificationKind,
    TransitionKind,
)
from nonstop.monitor.channels import ChannelDispatcher, Notifier, apprise_notifiers
from nonstop.monitor.errors import MonitorClosed, MonitorError
from nonstop.monitor.scrub import Scrubber
from nonstop.monitor.settings import AlertSettings

log = structlog.get_logger(__name__)

JournalSink = Callable[[AlertTransition], None]


@dataclass(slots=True)
class _Track:
    alert: Alert
    sent_level: AlertLevel  # highest level announced in this episode (routes the "resolved")
    clear_since: float | None = None  # monotonic time resolve() was called
    resolve_body: str = ""
    resolved_mono: float | None = None


class AlertManager:
    """Raise and resolve alerts by key; deliver them through supervised per-channel dispatchers.

    `raise_` and `resolve` are synchronous and never block: call them from anywhere on the loop.
    Use `async with AlertManager(...)` (or `start()` / `close()`); alerts raised before `start()`
    are queued and sent once it runs; after `close()` they raise `MonitorClosed`.
    """

    def __init__(
        self,
        settings: AlertSettings,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Clock,
        journal_sink: JournalSink | None = None,
        scrubber: Scrubber | None = None,
        source: str = "nonstop",
        seed: int | None = None,
    ) -> None:
        configured = {c.name for c in settings.channels}
        if set(notifiers) != configured:
            raise ValueError(f"notifiers {sorted(notifiers)} must match configured channels {sorted(configured)}")
        self._settings = settings
        self._clock = clock
        self._sink = journal_sink
        self._scrubber = scrubber or Scrubber()
        self._source = self._scrubber.scrub(source)
        self._tracks: dict[str, _Track] = {}
        self._history: deque[AlertTransition] = deque(maxlen=settings.history_size)
        self._supervisor = Supervisor(clock, owner="alerts")
        self._started = False
        self._closed = False
        self.sink_errors = 0
        rng = random.Random(seed)
        self._channels = {
            c.name: ChannelDispatcher(
                c, notifiers[c.name], settings, clock=clock, record=self._record, rng=rng, scrub=self._scrubber.scrub
            )
            for c in settings.channels
        }

    @classmethod
    def from_settings(
        cls,
        settings: AlertSettings,
        *,
        clock: Clock,
        environ: Mapping[str, str] | None = None,
        journal_sink: JournalSink | None = None,
        scrubber: Scrubber | None = None,
        source: str = "nonstop",
    ) -> AlertManager:
        """Build Apprise channels from the URLs in the environment variables the config names."""
        env = os.environ if environ is None else environ
        scrubber = scrubber or Scrubber()
        for ch in settings.channels:  # a channel URL (with its token) must never appear in alert text
            scrubber.add(env.get(ch.url_env, ""))
        notifiers = apprise_notifiers(settings, env)
        return cls(settings, notifiers, clock=clock, journal_sink=journal_sink, scrubber=scrubber, source=source)

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._closed:
            raise MonitorClosed("alert manager is closed")
        if self._started:
            return
        self._started = True
        for name, dispatcher in self._channels.items():
            self._supervisor.spawn(f"channel:{name}", dispatcher.run)
        self._supervisor.spawn("sweeper", self._sweep_loop)

    async def drain(self) -> None:
        """Wait until every queued message was delivered or given up (digests still held are not sent)."""
        if not self._started or self._closed:
            raise MonitorError("drain() needs a started, open alert manager")
        for d in self._channels.values():
            await d.wait_idle()

    async def close(self) -> None:
        """Cancel every task; messages still pending are reported in the log. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._supervisor.close()
        pending = {n: d.pending for n, d in self._channels.items() if d.pending}
        if pending:
            log.warning("alerts_undelivered_at_close", pending=pending)

    async def __aenter__(self) -> AlertManager:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # the engine's API ---------------------------------------------------------------------------

    def raise_(self, key: str, level: AlertLevel, title: str, body: str = "", *, source: str | None = None) -> Alert:
        """Report that condition `key` holds. `body` carries the evidence (numbers). Returns the alert."""
        self._check_open()
        key, title, body = self._scrubber.scrub(key), self._scrubber.scrub(title), self._scrubber.scrub(body)
        src = self._scrubber.scrub(source) if source else self._source
        now, mono = self._clock.now(), self._clock.monotonic()
        track = self._tracks.get(key)
        if track is not None:
            self._sweep_one(key, track, mono)  # a hold that already elapsed is announced first
            track = self._tracks.get(key)
        if track is None or (
            track.alert.status is AlertStatus.RESOLVED
            and (track.resolved_mono is None or mono - track.resolved_mono > self._settings.flap_window_s)
        ):
            alert = Alert(key, level, title, body, src, now, now, 1, AlertStatus.ACTIVE)
            self._tracks[key] = _Track(alert, sent_level=level)
            self._transition(TransitionKind.RAISED, alert)
            self._notify(NotificationKind.FIRING, alert, level)
            return alert
        old = track.alert
        new_level = max(level, old.level)
        alert = replace(
            old,
            level=new_level,
            title=title,
            body=body,
            source=src,
            last_seen=now,
            count=old.count + 1,
            status=AlertStatus.ACTIVE,
        )
        track.alert, track.clear_since = alert, None
        if old.status is AlertStatus.RESOLVED:  # back within the flap window: one alert, re-opened
            alert = replace(alert, reopened=old.reopened + 1, resolved_at=None)
            track.alert, track.resolved_mono, track.sent_level = alert, None, new_level
            self._transition(TransitionKind.REOPENED, alert)
            self._notify(NotificationKind.REOPENED, alert, new_level)
        elif new_level > track.sent_level:
            track.sent_level = new_level
            self._transition(TransitionKind.ESCALATED, alert)
            self._notify(NotificationKind.ESCALATED, alert, new_level)
        return alert

    def resolve(self, key: str, body: str = "") -> Alert | None:
        """Report that condition `key` cleared. "Resolved" is sent after the hold; returns the alert or None."""
        self._check_open()
        key = self._scrubber.scrub(key)
        track = self._tracks.get(key)
        if track is None or track.alert.status is AlertStatus.RESOLVED:
            return None
        if track.alert.status is AlertStatus.ACTIVE:
            track.alert = replace(track.alert, status=AlertStatus.CLEARING)
            track.clear_since = self._clock.monotonic()
            track.resolve_body = self._scrubber.scrub(body)
            self._transition(TransitionKind.CLEARING, track.alert)
        if self._hold(track) <= 0:
            self._finish(track)
        return track.alert

    def get(self, key: str) -> Alert | None:
        track = self._tracks.get(key)
        return track.alert if track else None

    def active(self) -> list[Alert]:
        """Alerts not yet resolved (ACTIVE or CLEARING), most severe first."""
        alerts = [t.alert for t in self._tracks.values() if t.alert.status is not AlertStatus.RESOLVED]
        return sorted(alerts, key=lambda a: (-a.level, a.first_seen))

    def history(self) -> list[AlertTransition]:
        """The most recent transitions (bounded by `history_size`), oldest first."""
        return list(self._history)

    def pending(self) -> dict[str, int]:
        """Undelivered messages per channel."""
        return {n: d.pending for n, d in self._channels.items()}

    @property
    def task_count(self) -> int:
        return len(self._supervisor)

    # internals ----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MonitorClosed("alert manager is closed; no alert can be raised or resolved")

    def _hold(self, track: _Track) -> float:
        hold = self._settings.resolve_hold_s * (2**track.alert.reopened)
        return min(hold, max(self._settings.flap_window_s, self._settings.resolve_hold_s))

    def _finish(self, track: _Track) -> None:
        now = self._clock.now()
        alert = replace(track.alert, status=AlertStatus.RESOLVED, resolved_at=now)
        track.alert, track.resolved_mono, track.clear_since = alert, self._clock.monotonic(), None
        self._transition(TransitionKind.RESOLVED, alert)
        lasted = (now - alert.first_seen).total_seconds()
        note = track.resolve_body or "The condition cleared."
        self._notify(
            NotificationKind.RESOLVED,
            alert,
            track.sent_level,
            body=f"{note}\nResolved after {lasted:.0f}s; raised {alert.count} time(s).",
        )

    def sweep(self) -> None:
        """Send due "resolved" messages and forget resolved keys past the flap window (run periodically)."""
        mono = self._clock.monotonic()
        for key, track in list(self._tracks.items()):
            self._sweep_one(key, track, mono)

    def _sweep_one(self, key: str, track: _Track, mono: float) -> None:
        status = track.alert.status
        if status is AlertStatus.CLEARING and track.clear_since is not None:
            if mono - track.clear_since >= self._hold(track):
                self._finish(track)
        elif (
            status is AlertStatus.RESOLVED
            and track.resolved_mono is not None
            and mono - track.resolved_mono > self._settings.flap_window_s
        ):
            del self._tracks[key]

    async def _sweep_loop(self) -> None:
        tick = min(1.0, max(self._settings.resolve_hold_s / 10, 0.01))
        while True:
            await self._clock.sleep(tick)
            self.sweep()

    def _notify(self, kind: NotificationKind, alert: Alert, level: AlertLevel, *, body: str | None = None) -> None:
        text = alert.body if body is None else body
        footer = (
            f"key: {alert.key} | level: {level.label} | source: {alert.source}\n"
            f"first seen: {alert.first_seen.isoformat()} | last seen: {alert.last_seen.isoformat()} | "
            f"count: {alert.count}"
        )
        note = Notification(kind=kind, level=level, key=alert.key, title=alert.title, body=f"{text}\n\n{footer}")
        for dispatcher in self._route(level):
            dispatcher.offer(note)

    def _route(self, level: AlertLevel) -> list[ChannelDispatcher]:
        if level is AlertLevel.CRITICAL:
            return list(self._channels.values())
        names = self._settings.routes.get(level.label)  # type: ignore[call-overload]
        if names is None:
            return list(self._channels.values())
        return [self._channels[n] for n in names]

    def _transition(self, kind: TransitionKind, alert: Alert) -> None:
        self._record(AlertTransition(kind=kind, at=self._clock.now(), key=alert.key, level=alert.level, alert=alert))

    def _record(self, transition: AlertTransition) -> None:
        self._history.append(transition)
        if self._sink is None:
            return
        try:
            self._sink(transition)
        except Exception:  # a failing journal must not silence alerting; it is logged and counted
            self.sink_errors += 1
            log.exception("alert_journal_sink_failed", key=transition.key, kind=transition.kind.value)
