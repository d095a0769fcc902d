"""Every metric `ges-probe` exports: name, type, labels and help text, defined once.

Each series also carries the target labels: `target` (the target's name in the
config), `project_id`, and the target's configured labels. They are added at
render time, so `labels` below lists only the labels that vary within a target.
The Prometheus rules and the Grafana dashboards use these names and nothing else.

No label takes an unbounded set of values: job ids, backup ids and timestamps
are never label values. A label the OpenAPI document gives an enum (statuses,
quota type, size type, architecture) takes a listed value or `unknown`. A
free-form label (job type and name, engine version, error code) is cut to
`MAX_BOUNDED_LABEL_LENGTH` characters and takes at most `MAX_LABEL_VALUES`
distinct values per target; later values are exported as `other` and counted
in `ges_probe_label_values_capped_total`. Graph ids and names are label values,
so `graphs.max_exported` in the config caps the number of graphs per target.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MetricType(Enum):
    """Exposition type of a metric family."""

    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    INFO = "info"
    STATESET = "stateset"


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: its full name, type, help text and own labels."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


TARGET_LABELS = ("target", "project_id")

# GES jobs run from seconds (a stop) to hours (a large import), so the buckets
# span both ends; the sandbox's fast jobs land in the sub-second buckets.
JOB_DURATION_BUCKETS = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0, 7200.0, 21600.0,
)  # fmt: skip
API_DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

# The value of a `status` label when the API reports a status the OpenAPI
# document does not list (GraphStatus, job or backup status), so that an
# unexpected value cannot add series without bound.
UNKNOWN_STATUS = "unknown"
# The value of a free-form label once it has reached its distinct-value cap.
OTHER_VALUE = "other"
MAX_BOUNDED_LABEL_LENGTH = 64
# Distinct values per target of each free-form label. GES examples show one
# jobType, a dozen jobName values and a handful of engine versions, so the caps
# leave room for growth and still bound the series an odd API can create.
MAX_LABEL_VALUES = {
    "job_type": 20,
    "job_name": 100,
    "version": 50,
    "error_code": 100,
}

QUOTA_AVAILABLE = MetricSpec(
    "ges_quota_available",
    MetricType.GAUGE,
    "Available amount of each quota type, as listQuotas reports it.",
    ("type",),
)

GRAPH_STATUS = MetricSpec(
    "ges_graph_status",
    MetricType.STATESET,
    "Graph status code as a state set: one series per known status, "
    "1 for the current one.",
    ("graph_id", "graph_name", "status"),
)
GRAPH_INFO = MetricSpec(
    "ges_graph",
    MetricType.INFO,
    "Graph engine version, size type index and CPU architecture of each graph.",
    ("graph_id", "graph_name", "version", "size_type", "arch"),
)
GRAPH_BY_STATUS = MetricSpec(
    "ges_graph_by_status",
    MetricType.GAUGE,
    "Number of graphs in each status, counted over all graphs, exported or not.",
    ("status",),
)
GRAPH_ORPHANS = MetricSpec(
    "ges_graph_orphans",
    MetricType.GAUGE,
    "Graphs named with the conformance gate's run prefix that are older than "
    "the configured orphan age.",
)

JOB_DURATION = MetricSpec(
    "ges_job_duration_seconds",
    MetricType.HISTOGRAM,
    "Duration of finished jobs from beginTime to endTime, which GES gives in "
    "whole seconds; each job is observed once.",
    ("job_type", "job_name", "outcome"),
    JOB_DURATION_BUCKETS,
)
JOB_BY_STATUS = MetricSpec(
    "ges_job_by_status",
    MetricType.GAUGE,
    "Number of jobs listed by listJobs, by type, name and status.",
    ("job_type", "job_name", "status"),
)
JOB_OLDEST_RUNNING_AGE = MetricSpec(
    "ges_job_oldest_running_age_seconds",
    MetricType.GAUGE,
    "Age of the oldest job of each type and name still pending or running; a "
    "kind with no such job has no series.",
    ("job_type", "job_name"),
)
JOB_FAILED = MetricSpec(
    "ges_job_failed_total",
    MetricType.COUNTER,
    "Jobs seen to finish with status failed; each job is counted once.",
    ("job_type", "job_name"),
)

BACKUP_LAST_SUCCESS = MetricSpec(
    "ges_backup_last_success_timestamp_seconds",
    MetricType.GAUGE,
    "Unix time at which the last successful backup of each graph ended.",
    ("graph_id", "graph_name"),
)
BACKUP_BY_STATUS = MetricSpec(
    "ges_backup_by_status",
    MetricType.GAUGE,
    "Number of backups of each graph in each backup status.",
    ("graph_id", "graph_name", "status"),
)
BACKUP_ORPHANS = MetricSpec(
    "ges_backup_orphans",
    MetricType.GAUGE,
    "Backups named with the conformance gate's run prefix that are older than "
    "the configured orphan age.",
)

METADATA_ORPHANS = MetricSpec(
    "ges_metadata_orphans",
    MetricType.GAUGE,
    "Metadata records named with the conformance gate's run prefix that are "
    "older than the configured orphan age.",
)

API_REQUEST_DURATION = MetricSpec(
    "ges_api_request_duration_seconds",
    MetricType.HISTOGRAM,
    "Duration of each API request attempt that got a response, by operation "
    "and HTTP status code.",
    ("operation", "status_code"),
    API_DURATION_BUCKETS,
)
API_ERRORS = MetricSpec(
    "ges_api_errors_total",
    MetricType.COUNTER,
    "Failed API request attempts, by operation and error code: the GES or "
    "APIGW code of the error body, or http_<status>, timeout, "
    "transport_error, malformed_response or response_too_large.",
    ("operation", "error_code"),
)
API_RETRIES = MetricSpec(
    "ges_api_retries_total",
    MetricType.COUNTER,
    "API request attempts repeated after a transport error, a 5xx or a 429.",
    ("operation",),
)
API_CONTRACT_VIOLATIONS = MetricSpec(
    "ges_api_contract_violations_total",
    MetricType.COUNTER,
    "Responses that break the OpenAPI document, by operation and kind of violation.",
    ("operation", "kind"),
)

PROBE_SUCCESS = MetricSpec(
    "ges_probe_success",
    MetricType.GAUGE,
    "Whether the last poll cycle collected every collection kind (1) or not (0).",
)
PROBE_LAST_SUCCESS = MetricSpec(
    "ges_probe_last_success_timestamp_seconds",
    MetricType.GAUGE,
    "Unix time at which the last fully successful poll cycle ended.",
)
PROBE_CYCLE_DURATION = MetricSpec(
    "ges_probe_cycle_duration_seconds",
    MetricType.GAUGE,
    "Wall time of the last poll cycle.",
)
PROBE_COLLECTION_SUCCESS = MetricSpec(
    "ges_probe_collection_success",
    MetricType.GAUGE,
    "Whether the last attempt at each collection kind succeeded (1) or not (0).",
    ("collection",),
)
PROBE_DATA_AGE = MetricSpec(
    "ges_probe_data_age_seconds",
    MetricType.GAUGE,
    "Seconds since the values served for each collection kind were collected; "
    "it grows while the API fails and the last good values are served.",
    ("collection",),
)
PROBE_GRAPHS_EXPORTED = MetricSpec(
    "ges_probe_graphs_exported",
    MetricType.GAUGE,
    "Graphs exported with per-graph series in the last graphs collection.",
)
PROBE_LABEL_VALUES_CAPPED = MetricSpec(
    "ges_probe_label_values_capped_total",
    MetricType.COUNTER,
    "Label values exported as `other` because the label already had its "
    "maximum number of distinct values; above 0 means the cap is hit.",
    ("label",),
)
PROBE_GRAPHS_OMITTED = MetricSpec(
    "ges_probe_graphs_omitted",
    MetricType.GAUGE,
    "Graphs left out of per-graph series because graphs.max_exported was "
    "reached; above 0 means the cap is hit.",
)

# The daemon-wide families below carry no target labels.
PROBE_BUILD_INFO = MetricSpec(
    "ges_probe_build",
    MetricType.INFO,
    "Version of the running ges-probe.",
    ("version",),
)
PROBE_CONFIG_RELOAD_SUCCESS = MetricSpec(
    "ges_probe_config_last_reload_successful",
    MetricType.GAUGE,
    "Whether the last configuration load or reload succeeded (1) or not (0).",
)
PROBE_CONFIG_RELOAD_TIMESTAMP = MetricSpec(
    "ges_probe_config_last_reload_success_timestamp_seconds",
    MetricType.GAUGE,
    "Unix time of the last successful configuration load or reload.",
)

TARGET_METRICS = (
    QUOTA_AVAILABLE,
    GRAPH_STATUS,
    GRAPH_INFO,
    GRAPH_BY_STATUS,
    GRAPH_ORPHANS,
    JOB_DURATION,
    JOB_BY_STATUS,
    JOB_OLDEST_RUNNING_AGE,
    JOB_FAILED,
    BACKUP_LAST_SUCCESS,
    BACKUP_BY_STATUS,
    BACKUP_ORPHANS,
    METADATA_ORPHANS,
    API_REQUEST_DURATION,
    API_ERRORS,
    API_RETRIES,
    API_CONTRACT_VIOLATIONS,
    PROBE_SUCCESS,
    PROBE_LAST_SUCCESS,
    PROBE_CYCLE_DURATION,
    PROBE_COLLECTION_SUCCESS,
    PROBE_DATA_AGE,
    PROBE_GRAPHS_EXPORTED,
    PROBE_GRAPHS_OMITTED,
    PROBE_LABEL_VALUES_CAPPED,
)
DAEMON_METRICS = (
    PROBE_BUILD_INFO,
    PROBE_CONFIG_RELOAD_SUCCESS,
    PROBE_CONFIG_RELOAD_TIMESTAMP,
)
ALL_METRICS = TARGET_METRICS + DAEMON_METRICS


def exposed_name(spec: MetricSpec) -> str:
    """Return the family name as it appears in the text exposition and PromQL."""
    if spec.type is MetricType.INFO:
        return spec.name + "_info"
    return spec.name
