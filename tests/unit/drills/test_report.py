"""The scorecard files: JSON, Markdown, and HTML with every plot embedded (opens offline)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

from nonstop.drills.evidence import Fill, JournalEvidence
from nonstop.drills.report import plot_run, write_reports
from nonstop.drills.scorecard import Sample

RUN = {"repeat": 0, "fault_start": 100.0, "fault_end": 110.0, "ended": 125.0, "detect_s": 0.4, "recover_s": 6.0,
       "unmanaged_position_s": 9.5, "orders_during_fault": 2, "venue_orders_during_fault": 0,
       "fills_during_fault": 0, "in_doubt": 1, "venue_answers": {"http_429": 0, "http_418": 0},
       "duplicates": [], "lost_fills": [], "balance_difference": {},
       "alerts": [{"t": 100.4, "key": "breaker_open:venue:binance-a", "level": "critical", "transition": "raised"}],
       "checks": {"no_duplicates": True}, "passed": True, "note": ""}


def scenario(name: str, passed: bool) -> dict[str, object]:
    return {"name": name, "summary": f"{name} summary", "detect_s": {"median": 0.4, "max": 0.4},
            "recover_s": {"median": 6.0, "max": 6.0}, "unmanaged_position_s": {"median": 9.5, "max": 9.5},
            "duplicates": 0, "lost_fills": 0, "passed": passed,
            "failed_checks": [] if passed else ["balances_match"], "runs": [RUN]}


def test_write_reports_table_plots_embedded_and_failures_named(tmp_path: Path) -> None:
    samples = [Sample(95.0 + i, up=i not in (8, 9), phase="trading", level="normal" if i < 6 or i > 20 else "halted",
                      price=Decimal(60000 + i)) for i in range(30)]
    journal = JournalEvidence(accepted=[(97.0, Decimal("60001"), "BUY"), (118.0, Decimal("60020"), "SELL")],
                              fills=[Fill(98.0, "7", "ns-a1-mm-1", "BUY", Decimal("60001"), Decimal("0.001"),
                                          Decimal("0"), "BTC")])
    for name in ("venue_down", "self_test"):
        plot_run(tmp_path / "plots" / f"{name}.png", name, RUN, samples, journal)
    report = {"started": "s", "finished": "f", "seed": 1, "repeat": 1, "passed": False,
              "scenarios": [scenario("venue_down", True), scenario("self_test", False)],
              "skipped": [{"name": "leader_takeover", "needs": "HA"}],
              "drill": {"duplicates": [], "lost_fills": [], "balance_difference": {"BTC": "0.001"}, "orders": 2,
                        "fills": 1}}
    write_reports(tmp_path, report)
    assert json.loads((tmp_path / "report.json").read_text())["passed"] is False
    md = (tmp_path / "report.md").read_text()
    assert "| venue_down | 0.40 / 0.40 | 6.00 / 6.00 | 9.50 / 9.50 | 0 | 0 | PASS |" in md
    assert "FAIL balances_match" in md and "needs HA" in md and "breaker_open:venue:binance-a" in md
    page = (tmp_path / "report.html").read_text()
    images = page.split("src='data:image/png;base64,")[1:]
    assert len(images) == 2
    for img in images:
        assert base64.b64decode(img.split("'", 1)[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http" not in page.replace("http_4", "")  # nothing to fetch: it opens offline
