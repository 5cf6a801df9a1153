"""Pre-trade risk benchmark: the cost of `PreTradeRisk.check` on the order path.

Prints one JSON document. The state is a busy instance (`--orders` journaled orders, `--open` of them
open, one fill each for the closed ones, so the day's PnL book has them all); each check is a limit
buy that passes every rule (the slowest case: no rule stops early). The baseline, measured in the
same run, is building the `OrderIntent` the order manager journals anyway, so compare the ratio.

    .venv/bin/python benchmarks/risk_check.py                  # 20000 orders, 20 open, 20000 checks
    .venv/bin/python benchmarks/risk_check.py --orders 2000 --checks 5000
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from nonstop.clock import LiveClock
from nonstop.model import (
    ClientOrderId,
    EngineState,
    InstrumentId,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.risk import OrderProposal, RiskSettings
from nonstop.risk.gate import PreTradeRisk

BTC = InstrumentId("binance-a", "BTC/USDT")
MID = Decimal("60000")


def busy_state(orders: int, open_orders: int) -> EngineState:
    state = EngineState()
    now = datetime.now(UTC)
    for n in range(1, orders + 1):
        cid = ClientOrderId.build("a1", "mm", n)
        side = Side.BUY if n % 2 else Side.SELL
        price = MID - 30 if side is Side.BUY else MID + 30  # never crossing the probe below
        state.apply(OrderIntent(ts=now, client_order_id=cid, instrument_id=BTC, side=side, order_type=OrderType.LIMIT,
                                quantity=Decimal("0.001"), price=price))
        state.apply(OrderSubmitted(ts=now, client_order_id=cid))
        state.apply(OrderAccepted(ts=now, client_order_id=cid, venue_order_id=VenueOrderId(str(n))))
        if n <= orders - open_orders:
            state.apply(OrderFilled(ts=now, client_order_id=cid, trade_id=TradeId(str(n)), price=price,
                                    quantity=Decimal("0.001"), fee=Decimal("0.01"), fee_asset="USDT"))
    return state


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"p50_us": round(statistics.median(xs) * 1e6, 2), "p99_us": round(xs[int(len(xs) * 0.99)] * 1e6, 2),
            "mean_us": round(statistics.fmean(xs) * 1e6, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--open", type=int, default=20)
    ap.add_argument("--checks", type=int, default=20_000)
    args = ap.parse_args()
    state = busy_state(args.orders, args.open)
    settings = RiskSettings(max_open_orders=args.open + 5, max_orders_per_second=None, max_orders_per_minute=None,
                            daily_loss_limit=Decimal("1000000"), max_position_notional=None,
                            max_total_position_notional=None)
    risk = PreTradeRisk(settings, state, LiveClock(), lambda _s: MID, instance="a1")
    probe = OrderProposal("mm", BTC, Side.BUY, Decimal("0.001"), MID - 10)
    assert risk.check(probe) is None, risk.check(probe)
    now = datetime.now(UTC)

    def baseline() -> None:
        OrderIntent(ts=now, client_order_id=ClientOrderId.build("a1", "mm", 1), instrument_id=BTC, side=Side.BUY,
                    order_type=OrderType.LIMIT, quantity=Decimal("0.001"), price=MID - 10)

    base = summary(timed(baseline, args.checks))
    checks = summary(timed(lambda: risk.check(probe), args.checks))
    print(json.dumps({
        "benchmark": "risk_check", "python": platform.python_version(), "machine": platform.machine(),
        "orders_in_state": args.orders, "open_orders": args.open, "checks": args.checks,
        "baseline_build_intent": base, "risk_check": checks,
        "ratio_p50": round(checks["p50_us"] / base["p50_us"], 1),
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
