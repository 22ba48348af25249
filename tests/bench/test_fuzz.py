"""``make fuzz`` as a seeded sample: the same processes, the same checks, a small budget."""

from __future__ import annotations

from pathlib import Path

from bench import fuzz

SEED = 20_261_208
SAMPLE = 25  # cases per operation and phase; make fuzz runs 600
# The checks issue 14 named; the run has every other schemathesis check on too.
NAMED_CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
}


def test_a_seeded_fuzz_sample_finds_no_failure_in_the_running_gateway(
    redis_url: str, mongodb_url: str, mongodb_database: str, tmp_path: Path
) -> None:
    """Schemathesis against python -m gateway on the devnode: every check passes on every case."""
    report = fuzz.run(
        redis_url=redis_url,
        mongodb_url=mongodb_url,
        database=mongodb_database,
        max_examples=SAMPLE,
        seed=SEED,
        log_dir=tmp_path,
    )
    log = (tmp_path / "schemathesis.log").read_text()
    assert report.clean, f"{report.render()}\n{log}"
    assert report.cases >= 300, report.render()
    assert set(report.checks) >= NAMED_CHECKS
    assert all(counts["success"] > 0 for counts in report.checks.values()), report.render()
