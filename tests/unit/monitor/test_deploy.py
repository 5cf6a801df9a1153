"""deploy/: the Prometheus rules and the Grafana dashboard use only metric names and labels that
`nonstop.monitor.Metrics` exports, and together cover every family; the systemd unit restarts on failure."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from nonstop.monitor import Metrics

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
RULES = DEPLOY / "prometheus" / "nonstop-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "nonstop-dashboard.json"
UNIT = DEPLOY / "systemd" / "nonstop.service"

_NAME = re.compile(r"\b(nonstop_[a-z0-9_]+)\b")
_SELECTOR = re.compile(r"\b(nonstop_[a-z0-9_]+)\{([^}]*)\}")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum", "_created")}
# labels Prometheus itself adds, or histograms carry
_EXTRA_LABELS = {"instance", "job", "le"}


def exported() -> dict[str, set[str]]:
    """Every sample name the registry can expose -> its label names (read from the metric objects,
    so label sets with no samples yet count too)."""
    out: dict[str, set[str]] = {}
    for value in vars(Metrics()).values():
        if isinstance(value, MetricWrapperBase):
            for suffix in _SUFFIXES[value._type]:
                out[value._name + suffix] = set(value._labelnames)
    return out


def rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_deploy_metric_names_exist_in_registry(source: str) -> None:
    exprs = rule_exprs() if source == "rules" else dashboard_exprs()
    names = exported()
    used = {n for e in exprs for n in _NAME.findall(e)}
    assert used, "no nonstop metric found: the check would be vacuous"
    assert sorted(used - set(names)) == []


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_deploy_labels_exist_on_their_metrics(source: str) -> None:
    exprs = rule_exprs() if source == "rules" else dashboard_exprs()
    names = exported()
    problems = []
    for expr in exprs:
        for name, inner in _SELECTOR.findall(expr):
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", inner):
                if label not in names.get(name, set()) | _EXTRA_LABELS:
                    problems.append(f"{name}{{{label}}}")
        metrics_in_expr = _NAME.findall(expr)
        for group in _BY.findall(expr):
            for label in (x.strip() for x in group.split(",") if x.strip()):
                if not any(label in names.get(m, set()) | _EXTRA_LABELS for m in metrics_in_expr):
                    problems.append(f"by ({label}) in {expr[:60]}")
    assert problems == []


def test_deploy_every_metric_family_is_charted_or_alerted() -> None:
    families = {v._name for v in vars(Metrics()).values() if isinstance(v, MetricWrapperBase)}
    used = {n for e in rule_exprs() + dashboard_exprs() for n in _NAME.findall(e)}
    uncovered = {f for f in families if not any(u.startswith(f) for u in used)}
    assert uncovered == set()


def test_rules_are_well_formed() -> None:
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert len({r["alert"] for r in rules}) == len(rules)
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
        assert r["annotations"]["summary"], r["alert"]
        assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]


def test_dashboard_is_importable_grafana_json() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["panels"]
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in doc["panels"])


def test_systemd_unit_restarts_on_failure_and_stops_gracefully() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read_string(UNIT.read_text())
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert re.search(r"/nonstop run\b", service["ExecStart"])
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"].rstrip("s")) > 10  # the engine's stop cancels orders for up to 10 s
    assert unit["Install"]["WantedBy"] == "multi-user.target"
