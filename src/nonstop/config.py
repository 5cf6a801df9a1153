"""Configuration: one TOML file validated with pydantic; every setting has a default.

Secrets (API keys) never come from the file: they are read from environment variables
(see `Credentials`), and a key that looks like a secret in the file is refused.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nonstop import config_check
from nonstop.data.settings import DataSettings
from nonstop.errors import ConfigError
from nonstop.model.identifiers import ANY_VENUE
from nonstop.risk.settings import RiskSettings
from nonstop.routing.settings import RoutingSettings
from nonstop.strategy.degradation import DegradationSettings

# the venue settings live with the venues; re-exported here with the rest of the config
from nonstop.venues.settings import DEMO_CREDENTIALS as DEMO_CREDENTIALS
from nonstop.venues.settings import DEMO_ENV as DEMO_ENV
from nonstop.venues.settings import DEMO_PASSPHRASE as DEMO_PASSPHRASE
from nonstop.venues.settings import EngineVenue as EngineVenue
from nonstop.watchdog.settings import WatchdogSettings

_SECRET_WORDS = ("secret", "api_key", "apikey", "password", "token")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"
    summary_every_s: Annotated[float, Field(ge=1, le=86_400)] = 30.0  # the console's periodic summary line


PositiveDecimal = Annotated[Decimal, Field(gt=0)]


class SimSymbol(_Strict):
    """One spot market the simulator lists, with Binance-style filters."""

    base: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]
    quote: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]
    start_price: PositiveDecimal
    tick_size: PositiveDecimal
    step_size: PositiveDecimal
    min_qty: PositiveDecimal
    max_qty: PositiveDecimal = Decimal("9000")
    min_notional: PositiveDecimal = Decimal("5")
    volatility_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("5")  # per tick, unless the next is set
    volatility_1m_bps: Annotated[Decimal, Field(gt=0, le=10_000)] | None = None  # 1-minute stdev of the fair price
    spread_ticks: Annotated[int, Field(ge=1, le=10_000)] = 1  # the market maker's best bid to best ask
    book_levels: Annotated[int, Field(ge=5, le=5000)] = 1000  # price levels per side of the background book

    @property
    def symbol(self) -> str:
        return f"{self.base}{self.quote}"


def _default_symbols() -> list[SimSymbol]:
    return [
        SimSymbol(
            base="BTC",
            quote="USDT",
            start_price=Decimal("60000"),
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.00001"),
            min_qty=Decimal("0.00001"),
            volatility_1m_bps=Decimal("6"),  # BTC/USDT's typical 1-minute stdev, 0.06 %
        ),
        SimSymbol(
            base="ETH",
            quote="USDT",
            start_price=Decimal("3000"),
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
            volatility_1m_bps=Decimal("8"),  # ETH/USDT's
        ),
    ]


class SimMirror(_Strict):
    """A real venue's public market data the simulated venue mirrors instead of its own flow (paper trading)."""

    exchange: str = "binance"
    network: Literal["live", "testnet", "sim"] = "live"
    url: str | None = None  # network "sim": the source simulator's base URL (a stand-in for the live venue)
    book_depth: Annotated[int, Field(ge=5, le=1000)] = 100


class SimVenue(_Strict):
    """A named simulated venue, served on one port per endpoint (0 = pick a free port)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    ports: Annotated[list[Annotated[int, Field(ge=0, le=65535)]], Field(min_length=1, max_length=8)]
    # whose wire its ports speak: Binance spot (`/api/v3`, streams) or OKX v5 (`/api/v5`, `/ws/v5/...`)
    dialect: Literal["binance", "okx"] = "binance"
    symbols: list[SimSymbol] = Field(default_factory=_default_symbols)
    mirror: SimMirror | None = None  # set: the book and trades follow this venue's public data
    # this venue's opening balances (unset: sim.starting_balances), e.g. a paper venue's
    starting_balances: dict[str, Annotated[Decimal, Field(ge=0)]] | None = None


class SimRateLimits(_Strict):
    """Binance's spot limits (REQUEST_WEIGHT 6000/min, ORDERS 100/10s and 200000/day)."""

    weight_per_minute: Annotated[int, Field(gt=0)] = 6000
    orders_per_10s: Annotated[int, Field(gt=0)] = 100
    orders_per_day: Annotated[int, Field(gt=0)] = 200_000
    ban_seconds: Annotated[int, Field(gt=0, le=86_400)] = 120


class SimSettings(_Strict):
    host: Annotated[str, Field(pattern=r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$|^localhost$")] = "127.0.0.1"
    control_port: Annotated[int, Field(ge=0, le=65535)] = 8900
    seed: int = 42
    tick_ms: Annotated[int, Field(ge=5, le=60_000)] = 200
    venues: Annotated[list[SimVenue], Field(min_length=1)] = Field(
        default_factory=lambda: [
            SimVenue(name="binance-a", ports=[8901, 8902, 8903]),
            SimVenue(name="binance-b", ports=[8911, 8912, 8913]),
        ]
    )
    starting_balances: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(
        default_factory=lambda: {"USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("30")}
    )
    rate_limits: SimRateLimits = SimRateLimits()
    max_body_bytes: Annotated[int, Field(ge=1024, le=10_000_000)] = 65_536

    @model_validator(mode="after")
    def _unique(self) -> SimSettings:
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        ports = [p for v in self.venues for p in v.ports if p] + ([self.control_port] if self.control_port else [])
        if len(set(ports)) != len(ports):
            raise ValueError(f"ports must be unique across venues and the control port, got {sorted(ports)}")
        return self


class JournalSettings(_Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: Path | None = None  # SQLite file; default <data_dir>/journal.sqlite
    dsn_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,40}$")] = "NONSTOP_PG_DSN"  # PostgreSQL DSN (secret)
    schema_name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,40}$")] = "nonstop"
    durability: Literal["fsync", "group", "os"] = "group"
    snapshot_every: Annotated[int, Field(ge=100, le=10_000_000)] = 5000
    # a finished order (and its fills) leaves the live state this long after it finished (event time);
    # it stays in the journal (see nonstop.execution.archive); under an hour: accelerated runs (soak)
    archive_after_h: Annotated[float, Field(ge=0.01, le=8760)] = 24.0


BUILT_IN_STRATEGIES = "^(market_maker|trend|quoter)$"
IMPORT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


class HaSettings(_Strict):
    """Active-passive high availability (M13). `single`: this engine is the only one (the default);
    `auto`: stand by, lead when the lease of `engine.instance` is free (PostgreSQL journal only)."""

    role: Literal["single", "auto"] = "single"
    # the leader renews every TTL/3 and stops sending once its own deadline (TTL after the last
    # renewal was sent) passes; a standby takes over after the TTL: it bounds the takeover time
    lease_ttl_s: Annotated[float, Field(ge=0.5, le=60)] = 2.0
    poll_s: Annotated[float, Field(ge=0.05, le=60)] = 1.0  # standby: journal polling when no NOTIFY arrives
    holder: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")] | None = None  # default host:pid:random


class StrategySettings(_Strict):
    """The strategy the engine runs: `kind` picks it; the other keys are its parameters.

    market_maker: inventory-skewed maker on the consensus price (fallback: wider, slower, smaller);
    trend: EMA-crossover trend follower (fallback: exit-only); quoter: the first two-sided quoter;
    "package.module:Class": your own strategy, its parameters in `params` (`nonstop.strategy.loader`).
    """

    # a built-in name, or your own class by import path ("package.module:Class", see README)
    kind: Annotated[str, Field(pattern=BUILT_IN_STRATEGIES + "|" + IMPORT_PATH)] = "market_maker"
    params: dict[str, Any] = Field(default_factory=dict)  # your strategy's own parameters (its `Params` model)
    path: Path | None = None  # a folder to import your strategy from
    id: Annotated[str, Field(pattern=r"^[a-z0-9]{1,10}$")] = "mm"
    # the venue it trades on, or "auto": each order routed to the best trading venue (M12)
    venue: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")] = "binance-a"
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")] = "BTC/USDT"
    size: PositiveDecimal = Decimal("0.001")
    half_spread_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("1")
    requote_bps: Annotated[Decimal, Field(gt=0, le=1000)] = Decimal("2")
    max_position: PositiveDecimal = Decimal("0.01")
    # the strategy sees at most one market update per interval (the newest; older ones are conflated)
    interval_s: Annotated[float, Field(ge=0.05, le=3600)] = 0.5
    skew_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("5")  # market_maker: mid shift at max_position
    fast: Annotated[int, Field(ge=1, le=10_000)] = 10  # trend: fast EMA period (bars)
    slow: Annotated[int, Field(ge=2, le=10_000)] = 30  # trend: slow EMA period (bars)
    bar_s: Annotated[int, Field(ge=1, le=86_400)] = 60  # trend: bar length
    slippage_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal("10")  # trend: IOC limit through the mid

    @model_validator(mode="after")
    def _periods(self) -> StrategySettings:
        if ":" not in self.kind and self.params:
            raise ValueError(f"params are for a strategy given by import path; {self.kind!r} takes its keys directly")
        if self.kind == "trend" and not self.fast < self.slow:
            raise ValueError(f"trend needs fast < slow, got fast={self.fast} slow={self.slow}")
        return self


QuoterSettings = StrategySettings  # the name before strategies were selectable


class EngineSettings(_Strict):
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
    ha: HaSettings = HaSettings()

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


class AlertChannelSettings(_Strict):
    """One alert channel: its name, and the environment variable holding its Apprise URL.

    Apprise URLs carry tokens and passwords, so the URL itself never lives in the file.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,30}$")]
    url_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,60}$")]
    per_minute: Annotated[float, Field(gt=0, le=6000)] = 6.0  # sustained sends per minute (token bucket)
    burst: Annotated[int, Field(ge=1, le=1000)] = 5  # sends allowed at once before the rate applies


class AlertSettings(_Strict):
    """Alert routing and damping. CRITICAL always goes to every channel; `routes` maps the lower
    levels to channel names (a level absent from `routes` goes to every channel; [] to none)."""

    channels: list[AlertChannelSettings] = Field(default_factory=list)
    routes: dict[Literal["warning", "info"], list[str]] = Field(default_factory=dict)
    resolve_hold_s: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    flap_window_s: Annotated[float, Field(ge=0, le=86_400)] = 900.0
    digest_interval_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    retry_initial_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    attempt_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3  # WARNING/INFO; CRITICAL retries until delivered
    queue_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    history_size: Annotated[int, Field(ge=1, le=1_000_000)] = 1000

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertSettings:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"alert channel names must be unique, got {names}")
        for level, targets in self.routes.items():
            unknown = [t for t in targets if t not in names]
            if unknown:
                raise ValueError(f"routes.{level} names unknown channels {unknown}; channels are {names}")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        return self


class ApiSettings(_Strict):
    """The HTTP API and dashboard. Bound to loopback by default; anywhere else it needs a token
    (at least 16 characters) in the environment variable named by `token_env`."""

    enabled: bool = True
    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080  # 0 = a free port
    token_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,40}$")] = "NONSTOP_API_TOKEN"
    # a port that is taken stops start-up (true), or (false) the engine trades on and warns until it is free
    required: bool = True
    retry_s: Annotated[float, Field(ge=0.1, le=3600)] = 30.0  # required = false: how often it tries again


class MonitorSettings(_Strict):
    alerts: AlertSettings = AlertSettings()
    api: ApiSettings = ApiSettings()
    sample_interval_s: Annotated[float, Field(ge=0.1, le=3600)] = 15.0  # system metrics (psutil)
    loop_lag_interval_s: Annotated[float, Field(ge=0.01, le=60)] = 0.5


class Settings(_Strict):
    """The whole configuration file."""

    log: LogSettings = LogSettings()
    sim: SimSettings = SimSettings()
    engine: EngineSettings = EngineSettings()
    monitor: MonitorSettings = MonitorSettings()
    data: DataSettings = DataSettings()
    risk: RiskSettings = RiskSettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    data_dir: Path = Path("var")

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


class Credentials(_Strict):
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
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if e["type"] == "extra_forbidden":
            hint = f"; did you mean {hints[key]!r}?" if key in hints else ""
            lines.append(f"  {key}: unknown key{hint}")
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
