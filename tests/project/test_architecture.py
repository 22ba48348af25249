"""Dependencies point inward: what each top-level package may import, checked on every import.

``shared`` is the core and imports none of the deployables; the gateway and the consumers import
``shared`` only (never each other, and no consumer another consumer); ``offline`` (the stand-ins)
may use ``shared`` but nothing from ``tests`` or ``bench``, which import it, not the other way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"shared", "gateway", "consumers", "offline", "tests", "bench"}
# The top-level packages each package may import, besides itself.
ALLOWED = {
    "shared": set(),
    "gateway": {"shared"},
    "consumers": {"shared"},
    "offline": {"shared"},
}
CONSUMERS = sorted(
    path.name for path in (ROOT / "consumers").iterdir() if (path / "app.py").is_file()
)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, by its absolute dotted name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_of(package: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(ROOT)): imported_modules(path)
        for path in sorted((ROOT / package).rglob("*.py"))
    }


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_inward_of_it(package: str) -> None:
    """No import of ours leaves the set the package is allowed, and ``imports_of`` sees files."""
    files = imports_of(package)
    assert files, f"no Python files found in {package}/"
    allowed = ALLOWED[package] | {package}
    wrong = {
        file: sorted(name for name in names if name.split(".")[0] in OURS - allowed)
        for file, names in files.items()
    }
    assert {file: names for file, names in wrong.items() if names} == {}


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_a_consumer_never_imports_another_consumer(consumer: str) -> None:
    """Each consumer is its own deployable: it shares code through ``shared`` only."""
    others = {f"consumers.{name}" for name in CONSUMERS if name != consumer}
    files = imports_of(f"consumers/{consumer}")
    wrong = {
        file: sorted(name for name in names if ".".join(name.split(".")[:2]) in others)
        for file, names in files.items()
    }
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_three_consumers_are_found() -> None:
    """The consumer list above is read from the tree, not empty."""
    assert CONSUMERS == ["sentiment_scorer", "stake_executor", "tweet_fetcher"]
