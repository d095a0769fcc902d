"""What the probe remembers about one target between poll cycles.

Gauge-like values live in one `Samples` per collection kind, replaced whole
after each successful collection: a graph that disappears from the API
disappears from /metrics, and a failed collection leaves the last good values
in place. Counters and histograms accumulate for the life of the process.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from probes import metrics
from probes.metrics import MetricSpec

LabelValues = tuple[str, ...]


class Samples:
    """Values of gauge, info and state-set series from one collection."""

    def __init__(self) -> None:
        self.values: dict[MetricSpec, dict[LabelValues, float]] = {}

    def set(self, spec: MetricSpec, labels: LabelValues, value: float) -> None:
        self.values.setdefault(spec, {})[labels] = value

    def get(self, spec: MetricSpec, labels: LabelValues = ()) -> float | None:
        return self.values.get(spec, {}).get(labels)


@dataclass
class Histogram:
    """Bucket counts (not cumulative), sum and count of one histogram series."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, float]]:
        """Return (le, cumulative count) pairs ending with +Inf."""
        pairs = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            pairs.append((_format_bound(bound), float(running)))
        pairs.append(("+Inf", float(self.count)))
        return pairs


def _format_bound(bound: float) -> str:
    return repr(float(bound))


@dataclass
class Snapshot:
    """The values of one collection kind and when they were collected."""

    samples: Samples
    collected_at: float


class TargetState:
    """Everything /metrics shows about one target; safe to read while polled."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshots: dict[str, Snapshot] = {}
        self.collection_success: dict[str, bool] = {}
        self.counters: dict[MetricSpec, dict[LabelValues, float]] = {}
        self.histograms: dict[MetricSpec, dict[LabelValues, Histogram]] = {}
        self.last_cycle_success: bool | None = None
        self.last_success_at: float | None = None
        self.cycle_duration_seconds: float | None = None
        # Job id -> number of the last cycle whose listing contained it.
        self.finished_jobs: dict[str, int] = {}
        # Resource id -> time the probe first saw it, for orphans without a
        # creation time in the API.
        self.first_seen: dict[str, float] = {}
        # Graphs with per-graph series after the last graphs collection; the
        # backups collection exports the same graphs first.
        self.exported_graph_ids: set[str] = set()
        # Free-form label name -> the values it has been exported with.
        self.label_values: dict[str, set[str]] = {}
        self.cycles = 0

    def replace(self, kind: str, samples: Samples, now: float) -> None:
        """Make `samples` the values served for collection `kind`."""
        with self.lock:
            self.snapshots[kind] = Snapshot(samples, now)
            self.collection_success[kind] = True

    def mark_failed(self, kind: str) -> None:
        with self.lock:
            self.collection_success[kind] = False

    def finish_cycle(self, success: bool, seconds: float, now: float) -> None:
        with self.lock:
            self.last_cycle_success = success
            self.cycle_duration_seconds = seconds
            if success:
                self.last_success_at = now

    def increment(
        self, spec: MetricSpec, labels: LabelValues, amount: float = 1
    ) -> None:
        with self.lock:
            series = self.counters.setdefault(spec, {})
            series[labels] = series.get(labels, 0.0) + amount

    def observe(self, spec: MetricSpec, labels: LabelValues, value: float) -> None:
        with self.lock:
            series = self.histograms.setdefault(spec, {})
            histogram = series.get(labels)
            if histogram is None:
                histogram = series[labels] = Histogram(spec.buckets)
            histogram.observe(value)

    def bounded(self, label_name: str, value: str) -> str:
        """Return `value`, or `other` once `label_name` has its maximum of values.

        NOTE: a value stays counted for the life of the process, as the
        counter and histogram series that carry it do.
        """
        seen = self.label_values.setdefault(label_name, set())
        if value in seen:
            return value
        if len(seen) >= metrics.MAX_LABEL_VALUES[label_name]:
            self.increment(metrics.PROBE_LABEL_VALUES_CAPPED, (label_name,))
            return metrics.OTHER_VALUE
        seen.add(value)
        return value

    def first_seen_at(self, resource_id: str, now: float) -> float:
        return self.first_seen.setdefault(resource_id, now)

    def forget_unseen(self, prefix: str, present: Iterable[str]) -> None:
        """Drop first-seen times under `prefix` for resources no longer listed."""
        keep = {prefix + resource_id for resource_id in present}
        for key in [k for k in self.first_seen if k.startswith(prefix)]:
            if key not in keep:
                del self.first_seen[key]

    # RequestRecorder, for the client.

    def observe_request(self, operation: str, status_code: int, seconds: float) -> None:
        self.observe(
            metrics.API_REQUEST_DURATION, (operation, str(status_code)), seconds
        )

    def count_error(self, operation: str, error_code: str) -> None:
        # GES and APIGW codes (`GES.7000`) come from the response body, so
        # they are bounded; the client's own codes are a fixed set.
        if "." in error_code:
            error_code = self.bounded("error_code", error_code)
        self.increment(metrics.API_ERRORS, (operation, error_code))

    def count_retry(self, operation: str) -> None:
        self.increment(metrics.API_RETRIES, (operation,))

    def count_violation(self, operation: str, kind: str) -> None:
        self.increment(metrics.API_CONTRACT_VIOLATIONS, (operation, kind))
