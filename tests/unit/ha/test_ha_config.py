"""`[engine.ha]`: validated config, the deploy example, the role metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from nonstop.config import load_settings, parse_settings
from nonstop.errors import ConfigError
from nonstop.monitor.errors import UnsafeLabel
from nonstop.monitor.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "ha"


def test_ha_auto_on_sqlite_is_refused_naming_the_keys() -> None:
    with pytest.raises(ConfigError, match=r"ha.role = 'auto' needs journal.backend = 'postgres'"):
        parse_settings({"engine": {"ha": {"role": "auto"}}})


def test_ha_defaults_single_role_and_a_two_second_ttl() -> None:
    ha = parse_settings({}).engine.ha
    assert (ha.role, ha.lease_ttl_s) == ("single", 2.0)
    with pytest.raises(ConfigError, match="lease_ttl_s"):
        parse_settings({"engine": {"ha": {"lease_ttl_s": 0.1}}})


def test_ha_deploy_example_is_a_valid_auto_config() -> None:
    settings = load_settings(DEPLOY / "a1.toml")
    assert settings.engine.ha.role == "auto" and settings.engine.journal.backend == "postgres"
    unit = (DEPLOY / "nonstop@.service").read_text()
    assert "--role auto" in unit and "Restart=always" in unit and "/etc/nonstop/%i.toml" in unit
    assert "target_session_attrs=read-write" in (DEPLOY / "a1.env.example").read_text()


def test_ha_role_metric_is_one_hot() -> None:
    m = Metrics()
    m.ha_role("standby", 0, 0.0)
    m.ha_role("leader", 4, 1.9)
    text = m.render().decode()
    assert 'nonstop_ha_role{role="leader"} 1.0' in text and 'nonstop_ha_role{role="standby"} 0.0' in text
    assert "nonstop_ha_epoch 4.0" in text and "nonstop_ha_lease_remaining_seconds 1.9" in text
    with pytest.raises(UnsafeLabel):
        m.ha_role("boss", 1, 0.0)


def test_status_render_shows_role_holder_epoch_and_expiry() -> None:
    from nonstop.status import render

    data = {
        "ha": {"role": "auto", "lease_ttl_s": 2.0, "leader": "host-2:4711:9f3c",
               "lease": {"instance": "a1", "holder": "host-2:4711:9f3c", "epoch": 4, "live": True,
                         "expires_at": "2026-11-29T16:00:02+00:00", "acquired_at": "2026-11-29T15:00:00+00:00",
                         "remaining_s": 1.6}},
        "journal": {"backend": "postgres", "last_seq": 9, "epoch": 4, "snapshot_seq": None, "state_hash": "ab" * 16,
                    "holder": None},
        "orders": {"by_state": {}, "open": []}, "fills": 0, "positions": {}, "balances": {},
        "reconcile_differences": {}, "degradation": {"level": "normal", "reason": "x", "since": None},
    }
    first = render(data).splitlines()[0]
    assert "role auto" in first and "epoch 4" in first and "leader host-2:4711:9f3c" in first and "in 1.6 s" in first
    data["ha"]["lease"]["live"] = False
    assert "no leader: the lease of host-2:4711:9f3c expired" in render(data).splitlines()[0]
