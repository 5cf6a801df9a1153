"""From what a drill recorded to the scorecard's figures: one result per scenario run, their
median and max over repeats, and the drill-wide checks (duplicates, lost fills, balances)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nonstop.drills import scorecard
from nonstop.drills.evidence import JournalEvidence, SimEvidence
from nonstop.drills.runner import DrillRun, RunRecord
from nonstop.drills.scenarios import Scenario


@dataclass
class RunResult:
    record: RunRecord
    detect_s: float | None
    recover_s: float | None
    unmanaged_s: float
    orders_during: int
    venue_orders_during: int
    fills_during: int
    in_doubt: int
    duplicates: list[str]
    lost_fills: list[str]
    balance_difference: dict[str, Decimal]
    alerts: list[dict[str, Any]]
    foreign_trades: list[dict[str, Any]]  # trades on the account of orders not ours: what explains a balance drift
    verdict: scorecard.Verdict
    other_venue_orders_during: dict[str, int]  # orders of ours the other trading venues accepted during the fault

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "repeat": r.repeat,
            "fault_start": r.fault_start,
            "fault_end": r.fault_end,
            "ended": r.ended,
            "detect_s": self.detect_s,
            "recover_s": self.recover_s,
            "unmanaged_position_s": self.unmanaged_s,
            "orders_during_fault": self.orders_during,
            "venue": r.venue or None,  # the venue the fault hit, when not the drill's watched venue
            "venue_orders_during_fault": self.venue_orders_during,
            "other_venue_orders_during_fault": self.other_venue_orders_during,
            "fills_during_fault": self.fills_during,
            "in_doubt": self.in_doubt,
            "venue_answers": r.counters,
            "duplicates": self.duplicates,
            "lost_fills": self.lost_fills,
            "balance_difference": {a: str(v) for a, v in self.balance_difference.items()},
            "alerts": self.alerts,
            "foreign_trades": self.foreign_trades,
            "checks": self.verdict.checks,
            "passed": self.verdict.passed,
            "note": r.note,
        }


def measure_run(drill: DrillRun, record: RunRecord, journal: JournalEvidence, sim: SimEvidence) -> RunResult:
    lo, hi, end = record.fault_start, record.fault_end, record.ended
    samples = [s for s in drill.observer.samples if lo - 1.0 <= s.t <= end]
    scenario = record.scenario
    if scenario.action in ("sigkill", "takeover"):  # nobody sees its own death: detection is a live engine again
        detect = round(record.back_up - lo, 3) if record.back_up is not None else None
    else:
        detect = scorecard.detect_after(lo, end, samples, journal.marks)
    recover = scorecard.recover_after(hi, samples, [t for t, _, _ in journal.accepted])
    blocked = [(lo, hi)] if scenario.blocks_venue else []
    unmanaged = scorecard.unmanaged_seconds(samples, blocked)
    window_cids = {str(o["client_order_id"]) for o in sim.orders if lo * 1000 <= o["time"] <= end * 1000}
    duplicates = sorted(c for c in sim.duplicates if c in window_cids)
    journal_ids = {f.trade_id for f in journal.fills if f.venue == drill.venue}
    lost = scorecard.lost_fills(sim.trade_ids_of(drill.prefix, lo * 1000, end * 1000), journal_ids)
    for name, (_, other) in drill.others.items():
        lost += scorecard.lost_fills(other.trade_ids_of(drill.prefix, lo * 1000, end * 1000),
                                     {f.trade_id for f in journal.fills if f.venue == name})
    diff: dict[str, Decimal] = {}
    if record.checkpoint is not None:
        base, quote = drill.settings.engine.strategy.symbol.split("/")
        included = [
            (f.side, f.price, f.quantity, f.fee, f.fee_asset)
            for f in journal.fills
            if f.venue == drill.venue and f.trade_id in record.checkpoint.trade_ids
        ]
        diff = scorecard.balance_difference(
            drill.start_balances, scorecard.fills_delta(included, base, quote), record.checkpoint.balances
        )
    checks = scorecard.verdict(
        duplicates=len(duplicates), lost=len(lost), detect_s=detect, recover_s=recover, must_detect=scenario.must_detect
    )
    checks.checks["balances_match"] = not diff
    checks.checks["not_banned"] = record.counters.get("http_418", 0) == 0  # 418: Retry-After was ignored
    faulted = record.venue or drill.venue  # the venue the fault hit (the one our quotes rested on)
    records = {drill.venue: sim, **{name: other for name, (_, other) in drill.others.items()}}
    elsewhere = {name: sum(1 for o in rec.orders if lo * 1000 <= o["time"] <= hi * 1000 and o["order_id"] is not None
                           and str(o["client_order_id"]).startswith(drill.prefix))
                 for name, rec in records.items() if name != faulted}
    if scenario.requires == "two_venues":  # new orders went to the venue still up while the other was down
        checks.checks["traded_elsewhere"] = sum(elsewhere.values()) > 0
    ours = {o["order_id"] for o in sim.orders if str(o["client_order_id"]).startswith(drill.prefix)}
    foreign = [t for t in sim.trades if t["orderId"] not in ours and lo * 1000 <= int(t["time"]) <= end * 1000]
    alerts = [{"t": t, "key": k, "level": lvl, "transition": tr} for t, k, lvl, tr in journal.alerts if lo <= t <= end]
    return RunResult(
        record,
        detect,
        recover,
        unmanaged,
        orders_during=sum(1 for t in journal.submitted if lo <= t <= hi),
        venue_orders_during=sum(
            1
            for o in records.get(faulted, sim).orders
            if lo * 1000 <= o["time"] <= hi * 1000 and str(o["client_order_id"]).startswith(drill.prefix)
        ),
        fills_during=sum(1 for f in journal.fills if lo <= f.t <= hi),
        in_doubt=sum(1 for t in journal.in_doubt if lo <= t <= end),
        duplicates=duplicates,
        lost_fills=lost,
        balance_difference=diff,
        alerts=alerts,
        foreign_trades=foreign,
        verdict=checks,
        other_venue_orders_during=elsewhere,
    )


def scenario_summary(scenario: Scenario, results: list[RunResult]) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "summary": scenario.summary,
        "detect_s": scorecard.spread([r.detect_s for r in results]),
        "recover_s": scorecard.spread([r.recover_s for r in results]),
        "unmanaged_position_s": scorecard.spread([r.unmanaged_s for r in results]),
        "duplicates": sum(len(r.duplicates) for r in results),
        "lost_fills": sum(len(r.lost_fills) for r in results),
        "passed": all(r.verdict.passed for r in results),
        "failed_checks": sorted({c for r in results for c in r.verdict.failed}),
        "runs": [r.to_dict() for r in results],
    }


def drill_checks(drill: DrillRun, journal: JournalEvidence, sim: SimEvidence) -> dict[str, Any]:
    """Over the whole drill, after the engine's clean stop, on every trading venue."""
    base, quote = drill.settings.engine.strategy.symbol.split("/")
    venues = {drill.venue: (drill.start_balances, sim), **drill.others}
    duplicates: list[str] = []
    lost: list[str] = []
    diffs: dict[str, dict[str, str]] = {}
    for name, (start, records) in venues.items():
        fills = [f for f in journal.fills if f.venue == name]
        moved = scorecard.fills_delta([(f.side, f.price, f.quantity, f.fee, f.fee_asset) for f in fills], base, quote)
        diff = scorecard.balance_difference(start, moved, records.balances)
        if diff:
            diffs[name] = {a: str(v) for a, v in diff.items()}
        lost += scorecard.lost_fills(records.trade_ids_of(drill.prefix), {f.trade_id for f in fills})
        duplicates += sorted(records.duplicates)
    return {
        "duplicates": duplicates,
        "lost_fills": lost,
        # the watched venue's difference by asset (as before); every venue's under "balance_difference_by_venue"
        "balance_difference": diffs.get(drill.venue, {}),
        "balance_difference_by_venue": diffs,
        "orders": len(journal.submitted),
        "fills": len(journal.fills),
        "engine_stop_exit_code": drill.final_stop_rc,
        "passed": not duplicates and not lost and not diffs,
    }
