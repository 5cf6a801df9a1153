"""Field codec for the model's frozen dataclasses: JSON-able values and back, strictly.

Encoding (stable; changing it needs a new schema version in `events.py`):

- `Decimal` → its exact string (`"0.00100"` stays `"0.00100"`); NaN/Infinity are refused;
- `datetime` → ISO 8601 UTC with microseconds, `"2026-01-01T00:00:00.000000+00:00"`;
- enums → their value; identifiers → their text; `Balance` → `{"asset","free","locked"}`;
- `None` stays `null` for optional fields.

Decoding is strict: a missing or unexpected key, a wrong type or a naive datetime raises
`ModelError` naming the class and field, so the journal can report a corrupt record precisely.
The per-class field plan is computed once, so encoding a million events stays cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, cast

import orjson

from nonstop.errors import ModelError
from nonstop.model.balance import Balance
from nonstop.model.identifiers import ClientOrderId, InstrumentId, TradeId, VenueOrderId

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


def encode_decimal(value: Decimal) -> str:
    return str(value)


def decode_decimal(raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise TypeError(f"expected a decimal string, got {type(raw).__name__}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a decimal") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a finite decimal")
    return value


def encode_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_datetime(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(raw).__name__}")
    value = datetime.fromisoformat(raw)
    if value.utcoffset() != timedelta(0):
        raise ValueError(f"{raw!r} is not a UTC timestamp")
    return value.astimezone(UTC)


def _encode_balances(value: tuple[Balance, ...]) -> list[dict[str, str]]:
    return [{"asset": b.asset, "free": str(b.free), "locked": str(b.locked)} for b in value]


def _decode_balances(raw: Any) -> tuple[Balance, ...]:
    if not isinstance(raw, list):
        raise TypeError("expected a list of balances")
    out = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"asset", "free", "locked"}:
            raise ValueError(f"balance {item!r} must have exactly asset, free, locked")
        out.append(Balance(item["asset"], decode_decimal(item["free"]), decode_decimal(item["locked"])))
    return tuple(out)


def _decode_texts(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise TypeError("expected a list of strings")
    return tuple(raw)


@functools.lru_cache(maxsize=4096)
def parse_instrument(text: str) -> InstrumentId:
    """`InstrumentId.parse`, cached: a journal names a handful of instruments a million times, and
    the id is immutable, so decoding shares one instance per text."""
    return InstrumentId.parse(text)


def _exact(kind: type) -> Decoder:
    def decode(raw: Any) -> Any:
        if type(raw) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(raw).__name__}")
        return raw

    return decode


def _text(kind: Callable[[str], Any]) -> Decoder:
    def decode(raw: Any) -> Any:
        if not isinstance(raw, str):
            raise TypeError(f"expected a string, got {type(raw).__name__}")
        return kind(raw)

    return decode


def _codec_for(hint: Any) -> tuple[Encoder, Decoder, type | tuple[type, ...]]:
    """(encoder, decoder, python type) for one annotated field type."""
    if hint is Decimal:
        return encode_decimal, decode_decimal, Decimal
    if hint is datetime:
        return encode_datetime, decode_datetime, datetime
    if hint in (str, int, bool):
        return (lambda v: v), _exact(hint), hint
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda v: v.value), hint, hint
    if hint in (ClientOrderId, VenueOrderId, TradeId):
        return (lambda v: v.value), _text(hint), hint
    if hint is InstrumentId:
        return str, _text(parse_instrument), hint
    if hint == tuple[Balance, ...]:
        return _encode_balances, _decode_balances, tuple
    if hint == tuple[str, ...]:
        return list, _decode_texts, tuple
    raise TypeError(f"no codec for field type {hint!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class FieldPlan:
    name: str
    optional: bool
    encode: Encoder
    decode: Decoder
    pytype: type | tuple[type, ...]


_PLANS: dict[type, tuple[FieldPlan, ...]] = {}


def plan(cls: type) -> tuple[FieldPlan, ...]:
    """The field plan of a dataclass (cached)."""
    cached = _PLANS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    plans = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        optional = False
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(args) != 1:
                raise TypeError(f"{cls.__name__}.{f.name}: only `X | None` unions are supported")
            hint, optional = args[0], True
        encode, decode, pytype = _codec_for(hint)
        plans.append(FieldPlan(f.name, optional, encode, decode, pytype))
    _PLANS[cls] = result = tuple(plans)
    return result


def _added_later(cls: type) -> frozenset[str]:
    """Optional fields with a default of None: absent from payloads written before they existed,
    they decode to that default (so an old journal still replays byte for byte)."""
    return frozenset(
        f.name for f in dataclasses.fields(cls) if f.default is None and any(p.name == f.name and p.optional
                                                                             for p in plan(cls))
    )


def check_fields(obj: Any) -> None:
    """Type-check a dataclass instance against its annotations (rejects float for Decimal, naive times)."""
    cls = type(obj)
    for p in plan(cls):
        value = getattr(obj, p.name)
        if value is None:
            if p.optional:
                continue
            raise ModelError(f"{cls.__name__}.{p.name} must not be None")
        if not isinstance(value, p.pytype) or (p.pytype is int and isinstance(value, bool)):
            expected = p.pytype.__name__ if isinstance(p.pytype, type) else str(p.pytype)
            raise ModelError(f"{cls.__name__}.{p.name}={value!r} must be {expected}")
        if isinstance(value, Decimal) and not value.is_finite():
            raise ModelError(f"{cls.__name__}.{p.name}={value!r} must be a finite Decimal")
        if isinstance(value, datetime) and value.utcoffset() != timedelta(0):
            raise ModelError(f"{cls.__name__}.{p.name}={value!r} must be a timezone-aware UTC datetime")


def encode_fields(obj: Any) -> dict[str, Any]:
    """The encoded fields of a dataclass instance, by name (its class's compiled encoder)."""
    cls = type(obj)
    encode = _ENCODERS.get(cls)
    if encode is None:
        encode = _ENCODERS[cls] = _compile_encoder(cls)
    return encode(obj)


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}
# field encoders written inline by `_compile_encoder` (the same function of the value as the plan's)
_INLINE = {encode_decimal: "str({})", str: "str({})", list: "list({})",
           encode_datetime: "{}.astimezone(UTC).isoformat(timespec='microseconds')"}


def _compile_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The field plan of `cls` as one function building the dict in one expression, generated once
    (as `dataclasses` generates `__init__`): every journal append encodes each event, and the loop
    over the plan (a lookup and a call per field) was most of an event's encoding time."""
    env: dict[str, Any] = {"UTC": UTC}
    lines = [f"def encode_{cls.__name__}(obj):"]
    items = []
    for i, p in enumerate(plan(cls)):
        env[f"enc_{i}"] = p.encode
        inline = _INLINE.get(p.encode)
        if p.pytype in (str, int, bool):  # the identity
            call = "{}"
        elif isinstance(p.pytype, type) and issubclass(p.pytype, Enum):
            call = "{}._value_"  # the member's value, without the `value` property's descriptor call
        elif isinstance(p.pytype, type) and issubclass(p.pytype, ClientOrderId | VenueOrderId | TradeId):
            call = "{}.value"
        else:
            call = inline or f"enc_{i}({{}})"
        lines.append(f"    v{i} = obj.{p.name}")
        encoded = call.format(f"v{i}")
        items.append(f"{p.name!r}: None if v{i} is None else {encoded}" if p.optional else f"{p.name!r}: {encoded}")
    lines.append("    return {" + ", ".join(items) + "}")
    exec("\n".join(lines), env)  # trusted text, built from the class's own field names
    return cast(Callable[[Any], dict[str, Any]], env[f"encode_{cls.__name__}"])


@functools.lru_cache(maxsize=256)
def _expected_keys(cls: type, extra_keys: frozenset[str]) -> frozenset[str]:
    return frozenset(p.name for p in plan(cls)) | extra_keys


def decode_fields(
    cls: type, data: dict[str, Any], extra_keys: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Keyword arguments for `cls(**kwargs)` from encoded data; strict about keys and types."""
    plans = plan(cls)
    expected = _expected_keys(cls, extra_keys)
    unexpected = None if expected.issuperset(data) else set(data) - expected
    if unexpected:
        raise ModelError(f"{cls.__name__}: unexpected keys {sorted(unexpected)}")
    kwargs: dict[str, Any] = {}
    for p in plans:
        if p.name not in data:
            if p.name in _added_later(cls):  # a field added after older journals were written
                continue
            raise ModelError(f"{cls.__name__}: missing key {p.name!r}")
        raw = data[p.name]
        if raw is None:
            if not p.optional:
                raise ModelError(f"{cls.__name__}.{p.name} must not be null")
            kwargs[p.name] = None
            continue
        try:
            kwargs[p.name] = p.decode(raw)
        except ModelError as err:
            raise ModelError(f"{cls.__name__}.{p.name}: {err}") from None
        except (TypeError, ValueError) as err:
            raise ModelError(f"{cls.__name__}.{p.name}={raw!r}: {err}") from None
    return kwargs


def canonical_json(data: Any) -> str:
    """Sorted-key, whitespace-free, ASCII-only JSON: the stored (and hashed) bytes.

    orjson writes exactly what `json.dumps(sort_keys=True, separators=(",", ":"))` writes for
    ASCII text without DEL (the same escapes); text with non-ASCII characters goes through `json` for its
    `\\uXXXX` escapes, so the bytes never depend on which encoder ran.
    """
    text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    if text.isascii() and "\x7f" not in text:  # json escapes DEL, orjson does not
        return text
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
