"""The Prometheus configuration and alert rules, checked and unit-tested with promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.observability.promql import (
    PROMETHEUS,
    promtool,
    rule_expressions,
    scrape_jobs,
    selectors,
)


def run(*args: str | Path, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - promtool with fixed arguments
        [promtool(), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_prometheus_configuration_is_valid() -> None:
    """`promtool check config`: the scrape jobs and the rule files it names."""
    result = run("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_the_alert_rules_are_valid() -> None:
    result = run("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in result.stdout


def test_the_alert_rules_pass_their_unit_tests() -> None:
    """`promtool test rules alerts_test.yml`: each alert fires when it should, and only then."""
    result = run("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test() -> None:
    tested = set((PROMETHEUS / "alerts_test.yml").read_text().split("alertname: ")[1:])
    assert {line.split()[0] for line in tested} == set(rule_expressions())


def test_a_rule_test_expecting_the_wrong_alert_fails(tmp_path: Path) -> None:
    """promtool does fail a wrong expectation, so the pass above means something."""
    (tmp_path / "alerts.yml").write_text((PROMETHEUS / "alerts.yml").read_text())
    (tmp_path / "wrong_test.yml").write_text(
        """rule_files: [alerts.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'taodiv_stream_lag{stream="s", group="g"}'
        values: '20x10'
    alert_rule_test:
      - eval_time: 8m
        alertname: StreamLagHigh
        exp_alerts:
          - exp_labels: {severity: warning, stream: s, group: g}
"""
    )
    result = run("test", "rules", "wrong_test.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert "StreamLagHigh" in result.stdout + result.stderr


def test_the_jobs_the_rules_watch_are_scraped() -> None:
    """An alert on `up{job="x"}` needs a scrape job named x, or it would fire forever."""
    watched = {
        value
        for expr in rule_expressions().values()
        for selector in selectors(expr)
        if selector.metric == "up"
        for label, value in selector.equal
        if label == "job"
    }
    assert watched == scrape_jobs()
