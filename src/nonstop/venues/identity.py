"""Whom the journal trades with (invariant 12).

After connecting, each trading venue is asked for its account id (Binance's `uid`). The first time,
the journal records it (`VenueIdentified`: exchange, network, account); every later start compares
and refuses to go on against another account — or another network, or a forgotten simulator — with
a message naming both. The way out is on purpose: a new journal (another `data_dir` or
`engine.journal.path`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.errors import ConfigError
from nonstop.model import EngineState, Event, VenueIdentified

log = structlog.get_logger("nonstop.venues.identity")
MAX_BACKOFF_S = 30.0


class AccountMismatch(ConfigError):
    """The venue's keys belong to another account than the one the journal traded with."""


@runtime_checkable
class IdentifiedVenue(Protocol):
    name: str

    async def account_id(self) -> str: ...


def _market(network: str) -> str:
    return {"sim": "simulated", "paper": "paper"}.get(network, "real")


def _describe(who: Mapping[str, str]) -> str:
    return f"{who['exchange']} {who['network']} account {who['account']}"


def refuse_mixed_markets(networks: Mapping[str, tuple[str, str]], state: EngineState, journal: str) -> None:
    """Refuse, before anything connects, a config whose venues are not the journal's market: a journal
    that traded on the simulator opened by a testnet or live config (or the reverse, or paper with
    either), or a venue the journal knows on one network configured on another. Needs no answer from
    any venue, so it holds even when the configured venue is unreachable."""
    configured = {_market(network) for _, network in networks.values()}
    for name, known in state.venue_accounts.items():
        if name in networks:
            exchange, network = networks[name]
            if (known["exchange"], known["network"]) != (exchange, network):
                raise AccountMismatch(
                    f"the journal {journal} traded on venue {name!r} with {_describe(known)}, and this config "
                    f"names it {exchange} {network}; refusing to continue on another network. Start a new "
                    "journal on purpose (another data_dir or engine.journal.path)"
                )
        elif {_market(known["network"])} != configured:
            raise AccountMismatch(
                f"the journal {journal} traded on venue {name!r} with {_describe(known)}, and this config trades "
                f"on {'/'.join(sorted(configured))} venues {sorted(networks)}: simulated and real "
                "markets never share a journal, nor does paper trading with either. Start a new journal on "
                "purpose (another data_dir or engine.journal.path)"
            )


async def confirm_identities(
    venues: Mapping[str, object],
    networks: Mapping[str, tuple[str, str]],
    state: EngineState,
    record: Callable[[Event], Awaitable[object]],
    clock: Clock,
    journal: str,
) -> None:
    """Record each venue's identity once; raise AccountMismatch if a venue now answers as another.

    `networks` maps a venue name to its (exchange, network). An unreachable account endpoint is
    waited for with backoff, like connecting.
    """
    refuse_mixed_markets(networks, state, journal)
    for name, venue in venues.items():
        if not isinstance(venue, IdentifiedVenue):
            continue
        backoff = 0.5
        while True:
            try:
                account = await venue.account_id()
                break
            except ConnectivityError as err:
                log.warning("account_id_unavailable", venue=name, error=str(err), retry_in_s=backoff)
                await clock.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        exchange, network = networks[name]
        now = {"exchange": exchange, "network": network, "account": account}
        known = state.venue_accounts.get(name)
        if known is None:
            await record(VenueIdentified(ts=clock.now(), venue=name, **now))
            log.info("venue_identified", venue=name, **now)
        elif known != now:
            raise AccountMismatch(
                f"the journal {journal} traded on venue {name!r} with {_describe(known)}, but the venue's keys "
                f"now answer as {_describe(now)}; refusing to continue against another account. To trade with "
                "it, start a new journal on purpose (another data_dir or engine.journal.path)"
            )
