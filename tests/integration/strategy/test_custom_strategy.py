"""Your own strategy: a class in a folder outside the package, selected by import path, with its own
pydantic parameters, trades on the simulator; one that fails to import or validate stops start-up."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from nonstop.engine import Engine
from nonstop.errors import ConfigError
from nonstop.model import InstrumentId
from nonstop.strategy.loader import load_strategy
from tests.integration.engine.kit import eventually, settings

pytestmark = pytest.mark.timeout(120)

README = Path(__file__).resolve().parents[3] / "README.md"


def _readme_example() -> str:
    """The README's complete custom strategy, as printed there."""
    text = README.read_text(encoding="utf-8")
    start = text.index('```python\n"""my_strategies/dip.py') + len("```python\n")
    return text[start:text.index("```", start)]


@pytest.fixture
def strategy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my_strategies"
    folder.mkdir()
    (folder / "dip.py").write_text(_readme_example())
    (folder / "broken.py").write_text("raise RuntimeError('the author forgot something')\n")
    yield folder
    for name in ("dip", "broken"):
        sys.modules.pop(name, None)
    if str(folder.resolve()) in sys.path:
        sys.path.remove(str(folder.resolve()))


async def test_custom_strategy_by_import_path_trades_on_the_simulator(tmp_path: Path, strategy_folder: Path) -> None:
    base = settings(tmp_path / "data")
    strategy = base.engine.strategy.model_copy(update={
        "kind": "dip:DipBuyer", "id": "dip", "path": strategy_folder,
        "params": {"size": "0.001", "below_bps": "0.5", "max_position": "0.01"},
    })
    engine = Engine(base.model_copy(update={"engine": base.engine.model_copy(update={"strategy": strategy})}))
    task = asyncio.create_task(engine.run(duration=40))
    try:
        await eventually(lambda: bool(engine.state and engine.state.fills) or task.done(), 60, "a fill")
        if task.done():
            task.result()
        assert type(engine.trading.strategy).__name__ == "DipBuyer"  # type: ignore[union-attr]
        assert all(o.client_order_id.strategy == "dip" for o in engine.state.orders.values())  # type: ignore[union-attr]
    finally:
        task.cancel()
        await asyncio.wait([task])


IID = InstrumentId("binance-a", "BTC/USDT")


def test_custom_strategy_with_invalid_params_is_refused_naming_the_key(strategy_folder: Path) -> None:
    with pytest.raises(ConfigError, match=r"invalid parameters: engine\.strategy\.params\.size: Field required"):
        load_strategy("dip:DipBuyer", {"max_position": "1"}, strategy_id="dip", instrument_id=IID,
                      folder=strategy_folder)
    with pytest.raises(ConfigError, match=r"params\.below_bps: Input should be less than or equal to 1000"):
        load_strategy("dip:DipBuyer", {"size": "1", "max_position": "1", "below_bps": "5000"}, strategy_id="dip",
                      instrument_id=IID, folder=strategy_folder)


def test_custom_strategy_that_fails_to_import_is_refused_with_the_cause(strategy_folder: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot import 'nowhere'"):
        load_strategy("nowhere:X", {}, strategy_id="x", instrument_id=IID, folder=strategy_folder)
    with pytest.raises(ConfigError, match=r"importing 'broken' failed: RuntimeError: the author forgot something"):
        load_strategy("broken:X", {}, strategy_id="x", instrument_id=IID, folder=strategy_folder)
    with pytest.raises(ConfigError, match=r"module 'dip' has no class 'Nope'"):
        load_strategy("dip:Nope", {}, strategy_id="x", instrument_id=IID, folder=strategy_folder)
