"""Figure rows for the benchmarks that do not put their own `"figures"` in their JSON yet.

`run_all.py` uses a benchmark's own rows when it has them (`benchkit.figure`), else the rows made
here from its JSON; a row whose keys are missing is left out (a benchmark changed its shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchkit import figure

Row = dict[str, str]


def _connectivity_failover(r: dict[str, Any]) -> list[Row]:
    ours, plain = r["nonstop"], r["plain_timeout_failover"]
    return [figure("read latency, primary endpoint black-holed (p50 / p99)",
                   f"{ours['p50_ms']} / {ours['p99_ms']} ms", f"timeout-and-retry client {plain['p50_ms']} / "
                   f"{plain['p99_ms']} ms", "routed around within one request", "")]


def _connectivity_ratelimit(r: dict[str, Any]) -> list[Row]:
    ours, ccxt = r["nonstop"], r["ccxt_default_throttler"]
    return [figure("rate limits: 429s / 418s, order queue wait p99 under full data load",
                   f"{ours['http_429']} / {ours['http_418']}, {ours['order_queue_wait_ms']['p99']} ms",
                   f"ccxt's throttler {ccxt['http_429']} / {ccxt['http_418']}, "
                   f"{ccxt['order_queue_wait_ms']['p99']} ms", "no 429/418 in normal operation", "")]


def _data_pipeline(r: dict[str, Any]) -> list[Row]:
    return [figure("ticks through feed → validator → consensus → strategy, one core",
                   f"{r['pipeline_ticks_per_s']:,} ticks/s", f"validator + strategy alone "
                   f"{r['validator_strategy_ticks_per_s']:,} ticks/s", "≥ 100k ticks/s", "")]


def _journal_ownership(r: dict[str, Any]) -> list[Row]:
    c = r["claim"]
    return [figure("journal ownership claim at start (median)", f"{c['ownership_claim']['median_ms']} ms",
                   f"a bare epoch claim {c['baseline_current_epoch_claim_epoch']['median_ms']} ms", "", "")]


def _journal_throughput(r: dict[str, Any]) -> list[Row]:
    t = r["throughput"]
    rows = [figure("journal: durable events/s, SQLite group commit, 64 concurrent appenders",
                   f"{t['sqlite-group']['concurrent']:,}",
                   f"one appender at a time {t['sqlite-group']['sequential']:,}",
                   "", "the recorder's own figure: recorder_throughput")]
    for workload, rp in r["replay_sqlite"].items():  # all_filled, market_making: one row each
        goals = rp["goals"]
        verdict = "; ".join(f"{name}: {'met' if g['met'] else 'not met'}" for name, g in goals.items())
        rows.append(figure(
            f"replay of {rp['events']:,} events, SQLite, {workload.replace('_', ' ')} (full / from a snapshot)",
            f"{rp['full_replay_s']} s ({rp['full_replay_events_per_s']:,} ev/s) / {rp['replay_from_snapshot_s']} s",
            f"snapshot write {rp['snapshot_write_s']} s ({rp['snapshot_bytes']:,} bytes); read + checksums floor "
            f"{goals['full_replay_events_per_s']['floor_us_per_record']} µs a record",
            "full ≥ 100k ev/s; < 2 s from a snapshot", verdict))
    return rows


def _recovery_after_outage(r: dict[str, Any]) -> list[Row]:
    return [figure("venue back after a connection-refused start → first order (median)",
                   f"{r['venue_back_to_first_order_s']['median']} s",
                   f"normal start → first order {r['baseline_start_to_first_order_s']['median']} s", "", "")]


def _risk_check(r: dict[str, Any]) -> list[Row]:
    return [figure("pre-trade risk check (p50)", f"{r['risk_check']['p50_us']} µs",
                   f"building the intent {r['baseline_build_intent']['p50_us']} µs", "", "")]


def _routing(r: dict[str, Any]) -> list[Row]:
    return [figure("routing decision (median)", f"{r['route_decision_us']['median']} µs",
                   f"pure decision {r['baseline_pure_decide_us']['median']} µs", "", ""),
            figure("venue down → first order on the other venue (median)",
                   f"{r['venue_down_to_first_order_elsewhere_s']['median']} s",
                   f"the strategy's own order interval {r['baseline_interval_between_routed_orders_s']['median']} s",
                   "", "")]


def _sim_market_realism(r: dict[str, Any]) -> list[Row]:
    m, t = r["default_market"], r["target"]
    return [figure("simulator market: spread (ticks), taker trade median (USDT)",
                   f"{m['spread_ticks_median']}, {m['taker_trade_usdt_median']}",
                   f"Binance BTC/USDT {t['spread_ticks_median']}, {t['taker_trade_usdt_median']}", "", "")]


def _takeover(r: dict[str, Any]) -> list[Row]:
    return [figure("HA: leader SIGKILLed → first order of the new leader (median / max)",
                   f"{r['takeover_s']['median']} / {r['takeover_s']['max']} s",
                   f"single engine restarted {r['baseline_single_restart']['restart_s']['median']} s", "", "")]


def _trader_view(r: dict[str, Any]) -> list[Row]:
    c = r["console_report"]
    return [figure("console report cost per journaled event", f"{c['fold_plus_report_us_per_event']} µs",
                   f"the fold alone {c['baseline_fold_us_per_event']} µs", "", "")]


def _ws_snapshot_storm(r: dict[str, Any]) -> list[Row]:
    ours, base = r["nonstop"], r["baseline"]
    return [figure("order-book websockets under a 429 storm with drops: 429s / 418s",
                   f"{ours['http_429']} / {ours['http_418']}", f"unmodified ccxt.pro {base['http_429']} / "
                   f"{base['http_418']}", "no 418", "")]


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "connectivity_failover": _connectivity_failover,
    "connectivity_ratelimit": _connectivity_ratelimit,
    "data_pipeline": _data_pipeline,
    "journal_ownership": _journal_ownership,
    "journal_throughput": _journal_throughput,
    "recovery_after_outage": _recovery_after_outage,
    "risk_check": _risk_check,
    "routing": _routing,
    "sim_market_realism": _sim_market_realism,
    "takeover": _takeover,
    "trader_view": _trader_view,
    "ws_snapshot_storm": _ws_snapshot_storm,
}


def rows_for(name: str, result: dict[str, Any]) -> list[Row]:
    """Rows made from `result` for benchmark `name`; [] when none are known or its keys moved."""
    make = ROWS.get(name)
    if make is None:
        return []
    try:
        return make(result)
    except (KeyError, TypeError, ValueError):
        return []
