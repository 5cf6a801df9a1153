"""Alert configuration: routes must name channels, URLs come from the environment only."""

from __future__ import annotations

import pytest

from nonstop.config import Settings, parse_settings
from nonstop.errors import ConfigError


def test_default_settings_have_no_channels_and_sane_windows() -> None:
    alerts = Settings().monitor.alerts
    assert alerts.channels == [] and alerts.routes == {}
    assert alerts.resolve_hold_s > 0 and alerts.flap_window_s >= alerts.resolve_hold_s


def test_routes_and_channels_parse_from_toml_shape() -> None:
    data = {
        "monitor": {
            "alerts": {
                "channels": [
                    {"name": "ops-mail", "url_env": "NONSTOP_ALERT_MAIL_URL"},
                    {"name": "chat", "url_env": "NONSTOP_ALERT_CHAT_URL", "per_minute": 12, "burst": 3},
                ],
                "routes": {"warning": ["chat"], "info": []},
            }
        }
    }
    alerts = parse_settings(data).monitor.alerts
    assert [c.name for c in alerts.channels] == ["ops-mail", "chat"] and alerts.channels[1].burst == 3
    assert alerts.routes == {"warning": ["chat"], "info": []}


def test_route_to_unknown_channel_is_refused_with_names() -> None:
    data = {"monitor": {"alerts": {"channels": [{"name": "chat", "url_env": "A"}], "routes": {"warning": ["mail"]}}}}
    with pytest.raises(ConfigError, match=r"routes.warning names unknown channels \['mail'\]"):
        parse_settings(data)


def test_critical_route_and_inline_url_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"monitor.alerts.routes.critical"):
        parse_settings({"monitor": {"alerts": {"routes": {"critical": []}}}})
    with pytest.raises(ConfigError, match=r"monitor.alerts.channels.0.url"):
        parse_settings({"monitor": {"alerts": {"channels": [{"name": "c", "url_env": "A", "url": "json://h"}]}}})
    with pytest.raises(ConfigError, match="secrets are not allowed"):
        parse_settings({"monitor": {"alerts": {"channels": [{"name": "c", "url_env": "A", "password": "x"}]}}})
