"""Scenario selection and the drill's configs made from the user's."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.config import load_settings
from nonstop.drills import listing, select
from nonstop.drills.scenarios import CATALOGUE, REQUIREMENTS
from nonstop.drills.setup import DrillLayout, write_engine_config, write_sim_config
from nonstop.errors import ConfigError


def test_select_default_config_skips_takeover_and_second_venue_saying_why() -> None:
    run, skipped = select([], load_settings(None))
    assert {s.name: why for s, why in skipped} == {"leader_takeover": REQUIREMENTS["ha"],
                                                    "venue_down_second_venue": REQUIREMENTS["two_venues"]}
    assert "self_test_foreign_trade" not in {s.name for s in run}
    assert {s.name for s in run} | {s.name for s, _ in skipped} | {"self_test_foreign_trade"} == {
        s.name for s in CATALOGUE}


def test_select_runs_takeover_with_postgres_ha_and_second_venue_with_routing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "ha.toml"
    config.write_text('[engine.journal]\nbackend = "postgres"\ndsn_env = "DRILL_TEST_DSN"\n'
                      '[engine.ha]\nrole = "auto"\n[engine.strategy]\nvenue = "auto"\n'
                      '[[engine.venues]]\nname = "binance-a"\n[[engine.venues]]\nname = "binance-c"\n')
    names = ["leader_takeover", "venue_down_second_venue"]
    run, skipped = select(names, load_settings(config))
    assert [s.name for s in run] == ["venue_down_second_venue"]
    assert [s.name for s, _ in skipped] == ["leader_takeover"] and "DSN" in skipped[0][1]  # none in the environment
    monkeypatch.setenv("DRILL_TEST_DSN", "postgresql://127.0.0.1:1/x")
    run, skipped = select(names, load_settings(config))
    assert [s.name for s in run] == names and skipped == []
    urls = {v: [f"http://127.0.0.1:{i + 1}"] for i, v in enumerate(["binance-a", "binance-c", "binance-b"])}
    engine = write_engine_config(DrillLayout(tmp_path / "out"), config, urls, schema="drill_1")
    assert engine.engine.journal.backend == "postgres" and engine.engine.journal.schema_name == "drill_1"
    assert engine.engine.ha.role == "auto" and engine.engine.ha.holder is None


def test_select_unknown_name_raises_naming_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown scenario.*'nope'.*venue_down"):
        select(["venue_down", "nope"], load_settings(None))


def test_listing_one_line_per_scenario_with_what_it_needs() -> None:
    lines = listing().splitlines()
    assert len(lines) == len(CATALOGUE)
    assert any(line.startswith("leader_takeover") and "runs when the config has" in line
               and 'engine.ha.role = "auto"' in line for line in lines)
    with_defaults = listing(load_settings(None)).splitlines()
    assert any(line.startswith("venue_down_second_venue") and "skipped with this config" in line
               for line in with_defaults)


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
