"""The watchdog's flatten through the real adapter, and the engine taking its orders in.

A position journaled by the engine's order manager, and a resting order of the engine that another
account filled after its last record (the journal still has it open), are closed by the watchdog
with its own client ids (the simulator's trades of the instance net to zero within the lot step);
the engine's reconciliation then finds those orders by their ids, journals them with their fills
(its position reads flat, the balance check finds no drift) and asks to halt; a second flatten
finds nothing to do. A watchdog that cannot read the engine's journal trades nothing and says why."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from nonstop.clock import LiveClock
from nonstop.config import EngineSettings, EngineVenue, JournalSettings, Settings, StrategySettings
from nonstop.execution.reconcile import Reconciler
from nonstop.model import DifferenceKind, OrderState, OrderType, Side
from nonstop.watchdog.flatten import WatchdogFlatten
from nonstop.watchdog.journal import WatchdogJournal
from nonstop.watchdog.settings import WatchdogSettings
from tests.enginekit import INSTANCE, rig
from tests.integration.engine.kit import eventually
from tests.simkit import control, rest_client, running_sim


def _settings(tmp_path: Path, journal: Path) -> Settings:
    return Settings(
        engine=EngineSettings(instance=INSTANCE, venues=[EngineVenue(name="alpha")],
                              strategy=StrategySettings(venue="alpha"), journal=JournalSettings(path=journal)),
        watchdog=WatchdogSettings(flatten=True, journal_path=tmp_path / "wd.jsonl"),
        data_dir=tmp_path,
    )


async def _net_base_of_ours(sim) -> Decimal:
    orders = {r["order_id"]: r["client_order_id"] for r in await control(sim, "GET", "/control/venues/alpha/orders")}
    trades = await control(sim, "GET", "/control/venues/alpha/trades")
    return sum((Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in trades
                if str(orders.get(t["orderId"], "")).startswith(f"ns-{INSTANCE}-")), Decimal(0))


async def test_watchdog_flattens_and_the_engine_takes_its_orders_in(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, path) as r:
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.003"), None, order_type=OrderType.MARKET)
        await eventually(lambda: r.recorder.state.order(cid).state is OrderState.FILLED, 30, "the buy filled")
        assert (await r.reconciler.reconcile("alpha", [r.btc])).clean  # the balance baseline
        ask = (await r.venue.quote(r.btc)).ask
        assert ask is not None
        price = r.venue.instruments()[r.btc].round_price(ask * Decimal("1.001"), Side.SELL)  # resting, not filled
        resting = await r.manager.place("mm", r.btc, Side.SELL, Decimal("0.001"), price)
        await eventually(lambda: r.recorder.state.order(resting).state is OrderState.ACCEPTED, 30, "resting")
        # another account takes every ask up to ours (ours included) while this "engine" hears nothing
        await control(sim, "POST", "/control/accounts",
                      {"api_key": "other-key", "secret": "other-secret", "balances": {"USDT": "1000000000"}})
        # (asks the market's own flow adds below our price between the book read and the IOC would take the
        # quantity first: the IOC asks for a margin over the book, and is repeated, bounded, until ours traded)
        async with rest_client(sim, api_key="other-key", secret="other-secret") as other:
            for _ in range(5):
                if await _net_base_of_ours(sim) == Decimal("0.002"):
                    break
                book = await other.fetch_order_book("BTC/USDT", 1000)
                qty = sum(Decimal(str(q)) for p, q in book["asks"] if Decimal(str(p)) <= price)
                if qty > 0:  # else the market's own flow took it already
                    await other.create_order("BTC/USDT", "limit", "buy", float(qty * 2 + Decimal("0.01")),
                                             float(price), {"timeInForce": "IOC"})
        assert await _net_base_of_ours(sim) == Decimal("0.002")
        assert r.recorder.state.order(resting).state is OrderState.ACCEPTED  # the journal does not know

        wd_journal = WatchdogJournal(tmp_path / "wd.jsonl")
        flat = await WatchdogFlatten(_settings(tmp_path, path), {"alpha": r.venue}, wd_journal, LiveClock()).run()
        assert flat.complete, flat.detail
        assert flat.sent and all(c.startswith(f"ns-{INSTANCE}-wds-") for c in flat.sent)
        sold = [e for e in wd_journal.read() if e["event"] == "flatten_order"]
        assert sum(Decimal(e["filled"]) for e in sold) == Decimal("0.002")  # not the journal's 0.003
        step = r.venue.instruments()[r.btc].step_size
        assert abs(await _net_base_of_ours(sim)) < step
        assert [e["event"] for e in wd_journal.read()] == ["flatten_order"] * len(flat.sent) + ["flattened"]

        halts: list[str] = []

        async def halt(why: str) -> None:
            halts.append(why)

        engine_back = Reconciler(r.manager, {"alpha": r.venue}, INSTANCE, LiveClock(), on_watchdog_orders=halt)
        result = await engine_back.reconcile("alpha", [r.btc])
        kinds = [d.kind for d in result.differences]
        assert kinds.count(DifferenceKind.WATCHDOG_ORDER) == len(flat.sent)
        assert DifferenceKind.BALANCE_DRIFT not in kinds and r.recorder.state.order(resting).state is OrderState.FILLED
        assert abs(r.recorder.state.positions[str(r.btc)]) < step
        assert all(r.recorder.state.order(c).state.is_terminal for c in flat.sent)
        assert len(halts) == 1 and flat.sent[0] in halts[0]
        assert (await engine_back.reconcile("alpha", [r.btc])).clean and len(halts) == 1

        again = await WatchdogFlatten(_settings(tmp_path, path), {"alpha": r.venue}, wd_journal, LiveClock()).run()
        assert again.sent == [] and again.complete


async def test_watchdog_without_the_engines_journal_trades_nothing(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "journal.sqlite") as r:
        settings = _settings(tmp_path, tmp_path / "elsewhere" / "missing.sqlite")
        flat = await WatchdogFlatten(settings, {"alpha": r.venue}, WatchdogJournal(tmp_path / "wd.jsonl"),
                                     LiveClock()).run()
        assert flat.sent == [] and not flat.complete
        assert "cannot read the engine's journal" in flat.problems[0]
        assert await control(sim, "GET", "/control/venues/alpha/orders") == []
