"""The numbers and the picture of ``make bench-pipeline``: percentiles, and a PNG with each
hop's latency distribution and the throughput over each run (matplotlib, a bench-only
dependency).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt


def percentile(values: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def spread(values: Sequence[float], percents: Sequence[float] = (50, 95, 99)) -> str:
    if not values:
        return "n/a"
    cells = [f"p{p:g} {percentile(values, p):7.0f}" for p in percents]
    return "  ".join(cells) + f"  max {max(values):7.0f}"


def per_second(times_ms: Sequence[int]) -> tuple[list[float], list[int]]:
    """Completions per second: (seconds since the first, count in that second)."""
    if not times_ms:
        return [], []
    first = min(times_ms)
    counts = Counter((t - first) // 1000 for t in times_ms)
    seconds = list(range(max(counts) + 1))
    return [float(s) for s in seconds], [counts.get(s, 0) for s in seconds]


def picture(
    path: Path,
    *,
    latencies: Mapping[str, Mapping[str, Sequence[float]]],
    completions: Mapping[str, Sequence[int]],
) -> Path:
    """Write the PNG: for each run in ``latencies``, the CDF of each hop's latency (and the whole
    trade's); below, trades completed per second over each run in ``completions``."""
    runs = list(latencies)
    figure, axes = plt.subplots(
        len(runs) + 1, 1, figsize=(10, 4 * (len(runs) + 1)), constrained_layout=True
    )
    for axis, run in zip(axes, runs, strict=False):
        for name, values in latencies[run].items():
            if values:
                ordered = sorted(values)
                fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
                axis.step(ordered, fractions, where="post", label=name)
        axis.set_xscale("symlog", linthresh=10)
        axis.set_xlabel("latency, ms (input entry to output entry; log scale)")
        axis.set_ylabel("fraction of trades")
        axis.set_title(f"latency CDF per hop: {run}")
        axis.grid(True, alpha=0.3)
        axis.legend(loc="lower right")
    throughput = axes[-1]
    for run, times in completions.items():
        seconds, counts = per_second(times)
        throughput.plot(seconds, counts, label=run)
    throughput.set_xlabel("seconds since the run's first completion")
    throughput.set_ylabel("trades completed per second")
    throughput.set_title("throughput over each run")
    throughput.grid(True, alpha=0.3)
    throughput.legend(loc="upper right")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
