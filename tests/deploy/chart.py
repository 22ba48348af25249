"""The Helm chart, rendered offline, and the schemas it is checked against.

Helm is the one `scripts/provision.sh install` builds from the Go module proxy into
`.local/bin/helm` (tools/helm pins it); KEDA's CRDs and the sources of its redis scalers come
from KEDA's Go module, copied into `.local/share/keda` by the same step. Neither is downloaded
here: a missing one fails the test with how to install it, as CI always provisions both.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml
from celpy.adapter import json_to_cel

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "tao-dividends"
CLUSTER_VALUES = CHART / "values-cluster.yaml"
HELM = ROOT / ".local" / "bin" / "helm"
KEDA = ROOT / ".local" / "share" / "keda"
INSTALL = "run `bash scripts/provision.sh install` (CI does)"
RELEASE = "taodiv"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest whose schemas
# kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]

Manifest = dict[str, Any]


def helm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs the provisioned helm; fails (never skips) when it is not there."""
    if not HELM.is_file():
        pytest.fail(f"{HELM} is missing: {INSTALL}, which builds it from tools/helm")
    return subprocess.run(  # noqa: S603 - the repository's own helm, fixed arguments
        [str(HELM), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def template(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return helm("template", RELEASE, CHART, "--namespace", "trading", *args)


def render(*args: str | Path) -> list[Manifest]:
    """Every object `helm template` makes with these arguments (values files, --set ...)."""
    result = template(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return found


def component(manifest: Manifest) -> str:
    return cast(str, manifest["metadata"]["labels"]["app.kubernetes.io/component"])


def containers(deployment: Manifest) -> list[Manifest]:
    return cast(list[Manifest], deployment["spec"]["template"]["spec"]["containers"])


def env_names(container: Manifest) -> set[str]:
    return {variable["name"] for variable in container.get("env", [])}


# --- Kubernetes ---------------------------------------------------------------------------


def validate_kubernetes(manifest: Manifest, version: str) -> None:
    """The object against the Kubernetes `version` OpenAPI schema, unknown fields refused (what
    the API server's strict field validation does)."""
    kubernetes_validate.validate(manifest, version, strict=True)


# --- KEDA ---------------------------------------------------------------------------------


def keda_file(name: str) -> Path:
    path = KEDA / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: {INSTALL}, which copies it from KEDA's Go module")
    return path


@dataclass(frozen=True, slots=True)
class Crd:
    """One version of a CustomResourceDefinition: what the API server checks objects with."""

    group: str
    kind: str
    version: str
    schema: dict[str, Any]

    @classmethod
    def load(cls, filename: str) -> Crd:
        crd = yaml.safe_load(keda_file(filename).read_text())
        (served,) = [v for v in crd["spec"]["versions"] if v["served"] and v["storage"]]
        return cls(
            crd["spec"]["group"],
            crd["spec"]["names"]["kind"],
            served["name"],
            served["schema"]["openAPIV3Schema"],
        )

    def errors(self, manifest: Manifest) -> list[str]:
        """Why the API server would refuse `manifest`: its apiVersion and kind, the structural
        schema with unknown fields refused, the CEL rules (x-kubernetes-validations), and its
        metadata as Kubernetes' ObjectMeta."""
        if manifest.get("apiVersion") != f"{self.group}/{self.version}":
            return [f"apiVersion {manifest.get('apiVersion')!r} is not served by this CRD"]
        if manifest.get("kind") != self.kind:
            return [f"kind {manifest.get('kind')!r} is not {self.kind}"]
        validator = jsonschema.Draft7Validator(strict(self.schema))
        found = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(manifest)
        ]
        found += list(cel_violations(self.schema, manifest, ""))
        found += object_meta_errors(manifest.get("metadata", {}))
        return found


def strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever it lists properties and does not
    keep unknown fields: kubectl's and the API server's strict field validation."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in copy
        and "additionalProperties" not in copy
        and not copy.get("x-kubernetes-preserve-unknown-fields")
    ):
        copy["additionalProperties"] = False
    return copy


def cel_violations(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[str]:
    """Every x-kubernetes-validations rule that `value` (and what it holds) breaks."""
    environment = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations", []):
        program = environment.program(environment.compile(rule["rule"]))
        result = program.evaluate({"self": json_to_cel(value)})
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            yield f"{path or '/'}: {rule['message']}"
    if isinstance(value, dict):
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key) or schema.get("additionalProperties")
            if isinstance(sub, dict):
                yield from cel_violations(sub, item, f"{path}/{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from cel_violations(schema["items"], item, f"{path}/{index}")


def object_meta_errors(metadata: Manifest) -> list[str]:
    """The metadata against Kubernetes' ObjectMeta schema, carried by a ConfigMap (a CRD's
    schema leaves metadata to the API server)."""
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    try:
        validate_kubernetes(carrier, KUBERNETES_VERSIONS[-1])
    except kubernetes_validate.ValidationError as error:
        return [f"metadata: {error}"]
    return []


def kinds_of_keda() -> dict[str, Crd]:
    crds = [Crd.load("keda.sh_scaledobjects.yaml"), Crd.load("keda.sh_triggerauthentications.yaml")]
    return {crd.kind: crd for crd in crds}


@dataclass(frozen=True, slots=True)
class ScalerField:
    """One parameter a KEDA scaler reads, from its Go struct tag `keda:"name=..., order=..."`."""

    names: tuple[str, ...]
    orders: tuple[str, ...]
    go_type: str
    required: bool


TAG = re.compile(r'^\s*\w+\s+(\S+)\s+`keda:"name=([^,"]+),\s*order=([^,"]+)([^"]*)"`', re.M)


def scaler_fields(filename: str, struct: str, *, optional: bool = False) -> list[ScalerField]:
    """The tagged fields of `struct` in one of KEDA's scaler sources; `optional` when the struct
    is embedded under `keda:"optional"`, which makes each of its fields optional."""
    source = keda_file(filename).read_text()
    body = re.search(rf"^type {struct} struct \{{(.*?)^\}}", source, re.M | re.S)
    assert body is not None, f"{struct} is not in {filename}"
    return [
        ScalerField(
            names=tuple(names.strip().split(";")),
            orders=tuple(orders.strip().split(";")),
            go_type=go_type,
            required=not optional and "optional" not in rest and "default=" not in rest,
        )
        for go_type, names, orders, rest in TAG.findall(body.group(1))
    ]


def redis_streams_fields() -> list[ScalerField]:
    """What KEDA's redis-streams scalers read: their metadata and the connection's (embedded
    as `ConnectionInfo redisConnectionInfo `keda:"optional"``; its Validate then asks for an
    address or a host)."""
    embedded = r'ConnectionInfo\s+redisConnectionInfo\s+`keda:"optional"`'
    assert re.search(embedded, keda_file("redis_streams_scaler.go").read_text())
    return [
        *scaler_fields("redis_streams_scaler.go", "redisStreamsMetadata"),
        *scaler_fields("redis_scaler.go", "redisConnectionInfo", optional=True),
    ]


def scaler_constructors() -> dict[str, str]:
    """Trigger type -> the scaler KEDA builds for it, with its (clustered, sentinel) flags."""
    source = keda_file("scalers_builder.go").read_text()
    found = re.findall(r'case "([^"]+)":\s*return scalers\.(\w+)\(([^)]*)\)', source)
    return {kind: f"{constructor}({arguments})" for kind, constructor, arguments in found}
