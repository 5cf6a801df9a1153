"""Config: defaults for everything, and errors that name the key, the value and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from nonstop.config import Credentials, Settings, load_settings, parse_settings
from nonstop.errors import ConfigError


def test_defaults_describe_two_venues_of_three_endpoints() -> None:
    settings = load_settings(None)
    assert [v.name for v in settings.sim.venues] == ["binance-a", "binance-b"]
    assert all(len(v.ports) == 3 for v in settings.sim.venues)
    assert settings == Settings()


def test_invalid_value_names_key_value_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[sim]\ntick_ms = 1\n[[sim.venues]]\nname = "A"\nports = ["x"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert str(path) in text
    assert "sim.tick_ms = 1" in text and "greater than or equal to 5" in text
    assert "sim.venues.0.name = 'A'" in text
    assert "sim.venues.0.ports.0 = 'x'" in text


def test_a_rule_across_a_section_names_the_section_and_the_rule_only() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"engine": {"venues": [{"name": "binance", "network": "live"}]}})
    text = str(caught.value)
    assert "  [engine]: strategy.venue 'binance-a' is not one of engine.venues ['binance']" in text
    assert "= dict" not in text and "Value error" not in text  # pydantic's wording of the section is noise


def test_unknown_key_and_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sim.tickms"):
        parse_settings({"sim": {"tickms": 5}})
    bad = tmp_path / "broken.toml"
    bad.write_text("[sim\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml")


def test_secrets_in_the_file_are_refused() -> None:
    with pytest.raises(ConfigError, match="sim.api_secret: secrets are not allowed"):
        parse_settings({"sim": {"api_secret": "abc"}})
    with pytest.raises(ConfigError, match="monitor.api.token: secrets are not allowed"):
        parse_settings({"monitor": {"api": {"token": "abcdefabcdefabcdef"}}})
    # naming the environment variable that holds a secret is how secrets are configured
    assert parse_settings({"monitor": {"api": {"token_env": "MY_TOKEN"}}}).monitor.api.token_env == "MY_TOKEN"


def test_every_toml_example_in_the_readme_is_a_valid_config() -> None:
    import re
    import tomllib

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert len(blocks) >= 3
    for n, block in enumerate(blocks):
        parse_settings(tomllib.loads(block), f"README toml block {n}")


def test_duplicate_ports_and_non_loopback_hosts_are_refused() -> None:
    with pytest.raises(ConfigError, match="ports must be unique"):
        parse_settings({"sim": {"venues": [{"name": "a", "ports": [9000]}, {"name": "b", "ports": [9000]}]}})
    with pytest.raises(ConfigError, match="sim.host = '10.0.0.1'"):
        parse_settings({"sim": {"host": "10.0.0.1"}})


def test_credentials_come_from_the_environment_and_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NONSTOP_X_API_KEY", "key1")
    monkeypatch.setenv("NONSTOP_X_API_SECRET", "topsecret")
    creds = Credentials.from_env("NONSTOP_X")
    assert creds.secret == "topsecret" and "topsecret" not in repr(creds)
    with pytest.raises(ConfigError, match="NONSTOP_Y_API_KEY"):
        Credentials.from_env("NONSTOP_Y")
