"""The scorecard on disk: `report.json`, a self-contained `report.html` (plots embedded as PNG
data URIs, so it opens offline), `report.md`, and one `plots/<scenario>.png` per scenario.

Plots are drawn with matplotlib (the Agg backend: no display needed): per scenario, the price,
our accepted orders and fills, the fault window, the detection and recovery marks, and the
degradation level on a second axis.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nonstop.drills.evidence import JournalEvidence
from nonstop.drills.scorecard import Sample

LEVELS = ("normal", "reduced_data", "fallback_strategy", "reduce_only", "halted")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def plot_run(path: Path, title: str, run: dict[str, Any], samples: list[Sample], journal: JournalEvidence) -> None:
    lo, hi, end = run["fault_start"], run["fault_end"], run["ended"]
    t0 = lo - 6.0
    in_view = [s for s in samples if t0 <= s.t <= end]
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    prices = [(s.t - lo, float(s.price)) for s in in_view if s.price is not None]
    if prices:
        ax.plot(*zip(*prices, strict=True), color="#555", lw=1, label="price")
    for side, color, marker in (("BUY", "#1f77b4", "^"), ("SELL", "#d62728", "v")):
        pts = [
            (t - lo, float(p))
            for t, p, sd in journal.accepted
            if t0 <= t <= end and p is not None and sd.upper() == side
        ]
        if pts:
            ax.scatter(
                *zip(*pts, strict=True), s=14, color=color, marker=marker, alpha=0.6, label=f"our {side.lower()}s"
            )
    fills = [(f.t - lo, float(f.price)) for f in journal.fills if t0 <= f.t <= end]
    if fills:
        ax.scatter(*zip(*fills, strict=True), s=40, facecolors="none", edgecolors="#2ca02c", label="fills")
    ax.axvspan(0, hi - lo, color="#ff7f0e", alpha=0.15, label="fault")
    if run["detect_s"] is not None:
        ax.axvline(run["detect_s"], color="#ff7f0e", ls="--", lw=1.2, label=f"detected +{run['detect_s']:.2f} s")
    if run["recover_s"] is not None:
        ax.axvline(
            hi - lo + run["recover_s"],
            color="#2ca02c",
            ls="--",
            lw=1.2,
            label=f"recovered +{run['recover_s']:.2f} s after clear",
        )
    ax.set_xlabel("seconds from the fault's start")
    ax.set_ylabel("price")
    ax2 = ax.twinx()
    steps = [(s.t - lo, LEVELS.index(s.level) if s.level in LEVELS else None) for s in in_view]
    ax2.step(
        [t for t, v in steps if v is not None],
        [v for _, v in steps if v is not None],
        where="post",
        color="#9467bd",
        lw=1,
        alpha=0.8,
    )
    down = [t for t, s in ((s.t - lo, s) for s in in_view) if not s.up]
    if down:
        ax2.scatter(down, [len(LEVELS) - 0.5] * len(down), marker="|", color="#000", s=30, label="engine down")
    ax2.set_ylim(-0.5, len(LEVELS))
    ax2.set_yticks(range(len(LEVELS)), LEVELS, fontsize=7, color="#9467bd")
    ax.set_title(title, fontsize=10)
    handles = ax.get_legend_handles_labels()
    extra = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="upper left", ncols=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def details(run: dict[str, Any]) -> str:
    """One run's figures in a line: what happened during the fault and what went out."""
    raised = sorted({a["key"] for a in run["alerts"] if a["transition"] in ("raised", "escalated", "reopened")})
    answers = run.get("venue_answers", {})
    return (f"run {run['repeat'] + 1}: detect {_fmt(run['detect_s'])} s, recover {_fmt(run['recover_s'])} s, "
            f"unmanaged {_fmt(run['unmanaged_position_s'])} s; during the fault: {run['orders_during_fault']} orders "
            f"submitted, {run['venue_orders_during_fault']} received by the venue, {run['fills_during_fault']} fills; "
            f"{run['in_doubt']} in doubt; venue answered 429 x{answers.get('http_429', 0)}, "
            f"418 x{answers.get('http_418', 0)}; balance difference {run['balance_difference'] or 0}; "
            + "".join(f"{n} orders on {v}; " for v, n in run.get("other_venue_orders_during_fault", {}).items()) +
            f"alerts: {', '.join(raised) or 'none'}" + (f"; {run['note']}" if run["note"] else ""))


def balance_text(drill: dict[str, Any]) -> str:
    """The drill-wide balance difference: the watched venue's, or every venue's when there are several."""
    by_venue = drill.get("balance_difference_by_venue") or {}
    if len(by_venue) > 1 or (by_venue and not drill["balance_difference"]):
        return str(by_venue)
    return str(drill["balance_difference"] or 0)


def row(s: dict[str, Any]) -> list[str]:
    d, r, u = s["detect_s"], s["recover_s"], s["unmanaged_position_s"]
    return [
        s["name"],
        f"{_fmt(d['median'])} / {_fmt(d['max'])}",
        f"{_fmt(r['median'])} / {_fmt(r['max'])}",
        f"{_fmt(u['median'])} / {_fmt(u['max'])}",
        str(s["duplicates"]),
        str(s["lost_fills"]),
        "PASS" if s["passed"] else "FAIL " + ", ".join(s["failed_checks"]),
    ]


HEAD = [
    "scenario",
    "detect s (median / max)",
    "recover s (median / max)",
    "unmanaged s (median / max)",
    "duplicates",
    "lost fills",
    "verdict",
]


def write_reports(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    rows = [row(s) for s in report["scenarios"]]
    md = [
        "# nonstop drill: resilience scorecard",
        "",
        f"{report['started']} → {report['finished']} · seed {report['seed']} · repeat {report['repeat']} · "
        f"verdict **{'PASS' if report['passed'] else 'FAIL'}**",
        "",
        "| " + " | ".join(HEAD) + " |",
        "|" + "---|" * len(HEAD),
    ]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += [
        "",
        f"Drill-wide, after the engine's clean stop: duplicates {len(report['drill']['duplicates'])}, "
        f"lost fills {len(report['drill']['lost_fills'])}, balance difference "
        f"{balance_text(report['drill'])}, orders {report['drill']['orders']}, "
        f"fills {report['drill']['fills']}.",
    ]
    for skipped in report["skipped"]:
        md.append(f"- skipped `{skipped['name']}`: needs {skipped['needs']}")
    for s in report["scenarios"]:
        md += ["", f"## {s['name']}", "", s["summary"], ""] + [f"- {details(r)}" for r in s["runs"]]
        md += ["", f"![{s['name']}](plots/{s['name']}.png)"]
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    def cell(v: str, tag: str = "td") -> str:
        cls = ' class="fail"' if v.startswith("FAIL") else (' class="pass"' if v == "PASS" else "")
        return f"<{tag}{cls}>{html.escape(v)}</{tag}>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>nonstop drill scorecard</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}.pass{color:#186a18;font-weight:bold}"
        ".fail{color:#b00;font-weight:bold}img{max-width:100%}",
        "</style></head><body><h1>nonstop drill: resilience scorecard</h1>",
        f"<p>{html.escape(report['started'])} → {html.escape(report['finished'])} · seed {report['seed']} · "
        f"repeat {report['repeat']} · verdict <b id='verdict'>{'PASS' if report['passed'] else 'FAIL'}</b></p>",
        "<table id='summary'><tr>" + "".join(cell(h, "th") for h in HEAD) + "</tr>",
    ]
    parts += ["<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows]
    parts.append("</table>")
    d = report["drill"]
    parts.append(
        f"<p>Drill-wide, after the engine's clean stop: duplicates {len(d['duplicates'])}, lost fills "
        f"{len(d['lost_fills'])}, balance difference {html.escape(balance_text(d))}.</p>"
    )
    for skipped in report["skipped"]:
        parts.append(
            f"<p>skipped <code>{html.escape(skipped['name'])}</code>: needs {html.escape(skipped['needs'])}</p>"
        )
    for s in report["scenarios"]:
        png = out / "plots" / f"{s['name']}.png"
        data = base64.b64encode(png.read_bytes()).decode() if png.exists() else ""
        parts.append(
            f"<h2>{html.escape(s['name'])}</h2><p>{html.escape(s['summary'])}</p>"
            f"<img class='plot' alt='{html.escape(s['name'])} timeline' src='data:image/png;base64,{data}'>"
        )
    parts.append("</body></html>")
    (out / "report.html").write_text("\n".join(parts), encoding="utf-8")
