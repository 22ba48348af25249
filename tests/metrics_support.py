"""Reading Prometheus metrics in tests.

Metrics are process-global and the tests run many apps in one process, so tests compare a
reading taken before with one taken after rather than expecting absolute values.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from shared import metrics


class Samples:
    """One reading of an exposition: every sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._values = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    @classmethod
    def of_this_process(cls) -> Samples:
        return cls(metrics.render()[0].decode())

    def get(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist yet (never used)."""
        return self._values.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        return (name, frozenset(labels.items())) in self._values

    def label_values(self, name: str, label: str) -> set[str]:
        """Every value ``label`` takes in the series of ``name``."""
        return {
            value
            for n, labels in self._values
            if n == name
            for key, value in labels
            if key == label
        }

    def increase(self, since: Samples, name: str, **labels: str) -> float:
        return self.get(name, **labels) - since.get(name, **labels)
