"""The drill's scenarios: what each injects, for how long, and what it must show.

A scenario is data: faults set through the simulator's control API (on the trading venue or on
the data venue, "one source"), or an action on the engine's process (SIGKILL and restart), or a
trade made on the account behind the engine's back (the self-test: the drill must fail it).
Scenarios that need a feature not built yet carry `needs` and are skipped, named as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Target = Literal["trading", "data"]
Action = Literal["faults", "sigkill", "foreign_trade"]


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
    needs: str | None = None  # a feature this scenario waits for; skipped until it is in main
    default: bool = True  # part of `nonstop drill` without names


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
        "the leader is SIGKILLed; the PostgreSQL standby takes over",
        action="sigkill",
        needs="the drill to run a PostgreSQL leader and standby (`--role auto`); HA is in main, "
             "the drill does not wire it yet",
    ),
    Scenario(
        "venue_down_second_venue",
        "the trading venue goes down; new orders fail over to the second venue",
        (FaultSpec("venue_outage"),),
        needs="the drill to fail one of two trading venues (multi-venue routing is in main, not wired here yet)",
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


def select(names: list[str]) -> tuple[list[Scenario], list[Scenario]]:
    """(to run, skipped because they need something not built); unknown names raise ValueError."""
    known = by_name()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; known: {', '.join(known)}")
    chosen = [known[n] for n in names] if names else [s for s in CATALOGUE if s.default]
    return [s for s in chosen if s.needs is None], [s for s in chosen if s.needs is not None]


def listing() -> str:
    """One line per scenario (`nonstop drill --list`)."""
    width = max(len(s.name) for s in CATALOGUE)
    lines = []
    for s in CATALOGUE:
        tag = f"  [skipped: needs {s.needs}]" if s.needs else ("" if s.default else "  [not in the default run]")
        lines.append(f"{s.name:<{width}}  {s.summary}{tag}")
    return "\n".join(lines)
