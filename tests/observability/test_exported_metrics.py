"""Every metric the dashboard and the alert rules name is exported, by the process they expect:
the whole service runs as processes (the ``stack`` fixture), carries a trade, and each process's
/metrics is scraped as Prometheus would."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import HOTKEY
from tests.observability.promql import (
    Selector,
    dashboard_expressions,
    rule_expressions,
    scrape_jobs,
    selectors,
)
from tests.stack_support import Stack, request_trade, wait_for_end

# Series Prometheus makes itself for each scrape, exported by no process.
SYNTHETIC = {"up"}
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}
# The sample names each metric type exposes.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "unknown": ("",),
}
# job -> sample name -> the label names of each of its series (none yet: declared, not observed)
Exported = dict[str, dict[str, list[frozenset[str]]]]


def scrape(stack: Stack) -> Exported:
    exported: Exported = {}
    for job, url in stack.metrics.items():
        names: dict[str, list[frozenset[str]]] = {}
        for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
            for suffix in SUFFIXES[family.type]:
                names.setdefault(family.name + suffix, [])
            for sample in family.samples:
                names[sample.name].append(frozenset(sample.labels))
        exported[job] = names
    return exported


def carry_a_trade(stack: Stack) -> None:
    """One trade to its end, so every labelled series a trade touches exists."""
    trade = wait_for_end(stack, request_trade(stack, HOTKEY))
    assert trade["state"] == "executed", trade


def problems(where: str, selector: Selector, exported: Exported) -> list[str]:
    """What is wrong with ``selector``: a name no process declares, a job it names that has no
    such series, a label no series of it has."""
    name = selector.metric
    if name in SYNTHETIC:
        return []
    if not any(name in names for names in exported.values()):
        return [f"{where}: {name} is exported by no process"]
    jobs = [value for label, value in selector.equal if label == "job"] or list(exported)
    series = [labels for job in jobs for labels in exported.get(job, {}).get(name, [])]
    if not series and (selector.labels - TARGET_LABELS or len(jobs) < len(exported)):
        return [f"{where}: {name} has no series from {', '.join(jobs)}"]
    missing = selector.labels - TARGET_LABELS - frozenset().union(*series)
    return [f"{where}: {name} has no label {sorted(missing)}"] if missing else []


def test_every_metric_the_dashboard_and_the_rules_name_is_exported(stack: Stack) -> None:
    carry_a_trade(stack)
    exported = scrape(stack)
    assert set(exported) == scrape_jobs()  # one scrape job per process, named alike
    expressions = {**dashboard_expressions(), **rule_expressions()}
    found = [
        problem
        for where, expr in expressions.items()
        for selector in selectors(expr)
        for problem in problems(where, selector, exported)
    ]
    assert found == []


def test_a_metric_nobody_exports_is_caught(stack: Stack) -> None:
    """The check above does fail: a panel on a misspelt metric or label is reported."""
    exported = scrape(stack)
    [misspelt] = selectors('rate(taodiv_trade_total{result="failed"}[5m])')
    [wrong_label] = selectors('taodiv_trades_total{outcome="failed"}')
    [wrong_job] = selectors('taodiv_trades_total{job="gateway"}')
    assert problems("p", misspelt, exported) == ["p: taodiv_trade_total is exported by no process"]
    assert problems("p", wrong_label, exported) == [
        "p: taodiv_trades_total has no label ['outcome']"
    ]
    assert problems("p", wrong_job, exported) == [
        "p: taodiv_trades_total has no series from gateway"
    ]
