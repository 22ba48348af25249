"""What the dashboard and the alert rules ask Prometheus for: their expressions, and the series
each selects (metric name and label names), read with a PromQL parser."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "observability"
PROMETHEUS = OBSERVABILITY / "prometheus"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "tao-dividends.json"
# Grafana's variables, as Prometheus would receive them.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h"}


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]  # the label names it matches on
    equal: frozenset[tuple[str, str]]  # its label="value" matchers


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("needs promtool (Debian's prometheus package: scripts/provision.sh install)")
    return found


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def dashboard_expressions() -> dict[str, str]:
    """Each panel target's expression, Grafana's variables filled in, by "panel / refId"."""
    found = {}
    for panel in panels():
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found[f"{panel['title']} / {target['refId']}"] = expr
    return found


def rule_expressions() -> dict[str, str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def selectors(expr: str) -> list[Selector]:
    """Every series selector in ``expr``."""
    found: list[Selector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = node.matchers.matchers
            equal = frozenset(
                (m.name, m.value) for m in matchers if m.op == promql_parser.MatchOp.Equal
            )
            found.append(Selector(str(node.name), frozenset(m.name for m in matchers), equal))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def scrape_jobs() -> set[str]:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}
