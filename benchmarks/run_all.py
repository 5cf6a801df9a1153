"""Run every benchmark in benchmarks/, one after the other; write one JSON file and a markdown table.

Each benchmark runs as its own process (`python benchmarks/<name>.py [args]`); its stdout must be
its JSON document alone (logs go to stderr, see `benchkit.py`). The table collects the `"figures"`
rows each benchmark puts in its JSON (`benchkit.figure`): the README's figures table is this
table, pasted from a real run. A benchmark without `figures` gets one row saying so.

    .venv/bin/python benchmarks/run_all.py                       # every benchmark, default sizes
    .venv/bin/python benchmarks/run_all.py --quick               # each benchmark's QUICK_ARGS (seconds)
    .venv/bin/python benchmarks/run_all.py --only order_path --only risk_check
    .venv/bin/python benchmarks/run_all.py --out artifacts/benchmarks   # where results.json/figures.md go

Progress goes to stderr; the JSON of the whole run is printed on stdout as well.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = frozenset({"run_all", "benchkit"})
# small runs (seconds) of the benchmarks that do not declare their own module-level QUICK_ARGS
QUICK_ARGS: dict[str, list[str]] = {
    "connectivity_failover": ["--episodes", "1", "--reads", "10", "--warmup", "5", "--max-seconds", "20"],
    "connectivity_ratelimit": ["--min-run", "10", "--pollers", "4"],
    "data_pipeline": ["--ticks", "5000", "--trials", "2"],
    "journal_ownership": ["--records", "5000", "--claims", "10"],
    "journal_throughput": ["--events", "300", "--replay-events", "20000", "--no-postgres"],
    "recovery_after_outage": ["--episodes", "1", "--outage", "3"],
    "risk_check": ["--orders", "2000", "--checks", "2000"],
    "routing": ["--episodes", "1", "--decisions", "200"],
    "sim_market_realism": ["--minutes", "2"],
    "takeover": ["--takeovers", "1", "--baseline-runs", "1"],
    "trader_view": ["--events", "2000", "--rounds", "1"],
    "ws_snapshot_storm": ["--storm", "3", "--drop-every", "1", "--after", "2"],
}


def benchmarks() -> list[Path]:
    """Every benchmark script here, by name."""
    return sorted(p for p in HERE.glob("*.py") if p.stem not in NOT_BENCHMARKS and not p.stem.startswith("_"))


def quick_args(script: Path) -> list[str] | None:
    """The script's module-level `QUICK_ARGS` list (read without importing it), else this file's
    entry for it, else None."""
    tree = ast.parse(script.read_text(), filename=str(script))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "QUICK_ARGS"
                                                for t in node.targets):
            value = ast.literal_eval(node.value)
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise ValueError(f"{script.name}: QUICK_ARGS must be a list of strings")
            return value
    return QUICK_ARGS.get(script.stem)


def run_one(script: Path, args: list[str], timeout_s: float) -> dict[str, Any]:
    """Run one benchmark; its parsed JSON, or the reason there is none."""
    started = time.monotonic()
    cmd = [sys.executable, str(script), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout_s:.0f} s", "args": args}
    elapsed = round(time.monotonic() - started, 1)
    entry: dict[str, Any] = {"args": args, "seconds": elapsed, "returncode": proc.returncode}
    if proc.returncode != 0:
        entry.update(ok=False, error=f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
        return entry
    try:
        entry.update(ok=True, result=json.loads(proc.stdout))
    except json.JSONDecodeError as err:
        entry.update(ok=False, error=f"stdout is not one JSON document ({err}): {proc.stdout[:300]!r}")
    return entry


def rows(name: str, entry: dict[str, Any]) -> list[dict[str, str]]:
    if not entry.get("ok"):
        return [{"figure": name, "ours": "—", "baseline": "—", "goal": "", "verdict": f"not run: {entry['error']}"}]
    found = entry["result"].get("figures") if isinstance(entry["result"], dict) else None
    if not found:
        return [{"figure": name, "ours": "see JSON", "baseline": "", "goal": "", "verdict": "no figures rows yet"}]
    return [{k: str(r.get(k, "")) for k in ("figure", "ours", "baseline", "goal", "verdict")} for r in found]


def markdown(results: dict[str, Any]) -> str:
    lines = ["| benchmark | figure | ours | baseline (same run) | goal | verdict |", "|---|---|---|---|---|---|"]
    for name, entry in results["benchmarks"].items():
        for r in rows(name, entry):
            cells = [f"`{name}`", r["figure"], r["ours"], r["baseline"], r["goal"], r["verdict"]]
            lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    lines.append("")
    lines.append(f"Measured {results['at']} on {results['machine']} ({results['mode']} run, "
                 f"`benchmarks/run_all.py{' --quick' if results['mode'] == 'quick' else ''}`).")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's QUICK_ARGS; skip those without")
    parser.add_argument("--only", action="append", default=[], help="a benchmark name (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE.parent / "artifacts" / "benchmarks")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    opts = parser.parse_args()
    scripts = benchmarks()
    unknown = set(opts.only) - {s.stem for s in scripts}
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {[s.stem for s in scripts]}")
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_version()}, {_cores()} cores",
        "mode": "quick" if opts.quick else "full",
        "benchmarks": {},
    }
    for script in scripts:
        if opts.only and script.stem not in opts.only:
            continue
        args = quick_args(script) if opts.quick else []
        if args is None:
            results["benchmarks"][script.stem] = {"ok": False, "skipped": True,
                                                  "error": "no QUICK_ARGS (skipped in --quick)"}
            continue
        print(f"run_all: {script.stem} {' '.join(args)}", file=sys.stderr, flush=True)
        results["benchmarks"][script.stem] = entry = run_one(script, args, opts.timeout)
        print(f"run_all: {script.stem} {'ok' if entry['ok'] else 'FAILED: ' + entry['error'][:200]}"
              f" ({entry.get('seconds', '?')} s)", file=sys.stderr, flush=True)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (opts.out / "figures.md").write_text(markdown(results))
    print(f"run_all: wrote {opts.out / 'results.json'} and {opts.out / 'figures.md'}", file=sys.stderr)
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 0 if all(e.get("ok") or e.get("skipped") for e in results["benchmarks"].values()) else 1


def _cores() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
