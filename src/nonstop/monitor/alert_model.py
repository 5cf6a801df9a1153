"""Alert values: levels, the alert itself, what is sent to a channel, and what is journaled."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class AlertLevel(enum.IntEnum):
    """Ordered by severity: CRITICAL wakes someone up, WARNING is read in the morning, INFO is a record."""

    INFO = 10
    WARNING = 20
    CRITICAL = 30

    @property
    def label(self) -> str:
        return self.name.lower()


class AlertStatus(enum.Enum):
    ACTIVE = "active"  # the condition holds
    CLEARING = "clearing"  # resolve() was called; "resolved" is sent once it stays clear for the hold time
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One condition (`key`, e.g. "breaker_open:binance-a:ep0") as last reported.

    `count` is how many times it was raised in this episode (re-raises while active, and flaps,
    are counted, not re-sent); `body` holds the latest evidence.
    """

    key: str
    level: AlertLevel
    title: str
    body: str
    source: str
    first_seen: datetime
    last_seen: datetime
    count: int
    status: AlertStatus
    reopened: int = 0  # times it came back after its "resolved" was sent (within the flap window)
    resolved_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the journal, the API and the dashboard)."""
        return {
            "key": self.key,
            "level": self.level.label,
            "title": self.title,
            "body": self.body,
            "source": self.source,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "status": self.status.value,
            "reopened": self.reopened,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


class NotificationKind(enum.Enum):
    FIRING = "firing"
    ESCALATED = "escalated"  # the same key came back at a higher level
    REOPENED = "reopened"  # came back after its "resolved" was sent, within the flap window
    RESOLVED = "resolved"
    DIGEST = "digest"  # lower-level notifications folded together by a channel's rate limit


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one channel. Text is already scrubbed of secrets."""

    kind: NotificationKind
    level: AlertLevel
    key: str
    title: str
    body: str

    def subject(self) -> str:
        tag = {
            NotificationKind.FIRING: self.level.name,
            NotificationKind.ESCALATED: f"{self.level.name} (escalated)",
            NotificationKind.REOPENED: f"{self.level.name} (re-opened)",
            NotificationKind.RESOLVED: "RESOLVED",
            NotificationKind.DIGEST: f"{self.level.name} digest",
        }[self.kind]
        return f"[nonstop {tag}] {self.title}"


class TransitionKind(enum.Enum):
    RAISED = "raised"
    ESCALATED = "escalated"
    REOPENED = "reopened"
    CLEARING = "clearing"
    RESOLVED = "resolved"
    DELIVERED = "delivered"
    DIGESTED = "digested"  # held back by a rate limit into a digest
    DELIVERY_FAILED = "delivery_failed"  # a non-critical message gave up after max_attempts
    DROPPED = "dropped"  # a channel's bounded queue overflowed


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """One entry of the alert history; what the journal sink receives."""

    kind: TransitionKind
    at: datetime
    key: str
    level: AlertLevel
    alert: Alert | None = None
    channel: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "key": self.key,
            "level": self.level.label,
            "alert": self.alert.to_dict() if self.alert else None,
            "channel": self.channel,
            "detail": self.detail,
        }
