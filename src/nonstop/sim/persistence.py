"""The simulator's memory: its venues' state saved under a folder and restored on start.

What a real exchange would still have after we look away: every account's orders (open ones back
in the book), its trades and their ids, balances, the order and trade id counters, the market's
position (each symbol's fair-price walk, last price, the flow's random state) and the new-order
requests received (so duplicate counts span restarts). One JSON file per venue
(`<dir>/<venue>.json`), written whole to a temporary file and renamed (a crash leaves the previous
copy), serialised on the event loop and written on a thread. API secrets are never written: a
restored account's balances attach to the account opened with the same key at start.

JSON rather than SQLite: the state is a few small tables saved whole, read once at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from nonstop.errors import SimulatorError
from nonstop.sim.book import Resting
from nonstop.sim.flow import MarketFlow
from nonstop.sim.records import BACKGROUND, ReceivedOrder, SimOrder
from nonstop.sim.venue import SimVenue

log = structlog.get_logger("nonstop.sim")
FORMAT = 1
SAVE_EVERY_S = 2.0


def _enc(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, dict):
        return {k: _enc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_enc(v) for v in value]
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "d" in value and isinstance(value["d"], str):
            return Decimal(value["d"])
        return {k: _dec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dec(v) for v in value]
    return value


def _peek(counter: itertools.count[int]) -> tuple[int, itertools.count[int]]:
    """The next value of an `itertools.count`, and a counter that still yields it."""
    nxt = next(counter)
    return nxt, itertools.count(nxt)


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng(rng: random.Random, raw: list[Any]) -> None:
    rng.setstate((raw[0], tuple(raw[1]), raw[2]))


def snapshot(venue: SimVenue, flow: MarketFlow) -> dict[str, Any]:
    """The venue's state as plain JSON-ready data (taken on the loop: consistent)."""
    next_order, venue._order_ids = _peek(venue._order_ids)
    next_trade, venue._trade_ids = _peek(venue._trade_ids)
    orders = [asdict(o) for o in venue.orders.values() if o.account not in BACKGROUND]
    return _enc({
        "format": FORMAT,
        "venue": venue.name,
        "next_order_id": next_order,
        "next_trade_id": next_trade,
        "balances": {
            key: {"free": dict(a.free), "locked": dict(a.locked)}
            for key, a in venue.accounts.items() if key not in BACKGROUND
        },
        "orders": orders,
        "order_lists": [[lid, legs] for lid, legs in venue.order_lists.items()],
        "by_client": [[acct, cid, ids] for (acct, cid), ids in venue.by_client.items()],
        "account_trades": venue.account_trades,
        "received": [asdict(r) for r in venue.received],
        "last_price": venue.last_price,
        "paths": {
            sym: {"price": p.price, "tick": p.tick, "log_price": p._log_price, "rng": _rng_state(p._rng)}
            for sym, p in flow.paths.items()
        },
        "flow_rng": _rng_state(flow._rng),
    })


def restore(venue: SimVenue, flow: MarketFlow, data: dict[str, Any]) -> None:
    """Put a saved state back (symbols the venue no longer lists are dropped)."""
    raw = _dec(data)
    if raw.get("format") != FORMAT:
        raise SimulatorError(f"simulator state of {venue.name}: format {raw.get('format')!r} is not {FORMAT}")
    venue._order_ids = itertools.count(int(raw["next_order_id"]))
    venue._trade_ids = itertools.count(int(raw["next_trade_id"]))
    for key, bal in raw["balances"].items():
        acct = venue.accounts.get(key)
        if acct is not None:
            acct.free, acct.locked = dict(bal["free"]), dict(bal["locked"])
    for o in raw["orders"]:
        if o["symbol"] not in venue.symbols:
            continue
        order = SimOrder(**o)
        venue.orders[order.order_id] = order
        if order.is_open and not order.working:
            venue.pending[order.order_id] = order
        elif order.is_open:
            remaining = order.orig_qty - order.executed_qty
            venue.books[order.symbol].add(Resting(order.order_id, order.account, order.side, order.price, remaining))
    venue.order_lists = {int(lid): [int(i) for i in legs] for lid, legs in raw.get("order_lists", [])}
    venue._list_ids = itertools.count(max(venue.order_lists, default=0) + 1)
    venue.by_client = {(a, c): [int(i) for i in ids] for a, c, ids in raw["by_client"]}
    venue.account_trades = {k: list(v) for k, v in raw["account_trades"].items()}
    venue.received = [ReceivedOrder(**r) for r in raw["received"]]
    for sym, price in raw["last_price"].items():
        if sym in venue.last_price:
            venue.last_price[sym] = price
    for sym, p in raw["paths"].items():
        path = flow.paths.get(sym)
        if path is None:
            continue
        path.price, path.tick, path._log_price = p["price"], int(p["tick"]), float(p["log_price"])
        _set_rng(path._rng, p["rng"])
    _set_rng(flow._rng, raw["flow_rng"])
    for sym in venue.symbols:
        flow._quote(sym)  # the background ladder around the restored fair price


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class StateKeeper:
    """Restores the venues from `folder` at start, saves them every `every_s` and at stop."""

    def __init__(self, folder: Path, venues: dict[str, tuple[SimVenue, MarketFlow]], every_s: float = SAVE_EVERY_S):
        self.folder = folder
        self.venues = venues
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None
        self._saving = asyncio.Lock()  # one save at a time: a periodic one and the final one share files

    def _file(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def load(self) -> list[str]:
        """Restore every venue that has a saved state; returns their names."""
        restored = []
        for name, (venue, flow) in self.venues.items():
            path = self._file(name)
            if not path.exists():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                restore(venue, flow, data)
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise SimulatorError(
                    f"cannot restore the simulator's state from {path}: {type(err).__name__}: {err} "
                    "(move the file away to start that venue afresh)"
                ) from None
            restored.append(name)
        log.info("sim_state_restored", folder=str(self.folder), venues=restored)
        return restored

    async def save(self) -> None:
        """Write every venue's state; a cancelled save still finishes its thread before the next starts
        (a thread cannot be cancelled: were the lock released early, two writers would share a file)."""
        async with self._saving:
            states = {name: snapshot(v, f) for name, (v, f) in self.venues.items()}  # a consistent copy

            def write_all() -> None:  # encoding and disk on a thread
                self.folder.mkdir(parents=True, exist_ok=True)
                for name, state in states.items():
                    _write(self._file(name), json.dumps(state, separators=(",", ":")))

            writing = asyncio.ensure_future(asyncio.to_thread(write_all))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                await asyncio.gather(writing, return_exceptions=True)
                raise

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.save()
            except OSError as err:
                log.error("sim_state_save_failed", folder=str(self.folder), error=str(err))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sim-state")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            try:
                await self.save()
            except OSError as err:  # the simulator stops anyway; what the last periodic save wrote stays
                log.error("sim_state_save_failed", folder=str(self.folder), error=str(err))
