"""The root of nonstop's own exception tree (venue errors are classified in `connectivity`).

NonstopError
├── NotLeader            a send was refused: this engine does not hold the HA lease (any more)
├── ConfigError          a config file or value is wrong; the message names key, value and what is allowed
├── SimulatorError       the exchange simulator was asked something impossible (control API, setup)
├── ModelError           the pure model was asked something impossible (model/)
│   ├── InvalidIdentifier    an id string does not follow its format (names the value and the rule)
│   ├── IllegalTransition    an order event does not fit the order's state (names state, event, order)
│   │   └── Overfill             a fill would take filled quantity above the order quantity
│   └── UnknownOrder         an event refers to a client order id the state has never seen
└── JournalError         the durable journal failed (journal/)
    ├── JournalClosed        the journal is not open (never opened, or closed)
    ├── JournalWriteFailed   a write did not reach the journal (full disk, I/O error, lost database)
    ├── JournalUnwritable    the recorder cannot write right now: nothing new may be recorded or sent
    ├── JournalHeld          another live process holds the journal (names host, pid, since)
    ├── OwnershipLost        this process no longer owns the journal: it must stop sending at once
    │   ├── FencedOut            a write carried a fencing epoch lower than the highest recorded one
    │   └── ForeignWrite         the journal's sequence moved under us: someone else appended
    ├── CorruptRecord        a record or snapshot fails its checksum or cannot be decoded (names where)
    └── FoldRefused          a record decodes but the fold refuses it (names the seq and why)
"""

from __future__ import annotations


class NonstopError(Exception):
    """Base class of every error nonstop raises on purpose."""


class ConfigError(NonstopError):
    """A configuration file or value is invalid."""


class NotLeader(NonstopError):
    """An order or cancel was not sent: this engine does not hold the leader lease (any more)."""


class SimulatorError(NonstopError):
    """The simulator's control plane was given an impossible request."""


class ModelError(NonstopError):
    """The pure model (identifiers, orders, state) was asked something impossible."""


class InvalidIdentifier(ModelError, ValueError):
    """An identifier string does not follow its format."""


class IllegalTransition(ModelError):
    """An order event is not allowed in the order's current state."""


class Overfill(IllegalTransition):
    """A fill would take the filled quantity above the order quantity."""


class UnknownOrder(ModelError):
    """An event names a client order id that the state does not know."""


class JournalError(NonstopError):
    """The durable journal failed."""


class JournalWriteFailed(JournalError):
    """A write did not reach the journal (a full disk, an I/O error, a lost database connection).

    `outcome_unknown` is True when the write may have been committed all the same (a connection
    lost after the statement left, as with PostgreSQL); the reader must look before writing again.
    """

    def __init__(self, message: str, *, location: str, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.location = location
        self.outcome_unknown = outcome_unknown


class JournalUnwritable(JournalError):
    """The recorder cannot write its journal right now: nothing new may be recorded (or sent)."""


class JournalClosed(JournalError):
    """The journal was used before `open()` or after `close()`."""


class JournalHeld(JournalError):
    """Another live process holds the journal; this one must not start on it."""


class OwnershipLost(JournalError):
    """This process no longer owns its journal: it must stop sending orders and writing."""


class FencedOut(OwnershipLost):
    """A write carried a fencing epoch lower than the highest epoch recorded in the journal.

    The writer is a stale leader: it must stop sending orders and writing. `holder` describes
    who claimed the newer epoch, when the journal knows it.
    """

    def __init__(self, message: str, *, epoch: int, current_epoch: int, holder: str | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.current_epoch = current_epoch
        self.holder = holder


class ForeignWrite(OwnershipLost):
    """An append came back with a seq that does not follow the last one this process folded."""


class FoldRefused(JournalError):
    """A record verifies but the fold refuses it (an impossible transition): replay stops there."""

    def __init__(self, *, backend: str, location: str, seq: int, event_type: str, reason: str) -> None:
        super().__init__(f"{backend} journal {location}: record seq={seq} ({event_type}) is refused by the "
                         f"fold: {reason}")
        self.backend = backend
        self.location = location
        self.seq = seq
        self.event_type = event_type
        self.reason = reason


class CorruptRecord(JournalError):
    """A journal record or snapshot failed its checksum or could not be decoded.

    `torn` is True when the bad record is the last one (a torn write at the tail), which the
    reader may truncate explicitly; a bad record anywhere else is never skipped.
    """

    def __init__(self, *, backend: str, location: str, seq: int, reason: str, torn: bool = False) -> None:
        where = "torn last record" if torn else "record"
        super().__init__(f"{backend} journal {location}: {where} seq={seq} is corrupt: {reason}")
        self.backend = backend
        self.location = location
        self.seq = seq
        self.reason = reason
        self.torn = torn
