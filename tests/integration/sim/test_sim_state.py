"""The simulator remembers: orders (open ones back in the book), trades and their ids, balances and
the market's position survive a restart when it is given a state folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nonstop.errors import SimulatorError
from nonstop.sim.server import SimServer
from tests.simkit import rest_client, sim_settings

pytestmark = pytest.mark.timeout(60)


async def test_sim_state_survives_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "sim"
    async with SimServer(sim_settings(venues=1, endpoints=1), state_dir=folder) as sim:
        async with rest_client(sim) as ex:
            book = await ex.fetch_order_book("BTC/USDT", 5)
            resting = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(book["bids"][0][0] * 0.9, 2),
                                            {"clientOrderId": "keep-me"})
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "taker-1"})
            trades_before = await ex.fetch_my_trades("BTC/USDT")
            balance_before = (await ex.fetch_balance())["info"]["balances"]
        fair_before = sim.venues["alpha"].flow.fair("BTCUSDT")
        tick_before = sim.venues["alpha"].flow.paths["BTCUSDT"].tick
    assert (folder / "alpha.json").exists()
    async with SimServer(sim_settings(venues=1, endpoints=1), state_dir=folder) as sim:
        rt = sim.venues["alpha"]
        assert rt.flow.paths["BTCUSDT"].tick >= tick_before  # the walk goes on from where it was
        assert abs(rt.flow.fair("BTCUSDT") - fair_before) / fair_before < 0.01
        async with rest_client(sim) as ex:
            assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")] == [resting["id"]]
            assert await ex.fetch_my_trades("BTC/USDT") == trades_before
            assert (await ex.fetch_balance())["info"]["balances"] == balance_before
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "taker-2"})
            trades_after = await ex.fetch_my_trades("BTC/USDT")
            await ex.cancel_order(resting["id"], "BTC/USDT")  # the restored order is in the book
    new_ids = {int(t["id"]) for t in trades_after} - {int(t["id"]) for t in trades_before}
    assert new_ids and min(new_ids) > max(int(t["id"]) for t in trades_before)  # ids never restart


async def test_sim_state_that_cannot_be_read_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "sim"
    folder.mkdir()
    (folder / "alpha.json").write_text("{not json")
    with pytest.raises(SimulatorError, match=r"cannot restore the simulator's state from .*alpha\.json"):
        async with SimServer(sim_settings(venues=1, endpoints=1), state_dir=folder):
            pass


def test_sim_command_state_option_keeps_the_state_in_the_folder(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text('[sim]\ncontrol_port = 0\n[[sim.venues]]\nname = "binance-a"\nports = [0]\n')
    result = subprocess.run([sys.executable, "-m", "nonstop.cli", "sim", "--config", str(config), "--duration", "1",
                             "--state", str(tmp_path / "state")], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "state" / "binance-a.json").exists()


async def test_sim_state_a_cancelled_save_never_races_the_next_one(tmp_path: Path) -> None:
    # found by running ./run.sh: the stop's save and a periodic save cancelled mid-write shared a
    # temp file, and the stop ended in FileNotFoundError
    import asyncio
    import json

    folder = tmp_path / "sim"
    async with SimServer(sim_settings(venues=2, endpoints=1), state_dir=folder) as sim:
        assert sim.keeper is not None
        for _ in range(20):
            periodic = asyncio.create_task(sim.keeper.save())
            await asyncio.sleep(0)  # its thread is writing
            periodic.cancel()
            await sim.keeper.save()
            await asyncio.gather(periodic, return_exceptions=True)
    for name in ("alpha", "beta"):
        assert json.loads((folder / f"{name}.json").read_text())
