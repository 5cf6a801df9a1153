"""Configuration: one TOML file validated with pydantic; every setting has a default.

Secrets (API keys) never come from the file: they are read from environment variables
(see `Credentials`), and a key that looks like a secret in the file is refused.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from nonstop import config_check
from nonstop.config_section import Section
from nonstop.config_sim import SimMirror, SimRateLimits, SimSettings, SimSymbol, SimVenue
from nonstop.data.settings import DataSettings
from nonstop.errors import ConfigError
from nonstop.ha.settings import HaSettings
from nonstop.journal.settings import JournalSettings
from nonstop.logs import LogSettings
from nonstop.model.identifiers import ANY_VENUE
from nonstop.monitor.settings import AlertChannelSettings, AlertSettings, ApiSettings, MonitorSettings
from nonstop.risk.settings import RiskSettings
from nonstop.routing.settings import RoutingSettings
from nonstop.strategy.degradation import DegradationSettings
from nonstop.strategy.settings import QuoterSettings, StrategySettings
from nonstop.venues.settings import DEMO_CREDENTIALS, DEMO_ENV, DEMO_PASSPHRASE, EngineVenue
from nonstop.watchdog.settings import WatchdogSettings

# Each section's settings live with the package they configure (the package imports them from
# there, never from here: `nonstop.config` imports every section, so a section module reaching back
# into it is an import cycle); this module assembles the file and re-exports the sections.
__all__ = [
    "DEMO_CREDENTIALS",
    "DEMO_ENV",
    "DEMO_PASSPHRASE",
    "AlertChannelSettings",
    "AlertSettings",
    "ApiSettings",
    "Credentials",
    "DataSettings",
    "DegradationSettings",
    "EngineSettings",
    "EngineVenue",
    "HaSettings",
    "JournalSettings",
    "LogSettings",
    "MonitorSettings",
    "QuoterSettings",
    "RiskSettings",
    "RoutingSettings",
    "Settings",
    "SimMirror",
    "SimRateLimits",
    "SimSettings",
    "SimSymbol",
    "SimVenue",
    "StrategySettings",
    "WatchdogSettings",
    "load_settings",
    "parse_settings",
    "require_credentials",
]

STOP_WAIT_DEFAULT_S = 5.0  # a stop waits at most this long (or the request timeout) for answers in flight
_SECRET_WORDS = ("secret", "api_key", "apikey", "password", "token")


class EngineSettings(Section):
    instance: Annotated[str, Field(pattern=r"^[a-z0-9]{1,8}$")] = "a1"
    # start the simulator in-process and trade on it; unset: on when every venue is a `sim` venue
    # without urls, off otherwise (a real-venue config never starts it)
    embedded_sim: bool | None = None
    venues: Annotated[list[EngineVenue], Field(min_length=1)] = Field(
        default_factory=lambda: [EngineVenue(name="binance-a")]
    )
    # venues that only feed market data (consensus sources; no orders). None: with the embedded
    # simulator, its venues that are not trading venues (the sim-only convenience); otherwise none
    data_venues: list[EngineVenue] | None = None
    journal: JournalSettings = JournalSettings()
    strategy: StrategySettings = StrategySettings()
    routing: RoutingSettings = RoutingSettings()  # strategy.venue = "auto" (M12)
    degradation: DegradationSettings = DegradationSettings()
    reconcile_interval_s: Annotated[float, Field(ge=1, le=86_400)] = 30.0
    request_timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 5000
    # Binance's recvWindow for signed requests: a request older than this is refused by the venue,
    # so an order the venue has not seen after this long never will be (the in-doubt rule relies on it)
    recv_window_ms: Annotated[int, Field(ge=500, le=60_000)] = 5000
    # an order found unknown at the venue after its recvWindow is re-sent (same client id) only while
    # its intent is younger than this; older, it is closed locally as never sent (OrderNeverSent) and
    # the strategy decides afresh, so an old intent never goes out at today's prices (invariant 14)
    max_resend_age_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    cancel_on_stop: bool = True
    # a graceful stop first waits this long for the answers of the submits and cancels in flight
    # (what is still unanswered then is IN DOUBT, settled by the stop's final reconcile); unset:
    # min(request_timeout_ms, STOP_WAIT_DEFAULT_S); 0: no wait
    stop_wait_s: Annotated[float | None, Field(ge=0, le=120)] = None
    ha: HaSettings = HaSettings()

    @property
    def stop_wait_bound_s(self) -> float:
        """How long a graceful stop waits for the answers in flight (`stop_wait_s`, or its default)."""
        if self.stop_wait_s is not None:
            return self.stop_wait_s
        return min(self.request_timeout_ms / 1000, STOP_WAIT_DEFAULT_S)

    @model_validator(mode="after")
    def _strategy_venue_known(self) -> EngineSettings:
        names = [v.name for v in self.venues]
        if self.strategy.venue not in [*names, ANY_VENUE]:
            raise ValueError(f"strategy.venue {self.strategy.venue!r} is not one of engine.venues {names} "
                             f"(or {ANY_VENUE!r}: each order routed to the best venue)")
        if len(set(names)) != len(names):
            raise ValueError(f"engine venue names must be unique, got {names}")
        if ANY_VENUE in names:
            raise ValueError(f"{ANY_VENUE!r} is reserved (strategy.venue = {ANY_VENUE!r} routes each order); "
                             "name the venue otherwise")
        if self.ha.role == "auto" and self.journal.backend != "postgres":
            raise ValueError("ha.role = 'auto' needs journal.backend = 'postgres' (the lease lives there)")
        data = [v.name for v in self.data_venues or []]
        if len(set(data)) != len(data) or set(data) & set(names):
            raise ValueError(f"data_venues must be unique and not trading venues, got {data} (venues {names})")
        self._markets_never_mix()
        return self

    def _markets_never_mix(self) -> None:
        """Invariant 13: simulated, paper and real markets never meet in one engine, orders or data."""
        every = [("venues", v) for v in self.venues] + [("data_venues", v) for v in self.data_venues or []]
        kinds: dict[str, list[str]] = {}
        for key, v in every:
            kinds.setdefault(v.market, []).append(f"{key}.{v.name} (network = {v.network!r})")
        if len(kinds) > 1:
            order = [k for k in ("simulated", "paper", "real") if k in kinds]
            raise ValueError(f"{' and '.join(order)} venues never mix in one engine: "
                             + " against ".join(", ".join(kinds[k]) for k in order))
        real = kinds.get("real", [])
        if real and self.embedded_sim:
            raise ValueError(
                f"embedded_sim = true with real venues ({', '.join(real)}): the simulator never joins a real "
                "market; remove engine.embedded_sim"
            )
        if "paper" in kinds and self.embedded_sim is False:
            raise ValueError("network = \"paper\" trades on the embedded simulator; remove embedded_sim = false")
        for v in self.venues:
            if v.credentials_env == DEMO_ENV and not v.is_sim:
                raise ValueError(
                    f"venues.{v.name}: credentials_env = {DEMO_ENV!r} is the simulator's demo key pair and is "
                    f"never sent to a {v.network} venue; set credentials_env to your own key prefix"
                )

    @property
    def runs_paper(self) -> bool:
        """Paper trading: the embedded simulator mirrors real venues' public data (`network = "paper"`)."""
        return any(v.is_paper for v in self.venues)

    @property
    def runs_embedded_sim(self) -> bool:
        """Whether the engine starts the simulator in-process (only ever for sim-only configs)."""
        if self.embedded_sim is not None:
            return self.embedded_sim
        return all(v.is_sim and not v.urls for v in self.venues)

    def missing_credentials(self, environ: Mapping[str, str]) -> list[str]:
        """The key environment variables a live or testnet trading venue needs and does not have."""
        missing = []
        for v in self.venues:
            if v.is_sim:
                continue
            suffixes = ("_API_KEY", "_API_SECRET") + (("_API_PASSPHRASE",) if v.exchange == "okx" else ())
            for suffix in suffixes:
                if not environ.get(v.credentials_env + suffix):
                    missing.append(f"{v.credentials_env}{suffix} (engine venue {v.name!r}, network {v.network})")
        return missing


class Settings(Section):
    """The whole configuration file."""

    log: LogSettings = LogSettings()
    sim: SimSettings = SimSettings()
    engine: EngineSettings = EngineSettings()
    monitor: MonitorSettings = MonitorSettings()
    data: DataSettings = DataSettings()
    risk: RiskSettings = RiskSettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    data_dir: Path = Path("var")

    def data_venues_in_use(self) -> list[EngineVenue]:
        """The venues that only feed the consensus: `engine.data_venues` when listed, or, in a sim-only
        config without a list, the embedded simulator's other venues (never hidden ones in a real or
        paper config)."""
        eng = self.engine
        if eng.data_venues is not None:
            return list(eng.data_venues)
        if not eng.runs_embedded_sim or eng.runs_paper:
            return []
        trading = {v.name for v in eng.venues}
        return [EngineVenue(name=v.name, exchange=v.dialect) for v in self.sim.venues if v.name not in trading]

    @field_validator("data_dir")
    @classmethod
    def _not_empty(cls, v: Path) -> Path:
        if not str(v):
            raise ValueError("data_dir must not be empty")
        return v

    @model_validator(mode="after")
    def _sim_dialects_match(self) -> Settings:
        """A venue of the embedded simulator is traded with the adapter of the wire it speaks."""
        if not self.engine.runs_embedded_sim:
            return self
        dialects = {v.name: v.dialect for v in self.sim.venues}
        for key, venues in (("venues", self.engine.venues), ("data_venues", self.engine.data_venues or [])):
            for v in venues:
                if v.network == "sim" and not v.urls and v.name in dialects and dialects[v.name] != v.exchange:
                    raise ValueError(
                        f"engine.{key}.{v.name}: exchange = {v.exchange!r}, but the simulator's venue {v.name!r} "
                        f"speaks the {dialects[v.name]!r} dialect (sim.venues.{v.name}.dialect); make them agree"
                    )
        return self


class Credentials(Section):
    """An API key pair, read from the environment only; never logged (repr hides the secret)."""

    api_key: str
    secret: str = Field(repr=False)
    passphrase: str = Field(default="", repr=False)  # OKX's third credential (`<PREFIX>_API_PASSPHRASE`)

    @classmethod
    def from_env(cls, prefix: str, *, default: tuple[str, str] | None = None) -> Credentials:
        """Read `<PREFIX>_API_KEY` / `<PREFIX>_API_SECRET` (and `_API_PASSPHRASE` when set); fall back
        to `default` (the simulator's demo pair, with its demo passphrase) if given."""
        key, secret = os.environ.get(f"{prefix}_API_KEY"), os.environ.get(f"{prefix}_API_SECRET")
        passphrase = os.environ.get(f"{prefix}_API_PASSPHRASE", "")
        if key and secret:
            return cls(api_key=key, secret=secret, passphrase=passphrase)
        if default is not None:
            return cls(api_key=default[0], secret=default[1], passphrase=passphrase or DEMO_PASSPHRASE)
        raise ConfigError(f"environment variables {prefix}_API_KEY and {prefix}_API_SECRET must both be set")


def _find_secrets(data: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            here = f"{path}.{k}" if path else str(k)
            named_env = str(k).lower().endswith("_env")  # names an environment variable, holds no secret
            if not named_env and any(w in str(k).lower() for w in _SECRET_WORDS):
                found.append(here)
            found.extend(_find_secrets(v, here))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found.extend(_find_secrets(v, f"{path}.{i}"))
    return found


def _describe(err: ValidationError | None, source: str, strict: list[str], hints: dict[str, str]) -> str:
    lines = [f"invalid configuration in {source}:", *strict]
    said = {line.strip().split(" = ", 1)[0] for line in strict}  # a key the strict check named is named once
    for e in err.errors() if err is not None else []:
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if key in said:
            continue
        value = e.get("input")
        shown = repr(value)
        if e["type"] == "extra_forbidden":
            hint = f"; did you mean {hints[key]!r}?" if key in hints else ""
            lines.append(f"  {key}: unknown key{hint}")
            continue
        if isinstance(value, dict | list):  # a rule across a section's keys: name the section, then the rule
            msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            lines.append(f"  [{key}]: {msg}")
            continue
        lines.append(f"  {key} = {shown}: {e['msg']}")
    return "\n".join(lines)


def parse_settings(data: dict[str, Any], source: str = "<dict>") -> Settings:
    """Validate a parsed TOML document; raise ConfigError naming key, value and the rule."""
    secrets = _find_secrets(data)
    if secrets:
        raise ConfigError(
            f"invalid configuration in {source}: {', '.join(secrets)}: secrets are not allowed in the "
            "config file; set them in environment variables (e.g. NONSTOP_SIM_API_KEY/_API_SECRET)"
        )
    strict, hints = config_check.check(Settings, data)  # no silent coercion; "did you mean"
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, strict, hints)) from None
    if strict:
        raise ConfigError(_describe(None, source, strict, hints))
    return settings


def load_settings(path: Path | None) -> Settings:
    """Load settings from a TOML file, or the defaults when `path` is None."""
    if path is None:
        return Settings()
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    return parse_settings(data, str(path))


def require_credentials(settings: Settings, environ: Mapping[str, str] | None = None, source: str = "config") -> None:
    """A live or testnet trading venue needs its key pair in the environment before anything starts
    (`nonstop run` checks right after loading the config, the engine again before opening the journal;
    `nonstop status` reads the journal only and needs no key)."""
    missing = settings.engine.missing_credentials(os.environ if environ is None else environ)
    if missing:
        raise ConfigError(f"invalid configuration in {source}: environment variables not set: {'; '.join(missing)}")
