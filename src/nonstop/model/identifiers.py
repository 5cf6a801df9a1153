"""Identifiers: small immutable value types, validated on construction.

`ClientOrderId` is the one that matters most (invariants 2 and 3): it is derived from
(instance id, strategy id, sequence number) only, so it is deterministic; the sequence number
is journaled with the order intent, so it is unique across restarts; the instance id makes it
unique across instances. It reads `ns-<instance>-<strategy>-<seq in base 36>`, e.g.
`ns-a1-mm1-2s`, and `ClientOrderId.prefix(instance)` (`"ns-a1-"`) selects every order of one
instance on a venue after a crash.

Venue rules it is built to fit (checked in tests):

- Binance spot `newClientOrderId`: at most 36 characters of `[.A-Z:/a-z0-9_-]`;
- Bybit `orderLinkId`: at most 36 characters of `[A-Za-z0-9_-]`;
- ccxt passes the id through unchanged (`params={"clientOrderId": ...}`);
- the longest id we can build is 31 characters, so OKX's 32-character limit holds too;
- OKX `clOrdId`: 1..32 alphanumerics, no `-`: its adapter's `ClientIdRule` sends each `-` as `Z`
  (our parts are lower case, so the encoding is reversible) and reads it back.

(The rules themselves live with the adapters, in `nonstop.venues`.)

Each adapter states its venue's rule (`ClientIdRule`); `ClientOrderIdFactory(rules=...)` refuses
to hand out an id that some venue could not carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nonstop.errors import InvalidIdentifier

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PART = re.compile(r"^[a-z0-9]+$")
_VENUE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
ANY_VENUE = "auto"  # a strategy's instrument on this "venue" is routed to a real one per order (M12)
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")
_COID = re.compile(r"^ns-([a-z0-9]{1,8})-([a-z0-9]{1,10})-([0-9a-z]{1,8})$")

MAX_INSTANCE_LEN = 8
MAX_STRATEGY_LEN = 10
MAX_SEQ = 36**8 - 1  # eight base-36 digits: 2.8e12 orders per instance


def to_base36(n: int) -> str:
    """Lower-case base-36 text of a non-negative integer."""
    if n < 0:
        raise InvalidIdentifier(f"base36 needs a non-negative integer, got {n}")
    if n == 0:
        return "0"
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(_B36[r])
    return "".join(reversed(digits))


def _check_part(kind: str, value: str, max_len: int) -> None:
    if not (1 <= len(value) <= max_len) or not _PART.match(value):
        raise InvalidIdentifier(f"{kind} {value!r} must be 1..{max_len} characters of [a-z0-9]")


# the watchdog's order ids (execution/watchdog_orders.py): a sequence of their own per instance
WATCHDOG_STRATEGIES = frozenset({"wds", "wdb"})


@dataclass(frozen=True, slots=True)
class ClientOrderId:
    """Our id for an order, sent to the venue with it: `ns-<instance>-<strategy>-<seq base36>`.

    Build it with `ClientOrderId.build(...)`, read one with `ClientOrderId.parse(text)`.
    """

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _COID.match(self.value):
            raise InvalidIdentifier(
                f"client order id {self.value!r} must match ns-<instance>-<strategy>-<seq base36> "
                f"(instance 1..{MAX_INSTANCE_LEN}, strategy 1..{MAX_STRATEGY_LEN}, "
                "seq 1..8 chars of [a-z0-9])"
            )
        seq_text = self.value.rsplit("-", 1)[1]
        if len(seq_text) > 1 and seq_text[0] == "0":
            raise InvalidIdentifier(f"client order id {self.value!r}: sequence has a leading zero")

    @classmethod
    def build(cls, instance: str, strategy: str, seq: int) -> ClientOrderId:
        """The id of order number `seq` (>= 1) of `strategy` on `instance`."""
        _check_part("instance id", instance, MAX_INSTANCE_LEN)
        _check_part("strategy id", strategy, MAX_STRATEGY_LEN)
        if not 1 <= seq <= MAX_SEQ:
            raise InvalidIdentifier(f"order sequence {seq} must be in 1..{MAX_SEQ}")
        return cls(f"ns-{instance}-{strategy}-{to_base36(seq)}")

    @classmethod
    def parse(cls, text: str) -> ClientOrderId:
        """Validate venue text as one of our ids; raises InvalidIdentifier for foreign ids."""
        return cls(text)

    @classmethod
    def is_ours(cls, text: str, instance: str | None = None) -> bool:
        """True if `text` is a client order id we made (of `instance`, when given)."""
        try:
            coid = cls(text)
        except InvalidIdentifier:
            return False
        return instance is None or coid.instance == instance

    @staticmethod
    def prefix(instance: str) -> str:
        """The text every client order id of `instance` starts with, e.g. `ns-a1-`."""
        _check_part("instance id", instance, MAX_INSTANCE_LEN)
        return f"ns-{instance}-"

    @property
    def instance(self) -> str:
        return self.value.split("-")[1]

    @property
    def strategy(self) -> str:
        return self.value.split("-")[2]

    @property
    def seq(self) -> int:
        return int(self.value.split("-")[3], 36)

    @property
    def series(self) -> str:
        """The sequence `seq` counts in: the instance's (its engine's id factory), or for a watchdog
        order the instance's watchdog sequence (`<instance>:wd`)."""
        instance, strategy = self.value.split("-")[1:3]
        return f"{instance}:wd" if strategy in WATCHDOG_STRATEGIES else instance

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ClientIdRule:
    """What one venue accepts as a client order id, and how ours travels on its wire.

    `dash_as`: the character a `-` is sent as (None: sent unchanged); it must be one our ids never
    contain (they are lower case), so `from_wire` is exact.
    """

    venue: str
    pattern: str  # the venue's own rule for the wire text, as a regex
    dash_as: str | None = None

    def to_wire(self, coid: str) -> str:
        return coid.replace("-", self.dash_as) if self.dash_as else coid

    def from_wire(self, text: str) -> str:
        """Our id back from the venue's text (text that is not one of ours is returned unchanged)."""
        if not self.dash_as or not text.startswith(f"ns{self.dash_as}"):
            return text
        ours = text.replace(self.dash_as, "-")
        return ours if _COID.match(ours) else text

    def check(self, coid: ClientOrderId) -> None:
        wire = self.to_wire(coid.value)
        if not re.fullmatch(self.pattern, wire):
            raise InvalidIdentifier(
                f"client order id {coid.value!r} (sent as {wire!r}) breaks {self.venue}'s rule {self.pattern}"
            )


class ClientOrderIdFactory:
    """Hands out the next client order id of one instance; seeded from the journal on start.

    The sequence is per instance (shared by its strategies), so `last_seq` is one number that
    `EngineState.max_order_seq(instance)` recovers from replay. The caller must make the order
    intent durable before using the id (invariant 1), or the id could be reused after a crash.
    """

    def __init__(self, instance: str, last_seq: int = 0, rules: tuple[ClientIdRule, ...] = ()) -> None:
        _check_part("instance id", instance, MAX_INSTANCE_LEN)
        if last_seq < 0:
            raise InvalidIdentifier(f"last_seq must be >= 0, got {last_seq}")
        self.instance = instance
        self.last_seq = last_seq
        self.rules = rules  # every venue's rule: an id is handed out only if each venue can carry it

    def next(self, strategy: str) -> ClientOrderId:
        coid = ClientOrderId.build(self.instance, strategy, self.last_seq + 1)
        for rule in self.rules:
            rule.check(coid)
        self.last_seq += 1
        return coid


@dataclass(frozen=True, slots=True)
class InstrumentId:
    """A market on one venue: `<venue>:<BASE>/<QUOTE>`, e.g. `binance-a:BTC/USDT` (ccxt symbol)."""

    venue: str
    symbol: str

    def __post_init__(self) -> None:
        if not isinstance(self.venue, str) or not _VENUE.match(self.venue):
            raise InvalidIdentifier(f"venue {self.venue!r} must match {_VENUE.pattern}")
        if not isinstance(self.symbol, str) or not _SYMBOL.match(self.symbol):
            raise InvalidIdentifier(f"symbol {self.symbol!r} must be a ccxt symbol like BTC/USDT")

    @classmethod
    def parse(cls, text: str) -> InstrumentId:
        """Parse `venue:BASE/QUOTE` (a ccxt swap symbol may carry `:SETTLE` after it)."""
        venue, sep, symbol = str(text).partition(":")
        if not sep:
            raise InvalidIdentifier(f"instrument id {text!r} must be <venue>:<BASE>/<QUOTE>")
        return cls(venue, symbol)

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class _VenueText:
    value: str

    def __post_init__(self) -> None:
        text = self.value
        if not isinstance(text, str) or not (1 <= len(text) <= 128) or not text.isprintable():
            raise InvalidIdentifier(
                f"{type(self).__name__} {self.value!r} must be 1..128 printable characters"
            )

    def __str__(self) -> str:
        return self.value


class VenueOrderId(_VenueText):
    """The venue's id for an order (Binance `orderId`), as text."""

    __slots__ = ()


class TradeId(_VenueText):
    """The venue's id for one execution (Binance `tradeId`); unique per instrument on a venue."""

    __slots__ = ()
