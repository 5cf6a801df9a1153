"""Your own strategy, by import path: `engine.strategy.kind = "package.module:Class"`.

The class follows the strategy interface (`nonstop.strategy.interface`; subclass `StrategyBase`),
declares its parameters as a pydantic model in a class attribute `Params`, and is built as
`Class(id=..., instrument_id=..., params=Params(**engine.strategy.params))`. `engine.strategy.path`
names a folder to import it from (a strategy kept outside the package). Anything that goes wrong —
the module or class missing, a module that fails while importing, parameters its model refuses, an
object that is not a strategy — stops start-up with a ConfigError naming the strategy and the cause.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nonstop.errors import ConfigError
from nonstop.model import InstrumentId
from nonstop.strategy.interface import TradingStrategy


def _import(kind: str, folder: Path | None) -> type:
    module_name, _, class_name = kind.partition(":")
    if folder is not None:
        where = str(folder.resolve())
        if not folder.is_dir():
            raise ConfigError(f"engine.strategy.path = {str(folder)!r} is not a folder")
        if where not in sys.path:
            sys.path.insert(0, where)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"engine.strategy.kind = {kind!r}: cannot import {module_name!r}: {err}") from None
    except Exception as err:  # noqa: BLE001  # the user's module failed while importing: whatever it raised, say so
        raise ConfigError(
            f"engine.strategy.kind = {kind!r}: importing {module_name!r} failed: {type(err).__name__}: {err}"
        ) from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ConfigError(f"engine.strategy.kind = {kind!r}: module {module_name!r} has no class {class_name!r}")
    return cls


def load_strategy(
    kind: str, params: dict[str, Any], *, strategy_id: str, instrument_id: InstrumentId, folder: Path | None = None
) -> TradingStrategy:
    """Import, validate its parameters with its own model, and build the strategy."""
    cls = _import(kind, folder)
    model = getattr(cls, "Params", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(f"engine.strategy.kind = {kind!r}: {cls.__name__} needs a pydantic model `Params`")
    try:
        validated = model.model_validate(params)
    except ValidationError as err:
        problems = "; ".join(
            f"engine.strategy.params.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"strategy {kind!r}: invalid parameters: {problems}") from None
    try:
        strategy = cls(id=strategy_id, instrument_id=instrument_id, params=validated)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"strategy {kind!r} could not be built: {err}") from None
    if not isinstance(strategy, TradingStrategy):
        raise ConfigError(f"strategy {kind!r}: {cls.__name__} does not implement the strategy interface")
    return strategy
