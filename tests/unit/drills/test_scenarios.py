"""Scenario selection and the drill's configs made from the user's."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.config import load_settings
from nonstop.drills import listing, select
from nonstop.drills.scenarios import CATALOGUE
from nonstop.drills.setup import DrillLayout, write_engine_config, write_sim_config
from nonstop.errors import ConfigError


def test_select_default_runs_every_built_scenario_and_skips_what_needs_a_branch() -> None:
    run, skipped = select([])
    assert {s.name for s in skipped} == {"leader_takeover", "venue_down_second_venue"}
    assert "self_test_foreign_trade" not in {s.name for s in run}
    assert {s.name for s in run} | {s.name for s in skipped} | {"self_test_foreign_trade"} == {
        s.name for s in CATALOGUE}


def test_select_unknown_name_raises_naming_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown scenario.*'nope'.*venue_down"):
        select(["venue_down", "nope"])


def test_listing_one_line_per_scenario_with_needs() -> None:
    lines = listing().splitlines()
    assert len(lines) == len(CATALOGUE)
    assert any(line.startswith("leader_takeover") and "PostgreSQL leader and standby" in line for line in lines)


def test_configs_map_every_venue_onto_the_simulator_and_keep_the_users_strategy(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[engine.strategy]\nsize = "0.002"\n[engine.degradation]\nrecover_after_s = 5.0\n'
                    '[[monitor.alerts.channels]]\nname = "ops"\nurl_env = "OPS_URL"\n'
                    '[engine.journal]\nbackend = "postgres"\n')
    layout = DrillLayout(tmp_path / "out")
    sim = write_sim_config(layout, user, seed=7)
    assert [v.name for v in sim.sim.venues] == ["binance-a", "binance-b"] and sim.sim.seed == 7
    assert all(v.ports == [0, 0, 0] for v in sim.sim.venues)
    urls = {"binance-a": ["http://127.0.0.1:1"], "binance-b": ["http://127.0.0.1:2"]}
    engine = write_engine_config(layout, user, urls)
    assert engine.engine.strategy.size == Decimal("0.002") != load_settings(None).engine.strategy.size
    assert engine.engine.degradation.recover_after_s == 5.0
    assert engine.engine.journal.backend == "sqlite"
    assert engine.engine.journal.path == layout.engine_dir / "journal.sqlite"
    assert [(v.name, str(v.network), v.urls) for v in engine.engine.venues] == [("binance-a", "sim", ["http://127.0.0.1:1"])]
    assert [v.name for v in engine.engine.data_venues or []] == ["binance-b"]
    assert engine.monitor.alerts.channels == [] and engine.monitor.api.port == 0
    assert tomllib.loads(layout.engine_config.read_text())["engine"]["embedded_sim"] is False


def test_sim_config_without_the_strategys_symbol_is_refused(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[engine.strategy]\nsymbol = "SOL/USDT"\n')
    with pytest.raises(ConfigError, match="does not list SOL/USDT"):
        write_sim_config(DrillLayout(tmp_path / "out"), user, seed=1)
