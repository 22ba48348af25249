"""The repository stands alone: nothing in it reads the developers' material beside a checkout.

Users clone this repository and have nothing next to it, so data the product needs is committed
(offline/devnode/data) and no file may point outside the tree to find it.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in two pieces so that this file does not match itself.
OUTSIDE = "../" + "shared"
# What a checkout holds besides the tracked tree: environments, caches and runtime data.
NOT_OURS = {".git", ".venv", ".local", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}


def tree() -> list[Path]:
    files: list[Path] = []
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = [
            name
            for name in subdirectories
            if name not in NOT_OURS and not name.endswith(".egg-info")
        ]
        files.extend(Path(directory, name) for name in names)
    return files


def test_no_file_in_the_tree_refers_to_a_directory_beside_the_checkout() -> None:
    """Not code, not the Makefile, not CI, not docs: the tree names no path outside itself."""
    offenders = [
        str(path.relative_to(ROOT)) for path in tree() if OUTSIDE.encode() in path.read_bytes()
    ]
    assert offenders == []


def test_the_tree_is_scanned() -> None:
    """The scan above sees the repository's own files (it would pass vacuously otherwise)."""
    names = {str(path.relative_to(ROOT)) for path in tree()}
    assert {"Makefile", "README.md", ".ci/run", "offline/devnode/data/localnet-v15.hex"} <= names
