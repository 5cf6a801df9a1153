"""The drill's scenarios: what each injects, for how long, and what it must show.

A scenario is data: faults set through the simulator's control API (on the trading venue or on
the data venue, "one source"), or an action on the engine's process (SIGKILL and restart; SIGKILL
of the leader with a standby waiting), or a trade made on the account behind the engine's back (the
self-test: the drill must fail it). A scenario that needs something of the user's config (`requires`:
a PostgreSQL journal with a standby, or two routed venues) runs when the config has it, and is
skipped otherwise, with the reason in `--list`, the printed table and the report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from nonstop.config import Settings
from nonstop.model.identifiers import ANY_VENUE

Target = Literal["trading", "data", "second"]  # second: the second trading venue (routed configs)
Action = Literal["faults", "sigkill", "takeover", "foreign_trade"]
Requirement = Literal["ha", "two_venues"]
REQUIREMENTS: dict[str, str] = {
    "ha": 'engine.journal.backend = "postgres" with its DSN in the environment (engine.journal.dsn_env) and '
          'engine.ha.role = "auto": the drill then runs a leader and a standby on a fresh schema',
    "two_venues": 'two or more trading venues and engine.strategy.venue = "auto" (routing, M12)',
}


def uses_ha(settings: Settings) -> bool:
    """The user's config runs a PostgreSQL leader with standbys, and the DSN is at hand."""
    journal = settings.engine.journal
    return (settings.engine.ha.role == "auto" and journal.backend == "postgres"
            and bool(os.environ.get(journal.dsn_env)))


def routes_two_venues(settings: Settings) -> bool:
    return len(settings.engine.venues) >= 2 and settings.engine.strategy.venue == ANY_VENUE


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    target: Target = "trading"
    endpoint: int | None = None
    probability: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    faults: tuple[FaultSpec, ...] = ()
    hold_s: float = 10.0  # how long the fault stays
    action: Action = "faults"
    blocks_venue: bool = False  # while it holds, nothing reaches the trading venue (no trade, no cancel)
    must_detect: bool = True  # the engine must show it saw the fault (an alert, breaker or ladder step)
    requires: Requirement | None = None  # what the config must have; skipped (saying why) otherwise
    default: bool = True  # part of `nonstop drill` without names

    def unmet(self, settings: Settings) -> str | None:
        """Why this scenario cannot run with `settings` (None: it can)."""
        if self.requires == "ha" and not uses_ha(settings):
            return REQUIREMENTS["ha"]
        if self.requires == "two_venues" and not routes_two_venues(settings):
            return REQUIREMENTS["two_venues"]
        return None


CATALOGUE: tuple[Scenario, ...] = (
    Scenario(
        "endpoint_blackhole",
        "the primary endpoint of the trading venue accepts connections and never answers",
        (FaultSpec("blackhole", endpoint=0),),
        must_detect=False,  # hedged reads route around it: it may leave no sign at all
    ),
    Scenario(
        "venue_down",
        "every endpoint of the trading venue answers 503 and its websockets drop",
        (FaultSpec("venue_outage"),),
        blocks_venue=True,
    ),
    Scenario(
        "rate_limit_storm",
        "every request to the trading venue gets 429 with Retry-After 2",
        (FaultSpec("rate_limit", params={"retry_after": 2}),),
        blocks_venue=True,
    ),
    Scenario(
        "maintenance",
        "the trading venue is in maintenance: 503 code 1, websockets closed (1001) and refused",
        (FaultSpec("maintenance"),),
        blocks_venue=True,
    ),
    Scenario(
        "ws_drop",
        "market and user websockets of the trading venue drop (TCP abort) and are refused",
        (FaultSpec("ws_disconnect", params={"mode": "drop"}),),
    ),
    Scenario(
        "accept_then_drop",
        "half the submits are executed, then the answer never comes (in doubt)",
        (FaultSpec("drop_order_response", probability=0.5, params={"mode": "hang"}),),
        must_detect=False,
    ),
    Scenario(
        "latency_spike",
        "every request to the trading venue takes 1.5 s longer",
        (FaultSpec("latency", params={"ms": 1500}),),
        must_detect=False,  # within the request timeouts: it may leave no sign at all
    ),
    Scenario(
        "price_spike",
        "one source (the data venue) jumps 5 %: the consensus must reject it",
        (FaultSpec("price_spike", target="data", params={"pct": 5}),),
    ),
    Scenario(
        "frozen_feed",
        "one source (the data venue) stops moving and goes silent (stale prices)",
        (FaultSpec("frozen_feed", target="data"),),
    ),
    Scenario(
        "engine_sigkill",
        "the engine is SIGKILLed and restarted after 1 s (as systemd would)",
        action="sigkill",
        hold_s=1.0,
    ),
    Scenario(
        "leader_takeover",
        "a standby waits; the leader is SIGKILLed and the standby takes over (PostgreSQL lease)",
        action="takeover",
        hold_s=0.0,
        requires="ha",
    ),
    Scenario(
        "venue_down_second_venue",
        "every endpoint of the trading venue our quotes rest on answers 503; routed orders go to the other venue",
        (FaultSpec("venue_outage"),),
        hold_s=15.0,  # the first venue's breaker opens after a few timeouts: room to show orders going elsewhere
        blocks_venue=True,
        requires="two_venues",
    ),
    Scenario(
        "self_test_foreign_trade",
        "self-test: a trade on the account behind the engine's back; must FAIL "
        "(balance difference, the drill exits non-zero)",
        action="foreign_trade",
        hold_s=3.0,
        must_detect=False,
        default=False,
    ),
)


def by_name() -> dict[str, Scenario]:
    return {s.name: s for s in CATALOGUE}


def select(names: list[str], settings: Settings) -> tuple[list[Scenario], list[tuple[Scenario, str]]]:
    """(to run, skipped with why: the config lacks what they need); unknown names raise ValueError."""
    known = by_name()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; known: {', '.join(known)}")
    chosen = [known[n] for n in names] if names else [s for s in CATALOGUE if s.default]
    run = [s for s in chosen if s.unmet(settings) is None]
    return run, [(s, why) for s in chosen if (why := s.unmet(settings)) is not None]


def listing(settings: Settings | None = None) -> str:
    """One line per scenario (`nonstop drill --list`); with `settings`, says which that config skips."""
    width = max(len(s.name) for s in CATALOGUE)
    lines = []
    for s in CATALOGUE:
        why = s.unmet(settings) if settings is not None else (REQUIREMENTS[s.requires] if s.requires else None)
        if why and settings is not None:
            tag = f"  [skipped with this config: needs {why}]"
        elif why:
            tag = f"  [runs when the config has {why}]"
        else:
            tag = "" if s.default else "  [not in the default run]"
        lines.append(f"{s.name:<{width}}  {s.summary}{tag}")
    return "\n".join(lines)
