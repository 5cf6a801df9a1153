"""The kill switch: the daily loss limit halts, the halt survives a restart, `nonstop resume` (over the
engine's API) resumes; `nonstop halt --flatten` leaves nothing open and no position; `nonstop halt`
with the engine down writes the journal and the engine starts halted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.engine import Engine
from nonstop.killswitch import commands
from nonstop.model import AlertRecorded, OrderIntent, TradingHalted, TradingResumed
from tests.integration.engine.kit import TRADING, eventually, journal_events
from tests.integration.risk.killkit import (
    BTC,
    TOKEN,
    TOKEN_ENV,
    buy_position,
    engine_running,
    engine_settings,
    free_port,
    venue_sim,
)
from tests.simkit import control, set_fault

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def _level(engine: Engine) -> str:
    return engine.degradation.level if engine.degradation is not None else "?"


def _mm_intents_after(events, ts) -> list[OrderIntent]:
    return [e for e in events if isinstance(e, OrderIntent) and e.ts > ts and e.client_order_id.strategy == "mm"]


async def test_daily_loss_halts_survives_a_restart_and_resume_resumes(tmp_path: Path) -> None:
    async with venue_sim() as sim:
        cfg = engine_settings(tmp_path, sim, daily_loss_limit=Decimal("25"))  # the sim's noise stays well below
        # quotes 50 bps away: the maker realizes nothing in the crash (its bids are refused once past the
        # limit), so the day's loss is the position's, unrealized, and comes back with the price
        strategy = cfg.engine.strategy.model_copy(update={"half_spread_bps": Decimal(50), "requote_bps": Decimal(20)})
        cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update={"strategy": strategy})})
        async with engine_running(cfg) as engine:
            await buy_position(engine, "0.01")  # ~600 USDT long
            assert engine.halted is None
            await set_fault(sim, "price_spike", venue=TRADING, params={"pct": -10})  # -10 %: ~ -60 USDT
            await eventually(lambda: engine.halted is not None, 15, "the daily loss limit halts")
            assert "daily loss limit" in (engine.halted or "")
            state = engine.state
            assert state is not None
            await eventually(lambda: state.halt is not None, 15, "the halt journaled")
            assert state.halt is not None and state.halt.source == "risk"
            await eventually(lambda: _level(engine) == "halted", 15, "the ladder at HALTED")
            await eventually(lambda: not state.open_orders(), 10, "every order canceled")
            events = await journal_events(engine)
            assert any(isinstance(e, TradingHalted) and e.source == "risk" for e in events)
            assert any(isinstance(e, AlertRecorded) and e.key == "risk_halt" and e.level == "critical"
                       for e in events)
        await control(sim, "DELETE", "/control/faults")  # the market comes back

        async with engine_running(cfg, open_orders=False) as engine:
            started = engine.clock.now()
            assert engine.halted is not None and "daily loss limit" in engine.halted
            await eventually(lambda: _level(engine) == "halted", 15, "the restarted engine at HALTED")
            await asyncio.sleep(2.0)  # several strategy ticks: none may place an order
            assert _mm_intents_after(await journal_events(engine), started) == []
            assert await engine.venues[TRADING].open_orders(BTC) == []

            outcome = await commands.resume(cfg, "loss reviewed")  # what `nonstop resume` does
            assert outcome.via == "api" and outcome.data["resumed"] is True
            assert engine.halted is None and engine.state is not None and engine.state.halt is None
            resumed = engine.clock.now()
            state = engine.state
            await eventually(lambda: any(o.client_order_id.strategy == "mm" for o in state.open_orders())
                             or engine.halted is not None, 20, "the strategy quoting again")
            assert engine.halted is None, engine.halted
            events = await journal_events(engine)
            assert any(isinstance(e, TradingResumed) and e.reason == "loss reviewed" for e in events)
            assert _mm_intents_after(events, resumed)


async def test_halt_flatten_leaves_nothing_open_and_no_position_and_stays_halted(tmp_path: Path) -> None:
    async with venue_sim() as sim:
        cfg = engine_settings(tmp_path, sim)
        async with engine_running(cfg) as engine:
            await buy_position(engine, "0.005")
            state = engine.state
            assert state is not None and state.positions[str(BTC)] != 0
            outcome = await commands.halt(cfg, "flatten drill", flatten=True)  # what `nonstop halt --flatten` does
            assert outcome.via == "api" and outcome.ok, outcome.data
            assert outcome.data["flattened"] is True and outcome.data["left"] == {}
            step = engine.venues[TRADING].instruments()[BTC].step_size
            assert abs(state.positions[str(BTC)]) < step
            await eventually(lambda: not state.open_orders(), 10, "nothing open in the journal")
            assert await engine.venues[TRADING].open_orders(BTC) == []
            flat = [o for o in state.orders.values() if o.client_order_id.strategy == "flat"]
            assert flat and all(o.reduce_only for o in flat)
        async with engine_running(cfg, open_orders=False) as engine:
            started = engine.clock.now()
            assert engine.halted == "flatten drill"
            await asyncio.sleep(2.0)
            assert _mm_intents_after(await journal_events(engine), started) == []
            assert await engine.venues[TRADING].open_orders(BTC) == []


async def test_cli_halt_with_the_engine_down_writes_the_journal_and_the_engine_starts_halted(tmp_path: Path) -> None:
    async with venue_sim() as sim:
        cfg = engine_settings(tmp_path, sim)
        config = tmp_path / "nonstop.toml"
        config.write_text(
            f'data_dir = "{tmp_path}"\n[monitor.api]\nport = {cfg.monitor.api.port}\ntoken_env = "{TOKEN_ENV}"\n'
            f'[[engine.venues]]\nname = "{TRADING}"\nurls = {list(sim.venues[TRADING].urls)!r}\n'.replace("'", '"')
            + f'[engine.strategy]\nvenue = "{TRADING}"\n', encoding="utf-8")
        # no token: a stopped engine's journal needs none (the command once refused before trying the API)
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        argv = [sys.executable, "-m", "nonstop.cli", "halt", "-c", str(config), "--reason", "offline drill"]
        done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert '"via": "journal"' in done.stdout
        argv = [sys.executable, "-m", "nonstop.cli", "status", "-c", str(config)]
        shown = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, env=env, timeout=60)
        assert "HALTED" in shown.stdout and "offline drill" in shown.stdout, shown.stdout + shown.stderr
        async with engine_running(cfg, open_orders=False) as engine:
            assert engine.halted == "offline drill"
            await eventually(lambda: _level(engine) == "halted", 15, "HALTED from the start")
            await asyncio.sleep(1.5)
            assert engine.state is not None and not engine.state.orders


async def test_offline_halt_refuses_while_a_live_engine_holds_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with venue_sim() as sim:
        cfg = engine_settings(tmp_path, sim)
        async with engine_running(cfg) as engine:
            monkeypatch.delenv(TOKEN_ENV)
            with pytest.raises(commands.KillSwitchError, match=f"runs and needs its API token: .*{TOKEN_ENV}"):
                await commands.halt(cfg, "without the token", flatten=False)  # answered 401: running, not offline
            monkeypatch.setenv(TOKEN_ENV, TOKEN)
            elsewhere = cfg.model_copy(update={"monitor": cfg.monitor.model_copy(update={
                "api": cfg.monitor.api.model_copy(update={"port": free_port()})})})  # its API unreachable
            with pytest.raises(commands.KillSwitchError, match="live engine holds the journal"):
                await commands.halt(elsewhere, "behind its back", flatten=False)
            assert engine.halted is None and engine.state is not None and engine.state.halt is None
