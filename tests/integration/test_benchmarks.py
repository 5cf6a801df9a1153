"""The benchmarks' contract: each prints its JSON alone on stdout (logs on stderr), has a small
(`--quick`) run, and `run_all.py` collects them into one JSON file and one markdown table.
Timings are never asserted: only that the figures exist and parse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import run_all  # noqa: E402  (benchmarks/ is not a package)


def test_every_benchmark_has_a_quick_run() -> None:
    missing = [s.stem for s in run_all.benchmarks() if run_all.quick_args(s) is None]
    assert not missing, f"give these a QUICK_ARGS list (module level, or run_all.QUICK_ARGS): {missing}"


@pytest.mark.slow
def test_order_path_prints_json_alone_and_run_all_tabulates_it(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "order_path", "--only", "risk_check",
         "--out", str(tmp_path), "--timeout", "240"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert json.loads(proc.stdout) == results
    entry = results["benchmarks"]["order_path"]
    assert entry["ok"], entry.get("error")  # its stdout parsed as one JSON document
    order_path = entry["result"]
    parts = order_path["breakdown"]["components_ms"]
    for name in ("journal_append_waited", "risk_check", "limiter", "pool_and_gateway", "signing",
                 "request_building", "http_round_trip_shared_with_bare", "ccxt_unified_parse", "adapter_parse",
                 "other"):
        assert name in parts
    assert parts["ccxt_unified_parse"] == 0  # the hot path reads Binance's raw answer
    for key in ("nonstop_place", "bare_ccxt_create_order", "nonstop_place_ws_api", "durable_append_floor"):
        assert order_path[key]["median_ms"] > 0
    table = (tmp_path / "figures.md").read_text()
    assert "| `order_path` | order path: `OrderManager.place` vs bare ccxt `create_order` (median) |" in table
    assert "| `risk_check` |" in table


@pytest.mark.slow
def test_the_journal_benchmark_is_tabulated_with_its_replay_goals(tmp_path: Path) -> None:
    script = BENCH / "journal_throughput.py"
    args = run_all.quick_args(script)
    assert args is not None
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import figure_rows

    rows = figure_rows.rows_for("journal_throughput", json.loads(proc.stdout))
    replays = [r for r in rows if r["figure"].startswith("replay of")]
    assert len(replays) == 2 and all("from_snapshot_s: " in r["verdict"] for r in replays), rows


def test_run_all_puts_its_table_between_the_readme_markers_and_keeps_other_rows(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{run_all.START}\n| benchmark | figure |\n|---|---|\n| `other` | kept | a | b | c | d |\n"
                      f"| `order_path` | stale | a | b | c | d |\n{run_all.END}\n\nafter\n")
    result = {"benchmark": "order_path", "figures": [
        {"figure": "fresh", "ours": "1 ms", "baseline": "2 ms", "goal": "g", "verdict": "met"}]}
    results = {"at": "now", "machine": "m", "mode": "full",
               "benchmarks": {"order_path": {"ok": True, "result": result}}}
    run_all.update_readme(readme, results)
    text = readme.read_text()
    assert "| `order_path` | fresh | 1 ms | 2 ms | g | met |" in text and "stale" not in text
    assert "| `other` | kept |" in text and text.startswith("# x") and text.endswith("after\n")
