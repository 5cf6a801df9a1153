"""The safety rules enforced when the config is loaded, each with its refusal message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nonstop.config import load_settings, parse_settings, require_credentials
from nonstop.engine import Engine
from nonstop.errors import ConfigError

LIVE = {"name": "binance-live", "network": "live", "credentials_env": "BINANCE_LIVE"}


def _engine(**engine: object) -> dict:
    return {"engine": {"strategy": {"venue": "binance-live"}, **engine}}


def test_config_sim_and_real_data_venues_never_mix() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(_engine(venues=[LIVE], data_venues=[{"name": "binance-b"}]))
    assert "simulated and real venues never mix" in str(err.value)
    assert "data_venues.binance-b (network = 'sim')" in str(err.value)
    assert "venues.binance-live (network = 'live')" in str(err.value)


def test_config_sim_and_real_trading_venues_never_mix() -> None:
    with pytest.raises(ConfigError, match=r"venues\.binance-a \(network = 'sim'\) against venues\.binance-live"):
        parse_settings(_engine(venues=[LIVE, {"name": "binance-a"}]))


def test_config_embedded_sim_with_a_real_venue_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"embedded_sim = true with real venues \(venues\.binance-live"):
        parse_settings(_engine(venues=[LIVE], embedded_sim=True))


def test_config_demo_key_pair_never_goes_to_a_live_venue() -> None:
    venue = {"name": "binance-live", "network": "live"}  # credentials_env left at NONSTOP_SIM
    with pytest.raises(ConfigError, match=r"credentials_env = 'NONSTOP_SIM' is the simulator's demo key pair"):
        parse_settings(_engine(venues=[venue]))


def test_config_demo_key_pair_never_goes_to_a_non_loopback_simulator() -> None:
    venue = {"name": "binance-live", "urls": ["http://10.1.2.3:8901"]}
    with pytest.raises(ConfigError, match=r"may only be sent to loopback hosts, but urls = \['http://10.1.2.3:8901'\]"):
        parse_settings(_engine(venues=[venue]))


def test_config_live_venue_needs_https() -> None:
    venue = {**LIVE, "urls": ["http://127.0.0.1:8901"]}
    with pytest.raises(ConfigError, match="network = 'live' needs https urls"):
        parse_settings(_engine(venues=[venue]))


LIVE_TOML = (
    '[engine]\n[engine.strategy]\nvenue = "binance-live"\n'
    '[[engine.venues]]\nname = "binance-live"\nnetwork = "live"\ncredentials_env = "BINANCE_LIVE"\n'
)


def test_config_live_key_env_vars_must_be_set_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BINANCE_LIVE_API_KEY", raising=False)
    monkeypatch.setenv("BINANCE_LIVE_API_SECRET", "s")
    path = tmp_path / "live.toml"
    path.write_text(LIVE_TOML)
    settings = load_settings(path)
    with pytest.raises(ConfigError) as err:
        require_credentials(settings, source=str(path))
    assert "environment variables not set: BINANCE_LIVE_API_KEY (engine venue 'binance-live', network live)" in str(
        err.value)
    assert "BINANCE_LIVE_API_SECRET" not in str(err.value)  # that one is set
    monkeypatch.setenv("BINANCE_LIVE_API_KEY", "k")
    require_credentials(settings, source=str(path))


def test_run_command_refuses_a_live_config_without_keys_before_any_journal(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n' + LIVE_TOML)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_LIVE_")}
    result = subprocess.run([sys.executable, "-m", "nonstop.cli", "run", "--config", str(path)], capture_output=True,
                            text=True, timeout=60, check=False, env=env)
    assert result.returncode == 2
    assert "environment variables not set: BINANCE_LIVE_API_KEY" in result.stderr
    assert "BINANCE_LIVE_API_SECRET (engine venue 'binance-live', network live)" in result.stderr
    assert not (tmp_path / "journal.sqlite").exists()


async def test_engine_refuses_to_open_the_journal_without_live_keys(tmp_path: Path) -> None:
    settings = parse_settings({**_engine(venues=[LIVE]), "data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="BINANCE_LIVE_API_KEY"):
        require_credentials(settings, {})
    with pytest.raises(ConfigError, match="BINANCE_LIVE_API_KEY"):
        await Engine(settings).run(duration=1)
    assert not (tmp_path / "journal.sqlite").exists()


def test_config_real_venue_config_has_no_hidden_data_venues_and_no_embedded_sim() -> None:
    settings = parse_settings(_engine(venues=[LIVE]))
    assert settings.engine.runs_embedded_sim is False
    assert settings.data_venues_in_use() == []


def test_config_sim_only_config_keeps_the_convenience_defaults() -> None:
    settings = parse_settings({})
    assert settings.engine.runs_embedded_sim is True
    assert [v.name for v in settings.data_venues_in_use()] == ["binance-b"]


def test_config_sim_venue_at_an_external_simulator_does_not_start_one() -> None:
    settings = parse_settings(_engine(venues=[{"name": "binance-live", "urls": ["http://127.0.0.1:8901"]}]))
    assert settings.engine.runs_embedded_sim is False


PAPER = {"name": "paper-a", "network": "paper"}


def test_config_paper_trades_on_the_embedded_simulator_only() -> None:
    settings = parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [PAPER]}})
    assert settings.engine.runs_embedded_sim and settings.engine.runs_paper
    assert settings.engine.venues[0].paper_settings.source == "live"
    with pytest.raises(ConfigError, match=r"\"paper\" trades on the engine's embedded simulator; remove urls"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"},
                                   "venues": [{**PAPER, "urls": ["https://api.binance.com"]}]}})
    with pytest.raises(ConfigError, match=r"remove embedded_sim = false"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [PAPER], "embedded_sim": False}})


def test_config_paper_never_takes_your_keys() -> None:
    venue = {**PAPER, "credentials_env": "BINANCE_LIVE"}
    with pytest.raises(ConfigError, match=r"never uses your keys \(nothing is sent to the real venue's private"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [venue]}})


def test_config_paper_never_mixes_with_simulated_or_real_venues() -> None:
    with pytest.raises(ConfigError, match=r"paper and real venues never mix in one engine: venues\.paper-a"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [PAPER, LIVE]}})
    with pytest.raises(ConfigError, match=r"simulated and paper venues never mix in one engine: data_venues\.binance"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [PAPER],
                                   "data_venues": [{"name": "binance-b"}]}})


def test_config_paper_source_rules() -> None:
    with pytest.raises(ConfigError, match=r"paper.source = \"sim\" needs source_url at a loopback host"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [
            {**PAPER, "paper": {"source": "sim", "source_url": "http://10.0.0.1:8901"}}]}})
    with pytest.raises(ConfigError, match=r"paper.source_url is for source = \"sim\" only"):
        parse_settings({"engine": {"strategy": {"venue": "paper-a"}, "venues": [
            {**PAPER, "paper": {"source_url": "https://127.0.0.1:8901"}}]}})
    with pytest.raises(ConfigError, match=r"a \[paper\] table belongs to network = \"paper\""):
        parse_settings(_engine(venues=[{**LIVE, "paper": {}}]))
