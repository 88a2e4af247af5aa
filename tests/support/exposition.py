"""Read Prometheus expositions in tests with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_samples(exposition: str) -> Samples:
    """Return every sample of a text exposition, keyed by name and label set."""
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample_value(samples: Samples, name: str, **labels: str) -> float | None:
    """Return the value of one sample, or None when the exposition lacks it."""
    return samples.get((name, frozenset(labels.items())))


def series_of(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Return every series of metric `name` (label set -> value)."""
    return {labels: value for (sample, labels), value in samples.items() if sample == name}
