"""The chart passes `helm lint`, and what it renders is what Kubernetes and KEDA accept.

Core objects are checked against the Kubernetes OpenAPI schemas kubernetes-validate ships, with
unknown fields refused; ScaledObjects and TriggerAuthentications against the openAPIV3Schema
(and CEL rules) of KEDA's own CRDs at the version provisioning pins, and their trigger metadata
against the parameters KEDA's redis-streams scaler reads (the struct tags of its Go source).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy.chart import (
    CHART,
    CLUSTER_VALUES,
    KUBERNETES_VERSIONS,
    Manifest,
    helm,
    kinds_of_keda,
    of_kind,
    redis_streams_fields,
    render,
    scaler_constructors,
)

VALUES = {"default values": [], "cluster and partitions": ["-f", CLUSTER_VALUES]}
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_chart_passes_helm_lint_strict(values: list[str]) -> None:
    """`helm lint --strict` finds nothing wrong, with either values file."""
    result = helm("lint", "--strict", CHART, *values)
    assert result.returncode == 0, result.stdout + result.stderr


def test_helm_lint_reports_a_broken_template(tmp_path: Path) -> None:
    """helm lint does fail a chart whose template does not parse, so a pass means something."""
    broken = tmp_path / "chart"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "broken.yaml").write_text("{{ if }}\n")
    result = helm("lint", "--strict", broken)
    assert result.returncode != 0
    assert "broken.yaml" in result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_every_core_object_matches_the_kubernetes_schema(values: list[str], version: str) -> None:
    """Each rendered object other than KEDA's validates strictly against Kubernetes' schema."""
    manifests = [m for m in render(*values) if m["kind"] not in KEDA_KINDS]
    assert {m["kind"] for m in manifests} >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for manifest in manifests:
        validate_or_fail(manifest, version)


def validate_or_fail(manifest: Manifest, version: str) -> None:
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {error}")


def test_kubernetes_schema_refuses_a_misspelt_field() -> None:
    """A Deployment with an unknown container field fails the strict check the chart passes."""
    (deployment, *_) = of_kind(render(), "Deployment")
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFilesytem"
    ] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFilesytem"):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_keda_objects_match_kedas_crd_schemas(values: list[str]) -> None:
    """Each ScaledObject (and TriggerAuthentication) is one KEDA's CRDs accept."""
    crds = kinds_of_keda()
    manifests = [m for m in render(*values) if m["kind"] in KEDA_KINDS]
    assert len(of_kind(manifests, "ScaledObject")) == 3
    for manifest in manifests:
        assert crds[manifest["kind"]].errors(manifest) == [], manifest["metadata"]["name"]


def test_the_cluster_values_authenticate_kedas_scaler() -> None:
    """With a Redis password key set, a TriggerAuthentication is rendered (and checked above)."""
    manifests = render("-f", CLUSTER_VALUES)
    (auth,) = of_kind(manifests, "TriggerAuthentication")
    for scaled in of_kind(manifests, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}


def test_kedas_schema_refuses_what_its_api_server_would() -> None:
    """A number as trigger metadata, an unknown field and min above max are each refused."""
    crd = kinds_of_keda()["ScaledObject"]
    (scaled, *_) = of_kind(render(), "ScaledObject")
    assert crd.errors(scaled) == []
    numeric = copy.deepcopy(scaled)
    numeric["spec"]["triggers"][0]["metadata"]["lagCount"] = 50
    unknown = copy.deepcopy(scaled)
    unknown["spec"]["minReplicas"] = 1
    inverted = copy.deepcopy(scaled)
    inverted["spec"]["minReplicaCount"] = inverted["spec"]["maxReplicaCount"] + 1
    assert any("lagCount" in e for e in crd.errors(numeric))
    assert any("minReplicas" in e for e in crd.errors(unknown))
    assert any("minReplicaCount must be less" in e for e in crd.errors(inverted))


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_triggers_use_kedas_redis_streams_scaler_and_its_parameters(values: list[str]) -> None:
    """Each trigger's type builds KEDA's redis streams scaler (clustered exactly when
    REDIS_CLUSTER is true), its metadata keys are parameters that scaler reads from trigger
    metadata, typed as the scaler parses them, and none it requires is missing."""
    manifests = render(*values)
    (config,) = of_kind(manifests, "ConfigMap")
    clustered = config["data"].get("REDIS_CLUSTER") == "true"
    constructors = scaler_constructors()
    fields = redis_streams_fields()
    by_name = {name: field for field in fields for name in field.names}
    for scaled in of_kind(manifests, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            built = constructors[trigger["type"]]
            assert built == f"NewRedisStreamsScaler(ctx, {str(clustered).lower()}, false, config)"
            metadata = trigger["metadata"]
            for key, value in metadata.items():
                assert key in by_name, f"KEDA's redis streams scaler reads no {key!r}"
                field = by_name[key]
                assert "triggerMetadata" in field.orders
                if field.go_type in {"int", "int64"}:
                    int(value)
            for field in fields:
                if field.required and "triggerMetadata" in field.orders:
                    assert set(field.names) & set(metadata), f"{field.names} is required"
            assert {"address", "addresses"} & set(metadata), "the scaler needs an address"
    for auth in of_kind(manifests, "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert "authParams" in by_name[ref["parameter"]].orders
