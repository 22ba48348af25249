"""The Grafana dashboard: valid PromQL in every panel, on the provisioned datasource, laid out
without overlaps, and over every figure an operator watches."""

from __future__ import annotations

import subprocess
from itertools import combinations
from pathlib import Path

import yaml

from tests.observability.promql import (
    OBSERVABILITY,
    dashboard,
    dashboard_expressions,
    panels,
    promtool,
    selectors,
)

DATASOURCES = OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
# What the dashboard is for (issue 16): requests, latency and errors by route, the cache, the
# chain, each stream, hop durations, trades by outcome, staked amounts, and who is up.
WATCHED = {
    "taodiv_http_request_duration_seconds_count",
    "taodiv_http_request_duration_seconds_bucket",
    "taodiv_cache_hits_total",
    "taodiv_cache_misses_total",
    "taodiv_chain_call_duration_seconds_bucket",
    "taodiv_chain_failures_total",
    "taodiv_stream_length",
    "taodiv_stream_pending",
    "taodiv_stream_lag",
    "taodiv_stream_dead_letters",
    "taodiv_hop_duration_seconds_bucket",
    "taodiv_hop_duration_seconds_count",
    "taodiv_trades_total",
    "taodiv_stake_amount_tao_sum",
    "faststream_received_messages_in_process",
    "up",
}


def test_every_panel_expression_is_valid_promql(tmp_path: Path) -> None:
    """Each target, Grafana's variables filled in, passes promtool as a recording rule."""
    expressions = dashboard_expressions()
    rules = [
        {"record": f"dashboard:target_{n}", "expr": e} for n, e in enumerate(expressions.values())
    ]
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "d", "rules": rules}]})
    )
    result = subprocess.run(  # noqa: S603 - promtool with fixed arguments
        [promtool(), "check", "rules", "dashboard.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_the_dashboard_covers_what_an_operator_watches() -> None:
    named = {s.metric for expr in dashboard_expressions().values() for s in selectors(expr)}
    assert named == WATCHED


def test_every_panel_reads_the_provisioned_datasource() -> None:
    [source] = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    expected = {"type": source["type"], "uid": source["uid"]}
    for panel in panels():
        assert panel["datasource"] == expected, panel["title"]
        assert all(target["datasource"] == expected for target in panel["targets"])


def test_panels_have_unique_ids_titles_and_places() -> None:
    """Grafana keys panels by id; two panels on one spot of the 24-column grid would hide one."""
    everything = dashboard()["panels"]
    assert len({p["id"] for p in everything}) == len(everything)
    assert len({p["title"] for p in panels()}) == len(panels())
    boxes = [(p["title"], p["gridPos"]) for p in everything]
    for _title, box in boxes:
        assert box["x"] + box["w"] <= 24
    for (one, a), (other, b) in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"{one} overlaps {other}"


def test_every_panel_says_what_it_shows() -> None:
    for panel in panels():
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
