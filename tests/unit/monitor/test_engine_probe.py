"""The engine probe on a ManualClock: real metrics registry, real endpoint pool and detectors,
events folded into a real EngineState and handed to the listener as the recorder does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any

import pytest

from nonstop.clock import ManualClock
from nonstop.connectivity import EndpointPool
from nonstop.data.consensus import SourceQuality, SourceStatus
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    EngineState,
    Event,
    InstrumentId,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TimeInForce,
    TradeId,
    VenueOrderId,
)
from nonstop.monitor import AlertLevel, Metrics
from nonstop.monitor.detectors import DriftDetector, FeedQualityDetector, LatencyDetector
from nonstop.monitor.engine_probe import EngineProbe
from tests.fillkit import fill_order

VENUE, SYMBOL = "binance-a", "BTC/USDT"
BTC = InstrumentId(VENUE, SYMBOL)
URLS = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]


@dataclass
class Sink:
    raised: list[tuple[str, AlertLevel, str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)

    def raise_(self, key: str, level: AlertLevel, title: str, body: str = "") -> None:
        self.raised.append((key, level, title, body))

    def resolve(self, key: str, body: str = "") -> None:
        self.resolved.append((key, body))


class Hub:
    """`latest(symbol)` like the market-data hub: a mid and per-source quality."""

    def __init__(self, mid: D | None = D("101"), quality: tuple[SourceQuality, ...] = ()) -> None:
        self.mid, self.quality = mid, quality
        self.fail: Exception | None = None

    def latest(self, symbol: str) -> Any:
        if self.fail is not None:
            raise self.fail
        return SimpleNamespace(symbol=symbol, mid=self.mid, quality=self.quality)


class Harness:
    def __init__(self, clock: ManualClock, **probe: Any) -> None:
        self.clock, self.state, self.metrics, self.sink = clock, EngineState(), Metrics(), Sink()
        self.hub: Hub = probe.pop("hub", Hub())
        self.probe = EngineProbe(
            self.metrics,
            self.sink,
            clock,
            state=self.state,
            venues=probe.pop("venues", {}),
            hub=self.hub,
            symbols=[SYMBOL],
            strategies=["mm"],
            **probe,
        )
        self.seq = 0
        self.orders = 0

    def record(self, *events: Event) -> None:
        for e in events:
            self.seq += 1
            self.state.apply(e, seq=self.seq)
            self.probe.on_event(e)

    def value(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)

    def order(
        self,
        side: Side,
        qty: str,
        price: str | None,
        *,
        kind: OrderType = OrderType.LIMIT,
        tif: TimeInForce = TimeInForce.GTC,
        rtt_s: float = 0.01,
    ) -> ClientOrderId:
        self.orders += 1
        cid = ClientOrderId.build("a1", "mm", self.orders)
        now = self.clock.now()
        self.record(
            OrderIntent(
                ts=now,
                client_order_id=cid,
                instrument_id=BTC,
                side=side,
                order_type=kind,
                quantity=D(qty),
                price=None if price is None else D(price),
                time_in_force=tif,
            ),
            OrderSubmitted(ts=now, client_order_id=cid),
            OrderAccepted(
                ts=now + timedelta(seconds=rtt_s), client_order_id=cid, venue_order_id=VenueOrderId(str(self.orders))
            ),
        )
        return cid

    def fill(self, cid: ClientOrderId, qty: str, price: str, *, fee: str = "0", ts: datetime | None = None) -> None:
        self.record(
            OrderFilled(
                ts=ts or self.clock.now(),
                client_order_id=cid,
                trade_id=TradeId(f"t{self.seq}"),
                price=D(price),
                quantity=D(qty),
                fee=D(fee),
                fee_asset="USDT",
            )
        )


def quality(
    source: str, *, age: float, unchanged: float = 0.0, dev: str = "0", status: SourceStatus = SourceStatus.OK
) -> SourceQuality:
    return SourceQuality(
        source=source,
        transport="ws",
        status=status,
        age_s=age,
        unchanged_s=unchanged,
        deviation_bps=D(dev),
        gaps=0,
        max_gap_s=0.0,
        updates=10,
        bid=D("100"),
        ask=D("102"),
    )


# ---- endpoints and breakers ----------------------------------------------------------------------


def test_probe_endpoints_publish_latency_per_measurement_up_and_one_hot_breaker_states() -> None:
    clock = ManualClock()
    pool = EndpointPool(VENUE, URLS, clock)
    h = Harness(clock, venues={VENUE: SimpleNamespace(name=VENUE, gateway=SimpleNamespace(pool=pool))})
    ep0, ep1 = pool.endpoints
    ep0.stats.latency(0.012)
    ep0.measured_at = clock.monotonic()
    h.probe.sample()
    h.probe.sample()  # no new measurement: no new sample
    count = "nonstop_endpoint_latency_seconds_count"
    assert h.value(count, venue=VENUE, endpoint=URLS[0]) == 1
    assert h.value("nonstop_endpoint_latency_seconds_sum", venue=VENUE, endpoint=URLS[0]) == pytest.approx(0.012)
    assert h.value(count, venue=VENUE, endpoint=URLS[1]) is None  # never measured
    clock.advance(1)
    ep0.stats.latency(0.030)
    ep0.measured_at = clock.monotonic()
    ep1.breaker.trip("5 consecutive failures")
    h.probe.sample()
    assert h.value(count, venue=VENUE, endpoint=URLS[0]) == 2
    assert h.value("nonstop_endpoint_up", venue=VENUE, endpoint=URLS[0]) == 1
    assert h.value("nonstop_endpoint_up", venue=VENUE, endpoint=URLS[1]) == 0
    assert [
        h.value("nonstop_breaker_state", venue=VENUE, endpoint=URLS[1], state=s)
        for s in ("closed", "open", "half_open")
    ] == [0, 1, 0]
    assert h.value("nonstop_breaker_state", venue=VENUE, endpoint="*", state="closed") == 1  # 1 of 2 open
    ep0.breaker.trip("5 consecutive failures")
    h.probe.sample()
    assert h.value("nonstop_breaker_state", venue=VENUE, endpoint="*", state="open") == 1
    assert h.value("nonstop_breaker_state", venue=VENUE, endpoint="*", state="closed") == 0


def test_probe_skips_venues_without_a_gateway() -> None:
    h = Harness(ManualClock(), venues={"other": SimpleNamespace(name="other")})
    h.probe.sample()
    assert h.value("nonstop_endpoint_up", venue="other", endpoint="*") is None and h.probe.failures == 0


# ---- fills: PnL, exposure, slippage, fill ratio --------------------------------------------------------


def test_probe_fills_give_pnl_exposure_at_the_mid_and_slippage_positive_when_worse() -> None:
    h = Harness(ManualClock(), hub=Hub(mid=D("101")))
    buy = h.order(Side.BUY, "1", "100")
    h.fill(buy, "1", "100")  # a limit buy at its limit price: 0 bps
    sell = h.order(Side.SELL, "0.5", None, kind=OrderType.MARKET)  # expected: the mid (101) at intent time
    h.hub.mid = D("102")  # the mid moves after the intent: the expectation stays 101
    h.fill(sell, "0.5", "100.89")  # sold 10.9 bps under the mid: worse, so positive
    h.probe.sample()
    assert h.value("nonstop_slippage_bps_count", venue=VENUE, strategy="mm") == 2
    assert h.value("nonstop_slippage_bps_bucket", venue=VENUE, strategy="mm", le="0.0") == 1
    assert h.value("nonstop_slippage_bps_bucket", venue=VENUE, strategy="mm", le="10.0") == 1
    assert h.value("nonstop_slippage_bps_bucket", venue=VENUE, strategy="mm", le="20.0") == 2
    # long 1 @ 100, sold 0.5 @ 100.89: realized 0.445; 0.5 left, marked at 102: +0.5 x 2
    assert h.value("nonstop_strategy_pnl_quote", strategy="mm", quote="USDT") == pytest.approx(0.445 + 1.0)
    assert h.value("nonstop_strategy_exposure_quote", strategy="mm", quote="USDT") == pytest.approx(51.0)
    assert h.value("nonstop_orders_total", venue=VENUE, strategy="mm", outcome="filled") == 2


def test_probe_counts_filled_once_per_order_and_ioc_limit_expects_the_mid() -> None:
    h = Harness(ManualClock(), hub=Hub(mid=D("100")))
    cid = h.order(Side.BUY, "1", "100.5", tif=TimeInForce.IOC)  # 50 bps through the mid
    h.fill(cid, "0.4", "100.21")
    assert h.value("nonstop_orders_total", venue=VENUE, strategy="mm", outcome="filled") is None  # partial
    h.fill(cid, "0.6", "100.3")
    assert h.value("nonstop_orders_total", venue=VENUE, strategy="mm", outcome="filled") == 1
    assert h.value("nonstop_slippage_bps_bucket", venue=VENUE, strategy="mm", le="20.0") == 0  # 21 and 30 bps
    assert h.value("nonstop_slippage_bps_bucket", venue=VENUE, strategy="mm", le="50.0") == 2


def test_probe_books_fills_of_earlier_runs_from_the_state() -> None:
    first = Harness(ManualClock(), hub=Hub(mid=None))
    first.fill(first.order(Side.BUY, "2", "100"), "2", "100")
    later = EngineProbe(
        Metrics(), None, ManualClock(), state=first.state, venues={}, hub=Hub(mid=D("110")), symbols=[SYMBOL]
    )
    later.sample()
    assert later.metrics.registry.get_sample_value("nonstop_strategy_pnl_quote",
                                                   {"strategy": "mm", "quote": "USDT"}) == 20.0


def test_probe_publishes_a_strategy_s_pnl_per_quote_currency_never_their_sum() -> None:
    state = EngineState()
    eth_usdt, eth_btc = InstrumentId(VENUE, "ETH/USDT"), InstrumentId(VENUE, "ETH/BTC")
    fill_order(state, 1, eth_btc, Side.BUY, "2", "0.05")  # the BTC fill first: it used to set the strategy's quote
    fill_order(state, 2, eth_usdt, Side.BUY, "1", "3000", fee="1")
    fill_order(state, 3, eth_usdt, Side.SELL, "1", "3100")
    fill_order(state, 4, eth_btc, Side.SELL, "1", "0.06")
    probe = EngineProbe(Metrics(), None, ManualClock(), state=state, venues={}, hub=Hub(mid=None),
                        symbols=["ETH/USDT", "ETH/BTC"], strategies=["mm"])
    probe.sample()

    def gauge(name: str, quote: str) -> float | None:
        return probe.metrics.registry.get_sample_value(name, {"strategy": "mm", "quote": quote})

    assert gauge("nonstop_strategy_pnl_quote", "USDT") == pytest.approx(99.0)  # +100 - 1 fee
    assert gauge("nonstop_strategy_pnl_quote", "BTC") == pytest.approx(0.02)  # +0.01 realized, +0.01 on 1 left
    assert gauge("nonstop_strategy_exposure_quote", "BTC") == pytest.approx(0.06)
    assert gauge("nonstop_strategy_exposure_quote", "USDT") == 0


def test_probe_shows_a_strategy_without_fills_at_zero_in_its_symbols_quote() -> None:
    h = Harness(ManualClock())
    h.probe.sample()
    assert h.value("nonstop_strategy_pnl_quote", strategy="mm", quote="USDT") == 0


# ---- detectors --------------------------------------------------------------------------------------


def test_probe_feeds_order_round_trips_to_the_latency_detector() -> None:
    clock = ManualClock()
    detector_sink = Sink()
    latency = LatencyDetector(detector_sink, clock, recent_s=10, baseline_s=100, min_recent=3, min_baseline=5)
    h = Harness(clock, latency=latency)
    for _ in range(8):
        clock.advance(2)
        h.order(Side.BUY, "0.001", "100", rtt_s=0.02)
    assert detector_sink.raised == []
    for _ in range(4):
        clock.advance(2)
        h.order(Side.BUY, "0.001", "100", rtt_s=0.5)
    key, level, _, body = detector_sink.raised[-1]
    assert key == f"latency_rising:{VENUE}" and level is AlertLevel.CRITICAL
    assert "recent median 500 ms" in body and "baseline median 20 ms" in body


def test_probe_alerts_balance_drift_only_when_it_persists_and_resolves_when_clean() -> None:
    clock = ManualClock()
    h = Harness(clock)
    h.probe.drift = DriftDetector(h.sink, clock, confirm_s=5, critical_s=60)

    def snapshot(usdt: str, btc: str) -> None:
        h.record(
            BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=(Balance("USDT", D(usdt)), Balance("BTC", D(btc))))
        )

    snapshot("1000", "0")  # the baseline
    clock.advance(1)
    h.fill(h.order(Side.BUY, "0.01", "100"), "0.01", "100", fee="0.1")
    clock.advance(1)
    snapshot("998.9", "0.01")  # what the fill implies: 1000 - 1 - 0.1 fee
    clock.advance(1)
    snapshot("998.9", "0.02")  # 0.01 BTC more than the fills explain
    assert h.sink.raised == []  # not yet confirmed
    clock.advance(6)
    snapshot("998.9", "0.02")
    key, level, _, body = h.sink.raised[-1]
    assert key == f"drift:balances:{VENUE}" and level is AlertLevel.WARNING
    assert "BTC: internal 0.01 vs venue 0.02" in body
    clock.advance(1)
    snapshot("998.9", "0.01")
    assert h.sink.resolved and h.sink.resolved[-1][0] == f"drift:balances:{VENUE}"


def test_probe_late_fill_before_the_last_snapshot_counts_without_false_drift() -> None:
    clock = ManualClock()
    h = Harness(clock)
    h.probe.drift = DriftDetector(h.sink, clock, confirm_s=0)
    t0 = clock.now()
    h.record(BalanceSnapshot(ts=t0, venue=VENUE, balances=(Balance("USDT", D("1000")),)))
    cid = h.order(Side.BUY, "0.01", "100")
    clock.advance(2)
    h.record(
        BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=(Balance("USDT", D("999")), Balance("BTC", D("0.01"))))
    )
    assert h.sink.raised  # the venue has a fill we have not recorded yet (confirm_s=0: raised at once)
    h.fill(cid, "0.01", "100", ts=t0 + timedelta(seconds=1))  # found by reconciliation, dated before
    clock.advance(1)
    h.record(
        BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=(Balance("USDT", D("999")), Balance("BTC", D("0.01"))))
    )
    assert h.sink.resolved and h.sink.resolved[-1][0] == f"drift:balances:{VENUE}"


def test_probe_feeds_source_quality_and_a_frozen_book_counts_as_old() -> None:
    clock = ManualClock()
    frozen = quality("binance-b", age=0.2, unchanged=30.0, status=SourceStatus.FROZEN)
    h = Harness(clock, hub=Hub(quality=(quality(VENUE, age=0.1), frozen)))
    h.probe.feed = FeedQualityDetector(h.sink, clock, confirm=3)
    for _ in range(3):
        h.probe.sample()
    assert [(k, lvl) for k, lvl, _, _ in h.sink.raised] == [(f"feed_quality:binance-b:{SYMBOL}", AlertLevel.WARNING)]
    assert "data 30.0s old" in h.sink.raised[0][3]
    h.hub.quality = (quality(VENUE, age=0.1), quality("binance-b", age=0.1))
    for _ in range(3):
        h.probe.sample()
    assert [k for k, _ in h.sink.resolved] == [f"feed_quality:binance-b:{SYMBOL}"]


# ---- journal, failures ----------------------------------------------------------------------------


async def test_probe_journal_lag_grows_while_the_recorder_is_stuck_and_is_zero_when_caught_up() -> None:
    clock = ManualClock()
    recorder = SimpleNamespace(busy=False)  # a Recorder's `busy`: an append-and-fold in progress
    h = Harness(clock, recorder=recorder)
    h.record(BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=()))
    h.probe.sample()
    assert h.value("nonstop_journal_last_seq") == 1 and h.value("nonstop_journal_lag_seconds") == 0
    recorder.busy = True
    h.probe.sample()
    clock.advance(3)
    h.probe.sample()
    assert h.value("nonstop_journal_lag_seconds") == 3  # busy at the same seq for 3 s
    h.record(BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=()))
    clock.advance(1)
    h.probe.sample()
    assert h.value("nonstop_journal_lag_seconds") == 0  # busy, but the journal moved on
    recorder.busy = False
    clock.advance(5)
    h.probe.sample()
    assert h.value("nonstop_journal_lag_seconds") == 0 and h.value("nonstop_journal_last_seq") == 2


async def test_probe_run_survives_a_failing_round_and_is_cancellable() -> None:
    clock = ManualClock()
    h = Harness(clock)
    h.hub.fail = RuntimeError("consensus exploded")
    task = asyncio.create_task(h.probe.run())
    await asyncio.sleep(0)
    assert h.probe.failures == 1
    clock.advance(1)
    await asyncio.sleep(0)
    assert h.probe.failures == 2 and not task.done()
    h.hub.fail = None
    clock.advance(1)
    await asyncio.sleep(0)
    assert h.probe.failures == 2 and h.value("nonstop_journal_last_seq") == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_probe_listener_logs_and_counts_a_failure_instead_of_raising_into_the_recorder() -> None:
    h = Harness(ManualClock())
    h.hub.fail = RuntimeError("consensus exploded")
    cid = h.order(Side.BUY, "1", None, kind=OrderType.MARKET)  # the listener asks the hub for the mid
    assert h.probe.failures == 1 and h.state.orders[cid.value] is not None


def test_probe_baseline_is_the_journals_so_a_change_made_while_down_is_drift() -> None:
    clock = ManualClock()
    first = Harness(clock)
    first.record(BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=(Balance("USDT", D("1000")),), includes=()))
    cid = first.order(Side.BUY, "0.01", "100")
    first.fill(cid, "0.01", "100", fee="0.1")  # journaled after the snapshot: pending
    # a new process: its probe starts from the journal's state (a snapshot and one pending fill)
    probe = EngineProbe(Metrics(), first.sink, clock, state=first.state, venues={}, symbols=[SYMBOL])
    probe.drift = DriftDetector(first.sink, clock, confirm_s=0)
    snap = BalanceSnapshot(
        ts=clock.now(),
        venue=VENUE,
        balances=(Balance("USDT", D("998.9")), Balance("BTC", D("0.02"))),
        includes=tuple(first.state.balance_pending[VENUE]),
    )
    first.state.apply(snap, seq=first.seq + 1)
    probe.on_event(snap)
    key, _, _, body = first.sink.raised[-1]
    assert key == f"drift:balances:{VENUE}" and "BTC: internal 0.01 vs venue 0.02" in body


def test_probe_fill_not_in_a_snapshot_stays_pending_without_false_drift() -> None:
    clock = ManualClock()
    h = Harness(clock)
    h.probe.drift = DriftDetector(h.sink, clock, confirm_s=0)
    h.record(BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=(Balance("USDT", D("1000")),), includes=()))
    cid = h.order(Side.BUY, "0.01", "100")
    h.fill(cid, "0.01", "100", fee="0.1")
    # the venue answered before the fill: a snapshot that does not include it
    h.record(BalanceSnapshot(ts=clock.now(), venue=VENUE, balances=(Balance("USDT", D("1000")),), includes=()))
    assert h.sink.raised == [] and h.state.balance_pending[VENUE]
    h.record(
        BalanceSnapshot(
            ts=clock.now(),
            venue=VENUE,
            balances=(Balance("USDT", D("998.9")), Balance("BTC", D("0.01"))),
            includes=tuple(h.state.balance_pending[VENUE]),
        )
    )
    assert h.sink.raised == [] and VENUE not in h.state.balance_pending
