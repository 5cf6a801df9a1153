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
    ├── FencedOut            a write carried a fencing epoch lower than the highest recorded one
    └── CorruptRecord        a record or snapshot fails its checksum or cannot be decoded (names where)
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


class FencedOut(JournalError):
    """A write carried a fencing epoch lower than the highest epoch recorded in the journal.

    The writer is a stale leader: it must stop sending orders and writing.
    """

    def __init__(self, message: str, *, epoch: int, current_epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.current_epoch = current_epoch


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
