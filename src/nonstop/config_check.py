"""What the config file says, checked before pydantic sees it: strict types and "did you mean".

pydantic (in its default lax mode) would turn `embedded_sim = "yes"` into True and `port = "22080"`
into 22080; a config that says a string where a flag or a number belongs is more likely a mistake
than a wish, so it is refused here, naming the key. Decimals (prices, sizes) may be written as
numbers or quoted strings (a quoted decimal keeps every digit exactly). Unknown keys get the
closest known key as a suggestion (difflib); pydantic's own `extra = "forbid"` still refuses them.

The walk follows the model classes' own field annotations, so it needs no list of keys of its own.
"""

from __future__ import annotations

import difflib
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _core(annotation: Any) -> Any:
    """The annotation without Annotated[...] metadata."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _options(annotation: Any) -> list[Any]:
    """The types a field accepts (the members of a union, None left out)."""
    annotation = _core(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [_core(a) for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _type_name(value: Any) -> str:
    return {bool: "true/false", str: "a quoted string", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _scalar_problem(options: list[Any], value: Any) -> str | None:
    """Why `value` does not strictly fit a bool/int/float field (None if it fits or is not such a field)."""
    if any(isinstance(o, type) and issubclass(o, (BaseModel, Decimal, Path, str)) for o in options):
        return None
    if options == [bool]:
        return None if isinstance(value, bool) else f"must be true or false (unquoted), got {_type_name(value)}"
    numeric = [o for o in options if o in (int, float)]
    if numeric and len(numeric) == len(options) and isinstance(value, bool | str):
        kind = "an integer" if numeric == [int] else "a number"
        return f"must be {kind} (unquoted), got {_type_name(value)}"
    return None


def check(model: type[BaseModel], data: Any, path: str = "") -> tuple[list[str], dict[str, str]]:
    """Strict-type errors (`key = value: why` lines) and "did you mean" hints (by dotted key) for `data`
    read as `model`."""
    errors: list[str] = []
    hints: dict[str, str] = {}
    if not isinstance(data, dict):
        return errors, hints
    fields = model.model_fields
    for key, value in data.items():
        here = f"{path}.{key}" if path else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            if close:
                hints[here] = close[0]
            continue
        options = _options(fields[key].annotation)
        problem = _scalar_problem(options, value)
        if problem is not None:
            errors.append(f"  {here} = {value!r}: {problem}")
            continue
        for option in options:
            origin = typing.get_origin(option)
            if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(value, dict):
                sub_errors, sub_hints = check(option, value, here)
                errors += sub_errors
                hints.update(sub_hints)
            elif origin is list and isinstance(value, list):
                (item,) = typing.get_args(option) or (Any,)
                item_options = _options(item)
                for i, element in enumerate(value):
                    problem = _scalar_problem(item_options, element)
                    if problem is not None:
                        errors.append(f"  {here}.{i} = {element!r}: {problem}")
                    for item_option in item_options:
                        if isinstance(item_option, type) and issubclass(item_option, BaseModel):
                            sub_errors, sub_hints = check(item_option, element, f"{here}.{i}")
                            errors += sub_errors
                            hints.update(sub_hints)
    return errors, hints
