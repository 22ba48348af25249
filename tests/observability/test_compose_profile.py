"""compose.yaml's `observability` profile, checked without a Docker engine: Prometheus and
Grafana mount the files this repository holds, where their configurations look for them.
(The Compose Specification schema check of the whole file is in tests/project.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from dotenv import dotenv_values

from tests.observability.promql import OBSERVABILITY, PROMETHEUS, ROOT

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
GRAFANA = OBSERVABILITY / "grafana"


def mounts(service: str) -> dict[Path, str]:
    """The service's bind mounts: host path (resolved) -> path in the container."""
    found = {}
    for volume in SERVICES[service]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[(ROOT / source).resolve()] = target
    return found


def test_prometheus_and_grafana_run_only_with_the_observability_profile() -> None:
    """The default profile runs neither; ``--profile observability`` adds exactly these two."""
    observability = {
        name for name, service in SERVICES.items() if "observability" in service.get("profiles", [])
    }
    assert observability == {"prometheus", "grafana"}
    assert all(SERVICES[name]["profiles"] == ["observability"] for name in observability)


def test_the_offline_profile_adds_the_devnode_and_the_desearch_stand_in() -> None:
    """``--profile offline`` adds the two stand-ins; the default profile stays the live one."""
    offline = {
        name for name, service in SERVICES.items() if "offline" in service.get("profiles", [])
    }
    assert offline == {"devnode", "desearch"}
    default = {name for name, service in SERVICES.items() if "profiles" not in service}
    assert default == {
        "redis", "mongo", "gateway", "tweet-fetcher", "sentiment-scorer", "stake-executor"
    }  # fmt: skip


def test_every_bind_mount_is_a_path_of_the_repository() -> None:
    for service in ("prometheus", "grafana"):
        for source in mounts(service):
            assert source.exists(), f"{service} mounts {source}, which does not exist"


def test_prometheus_reads_its_configuration_from_the_mount() -> None:
    target = mounts("prometheus")[PROMETHEUS.resolve()]
    assert f"--config.file={target}/prometheus.yml" in SERVICES["prometheus"]["command"]


def test_prometheus_scrapes_the_ports_the_processes_listen_on() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["gateway"]["static_configs"] == [{"targets": ["gateway:8000"]}]
    assert SERVICES["gateway"]["ports"] == ["${GATEWAY_PORT:-8000}:8000"]
    metrics_port = int(dotenv_values(ROOT / ".env.example")["METRICS_PORT"] or 0)
    for consumer in ("tweet-fetcher", "sentiment-scorer", "stake-executor"):
        assert consumer in SERVICES
        [discovery] = jobs[consumer]["dns_sd_configs"]
        assert (discovery["names"], discovery["port"]) == ([consumer], metrics_port)


def test_grafana_finds_its_provisioning_its_dashboard_and_its_datasource() -> None:
    grafana = mounts("grafana")
    assert grafana[(GRAFANA / "provisioning").resolve()] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/tao-dividends.yml").read_text())
    [provider] = providers["providers"]
    assert grafana[(GRAFANA / "dashboards").resolve()] == provider["options"]["path"]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/tao-dividends.json"
    [source] = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus"
    assert SERVICES["prometheus"]["ports"] == [f"${{PROMETHEUS_PORT:-9090}}:{url.port}"]
