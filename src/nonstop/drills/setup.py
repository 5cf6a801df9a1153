"""The drill's two config files, made from the user's: a simulator with one venue per venue the
engine uses, and the user's engine config pointed at it.

The user's config is read as raw TOML and only what must change is changed, so the engine runs
with the user's strategy, limits, connectivity, ladder and alert rules. Changed, always:
every venue becomes a `sim` venue at the drill's simulator (`urls`, the simulator's account
`NONSTOP_SIM`), the journal is a fresh SQLite file in the drill's folder (a drill never touches
the user's journal, nor trades on the user's exchange account) — or, when the user's config runs a
PostgreSQL leader with standbys (`engine.ha.role = "auto"`, the DSN in the environment), a fresh
schema (`drill_<time>`) on that server, so the drill can run a leader and a standby — the API listens on a free
loopback port, logs are JSON, and alert channels are dropped unless `keep_alert_channels` (the
alerts still happen and are journaled; they just do not page anybody). A config with no data
venue gets one (`binance-b`, as the embedded default has), so "one source" faults have a source
to corrupt.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from nonstop.config import Settings, load_settings, parse_settings
from nonstop.errors import ConfigError

ENDPOINTS_PER_VENUE = 3
DEFAULT_DATA_VENUE = "binance-b"


@dataclass(frozen=True)
class DrillLayout:
    """Where a drill's files go (all under `out`)."""

    out: Path

    @property
    def sim_config(self) -> Path:
        return self.out / "sim.toml"

    @property
    def engine_config(self) -> Path:
        return self.out / "engine.toml"

    @property
    def engine_dir(self) -> Path:
        return self.out / "engine"


def read_raw(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    try:
        return tomllib.loads(config.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read config file {config}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {config} is not valid TOML: {err}") from None


def venue_names(settings: Settings) -> tuple[list[str], list[str]]:
    """(trading venues, data venues) the drill maps onto its simulator."""
    trading = [v.name for v in settings.engine.venues]
    data = [v.name for v in settings.engine.data_venues or []]
    if not data and DEFAULT_DATA_VENUE not in trading:
        data = [DEFAULT_DATA_VENUE]
    return trading, data


def write_sim_config(layout: DrillLayout, config: Path | None, *, seed: int) -> Settings:
    """The simulator's config: the user's [sim] market settings, one venue per venue of the engine."""
    settings = load_settings(config)
    raw = read_raw(config)
    trading, data = venue_names(settings)
    symbol = settings.engine.strategy.symbol
    base, quote = symbol.split("/")
    sim = copy.deepcopy(raw.get("sim", {}))
    user_venues = {v.get("name"): v for v in sim.get("venues", [])}
    venues = []
    for name in trading + data:
        venue = {k: v for k, v in user_venues.get(name, {}).items() if k != "ports"}
        venue.update(name=name, ports=[0] * ENDPOINTS_PER_VENUE)
        venues.append(venue)
    sim.update(host="127.0.0.1", control_port=0, seed=seed, venues=venues)
    doc = {"log": {"level": "warning", "format": "json"}, "sim": sim}
    parsed = parse_settings(doc, "the drill's simulator config")
    for v in parsed.sim.venues:
        if not any(s.base == base and s.quote == quote for s in v.symbols):
            raise ConfigError(
                f"the drill's simulator venue {v.name} does not list {symbol} (the strategy's symbol); "
                f"add it to [[sim.venues]] symbols in your config"
            )
    layout.out.mkdir(parents=True, exist_ok=True)
    layout.sim_config.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return parsed


def write_engine_config(
    layout: DrillLayout, config: Path | None, urls: dict[str, list[str]], *, keep_alert_channels: bool = False,
    schema: str | None = None,
) -> Settings:
    """The user's engine config pointed at the drill's simulator (`urls`: venue -> endpoint URLs);
    `schema`: the PostgreSQL schema of the drill's journal when the config runs HA (`uses_ha`)."""
    from nonstop.drills.scenarios import uses_ha

    settings = load_settings(config)
    raw = copy.deepcopy(read_raw(config))
    raw.pop("sim", None)
    trading, data = venue_names(settings)
    engine = raw.setdefault("engine", {})
    user_trading = {v.get("name"): v for v in engine.get("venues", [])}
    user_data = {v.get("name"): v for v in engine.get("data_venues", []) or []}

    def mapped(name: str, user: dict[str, Any]) -> dict[str, Any]:
        venue = {k: v for k, v in user.items() if k not in ("endpoints", "ca_file", "urls", "network")}
        venue.update(name=name, exchange="binance", network="sim", urls=urls[name], credentials_env="NONSTOP_SIM")
        return venue

    engine["venues"] = [mapped(n, user_trading.get(n, {})) for n in trading]
    engine["data_venues"] = [mapped(n, user_data.get(n, {})) for n in data]
    engine["embedded_sim"] = False
    journal = {k: v for k, v in engine.get("journal", {}).items() if k in ("durability", "snapshot_every")}
    if uses_ha(settings):  # a leader and a standby share the journal and the lease: a fresh schema
        journal.update(backend="postgres", dsn_env=settings.engine.journal.dsn_env,
                       schema_name=schema or "drill")
        engine["ha"] = {k: v for k, v in engine.get("ha", {}).items() if k != "holder"}  # each node its own
    else:
        journal.update(backend="sqlite", path=str(layout.engine_dir / "journal.sqlite"))
        engine.pop("ha", None)
    engine["journal"] = journal
    raw["data_dir"] = str(layout.engine_dir)
    raw["log"] = {"level": raw.get("log", {}).get("level", "info"), "format": "json"}
    monitor = raw.setdefault("monitor", {})
    api = monitor.setdefault("api", {})
    api.update(enabled=True, host="127.0.0.1", port=0)
    if not keep_alert_channels:
        alerts = monitor.setdefault("alerts", {})
        alerts.pop("channels", None)
        alerts.pop("routes", None)
    parsed = parse_settings(raw, "the drill's engine config")
    layout.engine_dir.mkdir(parents=True, exist_ok=True)
    layout.engine_config.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return parsed
