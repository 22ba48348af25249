"""What the chart deploys: the settings, the secrets, the pods' safety, probes, shutdown and
autoscaling, read from `helm template` output."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from shared.settings import Settings
from shared.streams.topology import HopName, topology
from tests.deploy.chart import (
    CHART,
    CLUSTER_VALUES,
    ROOT,
    Manifest,
    component,
    containers,
    env_names,
    named,
    of_kind,
    render,
    template,
)

SECRET_KEYS = {"API_TOKENS", "WALLET_MNEMONIC", "DESEARCH_API_KEY", "CHUTES_API_KEY"}
# Settings of issue 17's partitioned streams and Redis Cluster clients: the chart passes them on
# already; shared/settings.py and .env.example gain them with those sections.
UPCOMING_SETTINGS = {"STREAM_PARTITIONS", "REDIS_CLUSTER"}
CONSUMERS = {hop.value for hop in HopName}
ENV_EXAMPLE = ROOT / ".env.example"


def config_of(manifests: list[Manifest]) -> dict[str, str]:
    (config,) = of_kind(manifests, "ConfigMap")
    return dict(config["data"])


def deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {component(d): d for d in of_kind(manifests, "Deployment")}


@pytest.mark.parametrize("values", [[], ["-f", CLUSTER_VALUES]], ids=["default", "cluster"])
def test_the_configmap_holds_settings_of_env_example_and_no_secret(values: list[str]) -> None:
    """Every ConfigMap key is a variable .env.example documents, and none is a secret."""
    keys = set(config_of(render(*values)))
    documented = set(dotenv_values(ENV_EXAMPLE))
    assert keys - SECRET_KEYS == keys
    assert keys <= documented | UPCOMING_SETTINGS


def test_a_secret_in_config_is_refused() -> None:
    """Putting API_TOKENS in the values' config fails the install, naming it."""
    result = template("--set", "config.API_TOKENS=reader:token-0123456789abcdef:read")
    assert result.returncode != 0
    assert "API_TOKENS" in result.stderr


def test_a_url_with_credentials_in_config_is_refused() -> None:
    """A REDIS_URL with a password belongs in the Secret; in config it is refused."""
    result = template("--set", "config.REDIS_URL=redis://user:pass@redis:6379/0")
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr


def test_no_secret_is_made_unless_its_contents_are_given() -> None:
    """By default the chart makes no Secret: the pods reference an existing one by name."""
    manifests = render()
    assert of_kind(manifests, "Secret") == []
    gateway = containers(deployments(manifests)["gateway"])[0]
    (tokens,) = [v for v in gateway["env"] if v["name"] == "API_TOKENS"]
    assert tokens["valueFrom"]["secretKeyRef"] == {
        "name": "taodiv-tao-dividends",
        "key": "API_TOKENS",
        "optional": False,
    }


def test_set_file_makes_the_secret_without_the_files_final_newline(tmp_path: Path) -> None:
    """`--set-file secrets.files.KEY=path` makes the Secret from that file, nowhere else."""
    tokens = tmp_path / "api-tokens.txt"
    tokens.write_text("ops:a-long-enough-token-0001:read+trade\n")
    manifests = render("--set-file", f"secrets.files.API_TOKENS={tokens}")
    (secret,) = of_kind(manifests, "Secret")
    decoded = base64.b64decode(secret["data"]["API_TOKENS"]).decode()
    assert decoded == "ops:a-long-enough-token-0001:read+trade"
    assert "a-long-enough-token" not in yaml.safe_dump(config_of(manifests))


@pytest.mark.parametrize("path", [CHART / "values.yaml", CLUSTER_VALUES], ids=lambda p: p.name)
def test_committed_values_files_carry_no_secret(path: Path) -> None:
    """The values files in the repository give no secret contents."""
    values = yaml.safe_load(path.read_text())
    assert not values.get("secrets", {}).get("files")
    assert not SECRET_KEYS & set(values.get("config", {}))


def test_each_component_reads_only_its_own_secrets() -> None:
    """API_TOKENS reaches the gateway only, each API key and the mnemonic only their consumer."""
    owners = {
        "API_TOKENS": "gateway",
        "DESEARCH_API_KEY": "tweet-fetcher",
        "CHUTES_API_KEY": "sentiment-scorer",
        "WALLET_MNEMONIC": "stake-executor",
    }
    for name, deployment in deployments(render()).items():
        (container,) = containers(deployment)
        assert {key for key, owner in owners.items() if owner == name} == (
            env_names(container) & SECRET_KEYS
        )


def test_every_pod_is_non_root_read_only_and_bounded() -> None:
    """Every container runs as a non-root user on a read-only root filesystem, with no
    privilege escalation, no capabilities, resource requests and limits, and emptyDirs
    for /tmp and the SDK's cache; no pod mounts a service account token."""
    for deployment in of_kind(render(), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in mounts["/tmp"]  # noqa: S108 - the pod's /tmp, not ours
            assert "emptyDir" in mounts["/home/app/.bittensor"]


def test_the_gateway_probes_health_for_liveness_and_ready_for_readiness() -> None:
    """Liveness is /health; readiness is /ready, given longer than a chain call may take."""
    manifests = render("--set", "config.CHAIN_TIMEOUT_SECONDS=20.5")
    (gateway,) = containers(deployments(manifests)["gateway"])
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert gateway["readinessProbe"]["timeoutSeconds"] > 20.5


def test_a_horizontal_pod_autoscaler_owns_the_gateways_replicas() -> None:
    """An HPA targets the gateway's Deployment, from two replicas up; the Deployment leaves
    the replica count to it."""
    manifests = render()
    gateway = deployments(manifests)["gateway"]
    (hpa,) = of_kind(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in gateway["spec"]  # the HPA owns it


@pytest.mark.parametrize("timeout", ["15", "42.5"])
def test_consumers_get_longer_than_their_shutdown_timeout_to_stop(timeout: str) -> None:
    """terminationGracePeriodSeconds of every consumer exceeds SHUTDOWN_TIMEOUT_SECONDS."""
    manifests = render("--set-string", f"config.SHUTDOWN_TIMEOUT_SECONDS={timeout}")
    consumers = {n: d for n, d in deployments(manifests).items() if n in CONSUMERS}
    assert set(consumers) == CONSUMERS
    for deployment in consumers.values():
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > float(timeout)


def test_each_consumer_runs_its_app_from_the_consumer_image() -> None:
    """CONSUMER picks the app (Dockerfile.consumer), one Deployment per hop."""
    for name, deployment in deployments(render()).items():
        (container,) = containers(deployment)
        if name == "gateway":
            assert container["image"].startswith("tao-dividends-gateway:")
            continue
        assert container["image"].startswith("tao-dividends-consumer:")
        (variable,) = [v for v in container["env"] if v["name"] == "CONSUMER"]
        assert variable["value"] == name


def test_triggers_watch_the_stream_and_group_each_consumer_reads() -> None:
    """With the chart's settings, shared/streams/topology.py names the same stream and group
    as each consumer's ScaledObject, which scales that consumer's Deployment."""
    manifests = render()
    # The ConfigMap's variables alone, as a pod with no .env reads them.
    settings = Settings.model_validate({k.lower(): v for k, v in config_of(manifests).items()})
    hops = topology(settings)
    for scaled in of_kind(manifests, "ScaledObject"):
        hop = hops[HopName(component(scaled))]
        target = named(manifests, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
        assert component(target) == hop.name
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis-streams"
        assert trigger["metadata"]["stream"] == hop.stream
        assert trigger["metadata"]["consumerGroup"] == hop.group
        assert trigger["metadata"]["address"] == "redis:6379"
        assert trigger["metadata"]["lagCount"] == "50"


def test_partitioned_streams_get_one_trigger_per_partition_summed() -> None:
    """With STREAM_PARTITIONS=4 on a cluster: four redis-cluster-streams triggers per consumer,
    one per partition, each stream name with its own hash tag, and their lags summed."""
    manifests = render("-f", CLUSTER_VALUES)
    assert config_of(manifests)["STREAM_PARTITIONS"] == "4"
    for scaled in of_kind(manifests, "ScaledObject"):
        triggers = scaled["spec"]["triggers"]
        assert [t["type"] for t in triggers] == ["redis-cluster-streams"] * 4
        tags = [re.findall(r"\{[^}]+\}", t["metadata"]["stream"]) for t in triggers]
        assert len({tag for (tag,) in tags}) == 4
        formula = scaled["spec"]["advanced"]["scalingModifiers"]["formula"]
        assert sorted(formula.split(" + ")) == sorted(t["name"] for t in triggers)


def test_scaling_on_pending_entries_is_one_setting_away() -> None:
    """autoscaling.metric=pending scales on the group's pending entries instead of its lag."""
    manifests = render("--set", "consumerDefaults.autoscaling.metric=pending")
    for scaled in of_kind(manifests, "ScaledObject"):
        (trigger,) = scaled["spec"]["triggers"]
        assert "lagCount" not in trigger["metadata"]
        assert trigger["metadata"]["pendingEntriesCount"] == "50"


def test_every_pod_has_a_disruption_budget_and_a_network_policy() -> None:
    """Each Deployment's pods are selected by one PodDisruptionBudget (maxUnavailable, so a
    lone consumer can still be drained) and by a NetworkPolicy for ingress and egress."""
    manifests = render()
    budgets = of_kind(manifests, "PodDisruptionBudget")
    policies = of_kind(manifests, "NetworkPolicy")
    for deployment in of_kind(manifests, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert "maxUnavailable" in budget["spec"]
        (policy,) = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_consumers_take_no_ingress_but_metrics_scrapes() -> None:
    """Consumer pods accept nothing by default, and only the metrics port from metricsFrom."""
    scraper = {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}
    closed = named(render(), "NetworkPolicy", "taodiv-tao-dividends-consumers")
    assert closed["spec"]["ingress"] == []
    opened = named(
        render("--set-json", f"networkPolicy.metricsFrom={json.dumps([scraper])}"),
        "NetworkPolicy",
        "taodiv-tao-dividends-consumers",
    )
    (rule,) = opened["spec"]["ingress"]
    assert rule["from"] == [scraper]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector selects pods with these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        if expression["operator"] != "In":
            raise NotImplementedError(expression["operator"])
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_kedas_redis_address_follows_redis_url() -> None:
    """KEDA reaches the Redis of REDIS_URL: its host and port (6379 when unsaid), its database,
    and TLS for rediss://."""
    manifests = render("--set", "config.REDIS_URL=rediss://cache.example:6380/3")
    for scaled in of_kind(manifests, "ScaledObject"):
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["address"] == "cache.example:6380"
        assert trigger["metadata"]["databaseIndex"] == "3"
        assert trigger["metadata"]["enableTLS"] == "true"
    for scaled in of_kind(render("--set", "config.REDIS_URL=redis://cache/0"), "ScaledObject"):
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["address"] == "cache:6379"
        assert "enableTLS" not in trigger["metadata"]
