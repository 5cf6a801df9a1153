"""Alert channels: the `Notifier` port, its Apprise adapter, and the per-channel dispatcher.

A `ChannelDispatcher` owns one channel's bounded outbox, its token bucket and its digest:
CRITICAL messages are always queued and retried with backoff until delivered; WARNING/INFO
messages over the rate limit are folded into one digest sent later (never dropped silently),
and give up after `max_attempts` failed deliveries (recorded as DELIVERY_FAILED).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

import apprise
import structlog

from nonstop.clock import Clock
from nonstop.monitor._tasks import wait_event_or_sleep
from nonstop.monitor.alert_model import AlertLevel, AlertTransition, Notification, NotificationKind, TransitionKind
from nonstop.monitor.bucket import TokenBucket
from nonstop.monitor.errors import ChannelConfigError, MonitorError
from nonstop.monitor.settings import AlertChannelSettings, AlertSettings

log = structlog.get_logger(__name__)

_DIGEST_LINES = 50  # lines listed in one digest; the rest are counted


class DeliveryFailed(MonitorError):
    """A channel did not accept a message (the reason never includes the channel's URL)."""


class Notifier(Protocol):
    """Delivers one message to one channel; raises on failure. Tests plug fakes in here."""

    async def send(self, note: Notification) -> None: ...


_NOTIFY_TYPE = {
    AlertLevel.CRITICAL: apprise.NotifyType.FAILURE,
    AlertLevel.WARNING: apprise.NotifyType.WARNING,
    AlertLevel.INFO: apprise.NotifyType.INFO,
}


class AppriseNotifier:
    """One Apprise URL (mailto://, json://, tgram://, ...), sent with `async_notify`."""

    def __init__(self, url: str, *, channel: str, timeout_s: float) -> None:
        self._apprise = apprise.Apprise()
        self._timeout_s = timeout_s
        if not self._apprise.add(url):
            raise ChannelConfigError(f"alert channel {channel!r}: Apprise cannot parse its URL (value not shown)")
        for service in self._apprise:
            # Apprise spaces sends per service by sleeping in its worker thread (5.5 s for e-mail), which
            # would outlast our per-attempt timeout and leave a send running after we gave up on it; the
            # channel's token bucket does the pacing instead.
            service.request_rate_per_sec = 0

    async def send(self, note: Notification) -> None:
        notify_type = apprise.NotifyType.SUCCESS if note.kind is NotificationKind.RESOLVED else _NOTIFY_TYPE[note.level]
        result = await self._apprise.async_notify(
            body=note.body,
            title=note.subject(),
            notify_type=notify_type,
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self._timeout_s,
        )
        if not result:
            raise DeliveryFailed(f"apprise status {getattr(result, 'status', result)!s}")


def apprise_notifiers(settings: AlertSettings, environ: Mapping[str, str]) -> dict[str, AppriseNotifier]:
    """Build one notifier per configured channel from the URL in its environment variable."""
    out: dict[str, AppriseNotifier] = {}
    for ch in settings.channels:
        url = environ.get(ch.url_env, "").strip()
        if not url:
            raise ChannelConfigError(f"alert channel {ch.name!r}: environment variable {ch.url_env} is not set")
        out[ch.name] = AppriseNotifier(url, channel=ch.name, timeout_s=settings.attempt_timeout_s)
    return out


class ChannelDispatcher:
    """One channel's outbox, rate limit, digest and delivery loop (`run`, supervised by the manager)."""

    def __init__(
        self,
        channel: AlertChannelSettings,
        notifier: Notifier,
        settings: AlertSettings,
        *,
        clock: Clock,
        record: Callable[[AlertTransition], None],
        rng: random.Random,
        scrub: Callable[[str], str],
    ) -> None:
        self.name = channel.name
        self._notifier = notifier
        self._settings = settings
        self._clock = clock
        self._record = record
        self._rng = rng
        self._scrub = scrub
        self._bucket = TokenBucket(clock, capacity=channel.burst, per_second=channel.per_minute / 60.0)
        self._outbox: deque[Notification] = deque()
        self._digest: deque[Notification] = deque(maxlen=settings.queue_size)
        self._digest_overflow = 0
        self._digest_since: float | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.delivered = 0
        self.failed_attempts = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Messages not yet delivered: queued, in flight, or waiting in the digest."""
        return len(self._outbox) + len(self._digest) + self._digest_overflow + (0 if self._idle.is_set() else 1)

    async def wait_idle(self) -> None:
        while self._outbox or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    def offer(self, note: Notification) -> None:
        """Queue `note`, or fold it into the digest when the channel is over its rate limit."""
        if note.level is AlertLevel.CRITICAL:
            self._bucket.take_forced()
            self._enqueue(note)
        elif self._bucket.try_take():
            self._enqueue(note)
        else:
            self._fold(note)

    def _fold(self, note: Notification) -> None:
        if len(self._digest) == self._digest.maxlen:
            self._digest_overflow += 1
        self._digest.append(note)
        if self._digest_since is None:
            self._digest_since = self._clock.monotonic()
        self._event(TransitionKind.DIGESTED, note, "rate limit: held for the next digest")
        self._wake.set()

    def _enqueue(self, note: Notification) -> None:
        if len(self._outbox) >= self._settings.queue_size:
            victim = next((n for n in self._outbox if n.level is not AlertLevel.CRITICAL), None)
            if victim is not None:
                self._outbox.remove(victim)
                self._fold(victim)
            else:
                dropped = self._outbox.popleft()
                self.dropped += 1
                log.error("alert_dropped_queue_full", channel=self.name, key=dropped.key, queue=len(self._outbox))
                self._event(TransitionKind.DROPPED, dropped, f"queue of {self._settings.queue_size} full")
        self._outbox.append(note)
        self._idle.clear()
        self._wake.set()

    def _event(self, kind: TransitionKind, note: Notification, detail: str) -> None:
        self._record(
            AlertTransition(
                kind=kind, at=self._clock.now(), key=note.key, level=note.level, channel=self.name, detail=detail
            )
        )

    async def run(self) -> None:
        """The delivery loop: drain the outbox, then send the digest when it is due and a token allows."""
        while True:
            while self._outbox:
                note = self._outbox.popleft()
                self._idle.clear()
                await self._deliver(note)
            self._maybe_queue_digest()
            if not self._outbox:
                self._idle.set()
                self._wake.clear()
                await wait_event_or_sleep(self._clock, self._wake, self._next_digest_wait())

    def _next_digest_wait(self) -> float:
        if self._digest_since is None:
            return self._settings.digest_interval_s
        due_in = self._digest_since + self._settings.digest_interval_s - self._clock.monotonic()
        return max(due_in, self._bucket.seconds_until_token(), 0.001)

    def _maybe_queue_digest(self) -> None:
        if self._digest_since is None:
            return
        if self._clock.monotonic() - self._digest_since < self._settings.digest_interval_s:
            return
        if not self._bucket.try_take():
            return
        notes, extra = list(self._digest), self._digest_overflow
        self._digest.clear()
        self._digest_overflow = 0
        self._digest_since = None
        self._outbox.append(self._build_digest(notes, extra))

    def _build_digest(self, notes: list[Notification], extra: int) -> Notification:
        total = len(notes) + extra
        level = max(n.level for n in notes)
        lines = [f"{total} alert message(s) were held back by the rate limit of channel {self.name!r}:"]
        for n in notes[:_DIGEST_LINES]:
            lines.append(f"- {n.level.name} {n.kind.value} {n.key}: {n.title}")
        if total > _DIGEST_LINES:
            lines.append(f"... and {total - _DIGEST_LINES} more")
        return Notification(
            kind=NotificationKind.DIGEST,
            level=level,
            key="digest",
            title=f"{total} alerts held back on {self.name}",
            body="\n".join(lines),
        )

    async def _deliver(self, note: Notification) -> None:
        delay = self._settings.retry_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(self._settings.attempt_timeout_s):
                    await self._notifier.send(note)
            except Exception as err:  # noqa: BLE001 - any failed delivery is retried or recorded; CancelledError passes
                self.failed_attempts += 1
                reason = self._scrub(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
                log.warning("alert_delivery_failed", channel=self.name, key=note.key, attempt=attempt, reason=reason)
                if note.level is not AlertLevel.CRITICAL and attempt >= self._settings.max_attempts:
                    self._event(TransitionKind.DELIVERY_FAILED, note, f"gave up after {attempt} attempts: {reason}")
                    return
            else:
                self.delivered += 1
                self._event(TransitionKind.DELIVERED, note, f"{note.kind.value} after {attempt} attempt(s)")
                return
            await self._clock.sleep(delay * (0.5 + self._rng.random() / 2))
            delay = min(delay * 2, self._settings.retry_max_s)
