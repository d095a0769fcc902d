"""Generate the GES Grafana dashboards with Grafana's foundation SDK.

    python grafana/dashboards.py           # rewrite grafana/dashboards/*.json
    python grafana/dashboards.py --check   # exit 1 if a committed file is stale

Metric names come from `probes.metrics`, and recording rule names are checked
against prometheus/rules/ges-recording.yaml. The graph status codes come from
the GraphStatus schema of the OpenAPI document. A renamed metric, rule or
status therefore fails here instead of leaving an empty panel.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import yaml
from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    heatmap,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from probes import metrics

REPO = Path(__file__).resolve().parent.parent
DASHBOARDS_DIR = REPO / "grafana" / "dashboards"
RECORDING_RULES = REPO / "prometheus" / "rules" / "ges-recording.yaml"
OPENAPI_DOCUMENT = REPO / "openapi" / "ges-management-v1.yaml"

OVERVIEW_UID = "ges-overview"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
PROJECT = 'project_id=~"$project"'
GRAPH = 'project_id=~"$project", graph_name=~"$graph"'
JOB_KIND = 'project_id=~"$project", job_name=~"$job_name"'
# The scrape job name of both example configurations in prometheus/.
PROBE_SCRAPE_JOB = "ges-probe"

# Display names of the GraphStatus codes. The recording rule
# target_graph:ges_graph_status:code records -1 for a code the document lacks.
STATUS_NAMES = {
    "100": "preparing",
    "200": "running",
    "201": "upgrading",
    "202": "importing",
    "203": "rolling back",
    "204": "exporting",
    "205": "clearing",
    "206": "preparing resize",
    "207": "resizing",
    "208": "rolling back resize",
    "210": "preparing replicas",
    "211": "expanding replicas",
    "300": "faulty",
    "303": "creation failed",
    "400": "deleted",
    "800": "frozen",
    "900": "stopped",
    "901": "stopping",
    "903": "backing up",
    "920": "starting",
    "-1": "unknown",
}
STATUS_COLORS = {
    "200": "green",
    "300": "red",
    "303": "red",
    "400": "#6e6e6e",
    "800": "purple",
    "900": "#9e9e9e",
    "-1": "orange",
}
TRANSITIONAL_COLOR = "blue"


class GenerationError(Exception):
    """A dashboard refers to a name that its source does not define."""


def name(spec: metrics.MetricSpec, suffix: str = "") -> str:
    """Return the PromQL name of a probe metric, e.g. with `_bucket`."""
    return metrics.exposed_name(spec) + suffix


@cache
def recording_rule_names() -> frozenset[str]:
    document = yaml.safe_load(RECORDING_RULES.read_text(encoding="utf-8"))
    return frozenset(
        rule["record"] for group in document["groups"] for rule in group["rules"]
    )


def recorded(rule_name: str) -> str:
    """Return `rule_name` after checking that a recording rule defines it."""
    if rule_name not in recording_rule_names():
        raise GenerationError(
            f"no recording rule `{rule_name}` in {RECORDING_RULES.name}; "
            "add it there or fix the name"
        )
    return rule_name


@cache
def graph_status_schema() -> dict[str, object]:
    document = yaml.safe_load(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    schema: dict[str, object] = document["components"]["schemas"]["GraphStatus"]
    return schema


def status_mappings() -> list[models.ValueMapping]:
    """Map each status code to its name and a colour by kind of status."""
    schema = graph_status_schema()
    codes = [str(code) for code in schema["enum"]]  # type: ignore[attr-defined]
    if set(codes) | {"-1"} != set(STATUS_NAMES):
        raise GenerationError(
            f"STATUS_NAMES lists {sorted(STATUS_NAMES)} but GraphStatus in "
            f"{OPENAPI_DOCUMENT.name} has {sorted(codes)}; update STATUS_NAMES"
        )
    transitional = {str(code) for code in schema["x-ges-transitional"]}  # type: ignore[attr-defined]
    options = {}
    for index, (code, text) in enumerate(STATUS_NAMES.items()):
        default = TRANSITIONAL_COLOR if code in transitional else "text"
        color = STATUS_COLORS.get(code, default)
        options[code] = models.ValueMappingResult(
            text=f"{code} {text}", color=color, index=index
        )
    return [models.ValueMap(options=options)]


def query(
    expr: str,
    legend: str = "",
    ref_id: str = "A",
    instant: bool = False,
    table_format: bool = False,
) -> prometheus.Dataquery:
    built = (
        prometheus.Dataquery()
        .expr(expr)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .legend_format(legend or "__auto")
    )
    if instant:
        built = built.instant()
    else:
        built = built.range()
    if table_format:
        built = built.format(prometheus_models.PromQueryFormat.TABLE)
    return built


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=value, color=color) for value, color in steps])
    )


def legend_table() -> common.VizLegendOptions:
    return (
        common.VizLegendOptions()
        .display_mode(common_models.LegendDisplayMode.TABLE)
        .placement(common_models.LegendPlacement.RIGHT)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )


def last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def percentiles(rate_rule: str, by: str, selector: str) -> list[prometheus.Dataquery]:
    """p50, p95 and p99 of a recorded per-bucket rate, one series per `by`."""
    return [
        query(
            f"histogram_quantile({quantile}, sum by ({by}, le) "
            f"({recorded(rate_rule)}{{{selector}}}))",
            f"p{label} {{{{{by}}}}}",
            ref_id=ref_id,
        )
        for ref_id, quantile, label in (
            ("A", 0.5, 50),
            ("B", 0.95, 95),
            ("C", 0.99, 99),
        )
    ]


def quota_panels() -> list[object]:
    left = (
        bargauge.Panel()
        .id(2)
        .title("Quota left")
        .description(
            "Amount of each quota type still available, as listQuotas reports "
            "it; -1 means unlimited."
        )
        .with_target(
            query(
                f"{name(metrics.QUOTA_AVAILABLE)}{{{PROJECT}}}",
                "{{type}}",
                instant=True,
            )
        )
        .reduce_options(last_value())
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
        .thresholds(thresholds((None, "red"), (2, "yellow"), (5, "green")))
        .mappings(
            [
                models.ValueMap(
                    options={"-1": models.ValueMappingResult(text="unlimited")}
                )
            ]
        )
        .height(7)
        .span(6)
    )
    used = (
        timeseries.Panel()
        .id(3)
        .title("Quota used and left")
        .description(
            "Left is what listQuotas reports. listQuotas reports no limit, so "
            "used is estimated as the largest amount available in the last 30 "
            "days minus the amount available now."
        )
        .with_target(
            query(f"{name(metrics.QUOTA_AVAILABLE)}{{{PROJECT}}} >= 0", "left {{type}}")
        )
        .with_target(
            query(
                f"{recorded('target_type:ges_quota_available:max_over_time30d')}"
                f"{{{PROJECT}}} - {name(metrics.QUOTA_AVAILABLE)}{{{PROJECT}}}",
                "used {{type}}",
                ref_id="B",
            )
        )
        .legend(legend_table())
        .height(7)
        .span(10)
    )
    fraction = (
        timeseries.Panel()
        .id(4)
        .title("Quota left, share of its 30-day peak")
        .description(
            "Amount available now divided by the largest amount available in "
            "the last 30 days. GesQuotaLowFraction fires below 10 %."
        )
        .with_target(
            query(
                f"{recorded('target_type:ges_quota_available:ratio_of_max30d')}"
                f"{{{PROJECT}}}",
                "{{type}}",
            )
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .thresholds(thresholds((None, "red"), (0.1, "green")))
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.LINE
            )
        )
        .height(7)
        .span(8)
    )
    return [left, used, fraction]


def graph_panels() -> list[object]:
    by_status = (
        bargauge.Panel()
        .id(11)
        .title("Graphs by status")
        .description("Number of graphs in each status code, over all graphs.")
        .with_target(
            query(
                f"sum by (status) ({name(metrics.GRAPH_BY_STATUS)}{{{PROJECT}}})",
                "{{status}}",
                instant=True,
            )
        )
        .reduce_options(last_value())
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .height(8)
        .span(6)
    )
    timeline = (
        statetimeline.Panel()
        .id(12)
        .title("Graph status over time")
        .description(
            "Status code of each graph. Red is faulty or creation failed "
            "(GesGraphFaulty); blue is a transitional status, and one lasting "
            "more than 3 hours fires GesGraphStuckTransitional."
        )
        .with_target(
            query(
                f"max by (graph_name) "
                f"({recorded('target_graph:ges_graph_status:code')}{{{GRAPH}}})",
                "{{graph_name}}",
            )
        )
        .mappings(status_mappings())
        .show_value(common_models.VisibilityMode.NEVER)
        .merge_values(True)
        .height(8)
        .span(18)
    )
    info = (
        table.Panel()
        .id(13)
        .title("Graphs")
        .description("Engine version, size type index and CPU architecture.")
        .with_target(
            query(
                f"{name(metrics.GRAPH_INFO)}{{{GRAPH}}}",
                instant=True,
                table_format=True,
            )
        )
        .with_transformation(
            models.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {
                        "Time": True,
                        "Value": True,
                        "__name__": True,
                        "job": True,
                        "instance": True,
                    }
                },
            )
        )
        .height(6)
        .span(24)
    )
    return [by_status, timeline, info]


def job_panels() -> list[object]:
    durations = (
        timeseries.Panel()
        .id(21)
        .title("Job duration percentiles")
        .description(
            "Duration of finished jobs, from beginTime to endTime, by job name; "
            "computed from 5-minute bucket rates."
        )
        .targets(
            percentiles(
                "target_job:ges_job_duration_seconds_bucket:rate5m",
                "job_name",
                JOB_KIND,
            )
        )
        .unit("s")
        .legend(legend_table())
        .height(8)
        .span(12)
    )
    duration_heatmap = (
        heatmap.Panel()
        .id(22)
        .title("Job duration: $job_name")
        .description("Finished jobs per duration bucket, one heatmap per job name.")
        .with_target(
            query(
                f"sum by (le) (increase("
                f"{name(metrics.JOB_DURATION, '_bucket')}{{{JOB_KIND}}}"
                f"[$__rate_interval]))",
                "{{le}}",
            ).format(prometheus_models.PromQueryFormat.HEATMAP)
        )
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit("s"))
        .rows_frame(
            heatmap.RowsHeatmapOptions().layout(common_models.HeatmapCellLayout.LE)
        )
        .color(heatmap.HeatmapColorOptions().scheme("Oranges").steps(64))
        .repeat("job_name")
        .repeat_direction("h")
        .max_per_row(3)
        .height(8)
        .span(24)
    )
    outcomes = (
        timeseries.Panel()
        .id(23)
        .title("Job outcomes")
        .description("Jobs that finished in each interval, by job name and outcome.")
        .with_target(
            query(
                f"sum by (job_name, outcome) (increase("
                f"{name(metrics.JOB_DURATION, '_count')}{{{JOB_KIND}}}"
                f"[$__rate_interval]))",
                "{{job_name}} {{outcome}}",
            )
        )
        .draw_style(common_models.GraphDrawStyle.BARS)
        .stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
        .legend(legend_table())
        .height(8)
        .span(8)
    )
    failure_ratio = (
        timeseries.Panel()
        .id(24)
        .title("Job failure ratio (1 h)")
        .description(
            "Share of the jobs finished in the last hour that failed. "
            "GesJobFailureRatioHigh fires above 25 % with at least 4 jobs."
        )
        .with_target(
            query(
                f"{recorded('target_job:ges_job_failure:ratio_rate1h')}{{{JOB_KIND}}}",
                "{{job_name}}",
            )
        )
        .unit("percentunit")
        .min(0)
        .thresholds(thresholds((None, "green"), (0.25, "red")))
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.LINE
            )
        )
        .height(8)
        .span(8)
    )
    oldest = (
        timeseries.Panel()
        .id(25)
        .title("Oldest unfinished job and usual durations")
        .description(
            "Age of the oldest pending or running job of each job name, beside "
            "the 1-day p95 duration of each job name. GesJobRunningTooLong fires "
            "when a job name's age exceeds 3 times its own p95."
        )
        .with_target(
            query(
                f"{name(metrics.JOB_OLDEST_RUNNING_AGE)}{{{JOB_KIND}}}",
                "oldest unfinished {{job_name}}, {{target}}",
            )
        )
        .with_target(
            query(
                f"{recorded('target_job:ges_job_duration_seconds:p95_1d')}"
                f"{{{JOB_KIND}}}",
                "p95 (1 d) {{job_name}}",
                ref_id="B",
            )
        )
        .unit("s")
        .legend(legend_table())
        .height(8)
        .span(8)
    )
    by_status = (
        bargauge.Panel()
        .id(26)
        .title("Jobs by status")
        .description("Jobs that listJobs returns, by job name and status.")
        .with_target(
            query(
                f"sum by (job_name, status) "
                f"({name(metrics.JOB_BY_STATUS)}{{{JOB_KIND}}})",
                "{{job_name}} {{status}}",
                instant=True,
            )
        )
        .reduce_options(last_value())
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .height(8)
        .span(12)
    )
    return [durations, by_status, duration_heatmap, outcomes, failure_ratio, oldest]


def backup_panels() -> list[object]:
    age = (
        bargauge.Panel()
        .id(31)
        .title("Time since the last successful backup")
        .description(
            "Per graph. GesBackupTooOld fires after 2 days. A graph without any "
            "successful backup has no bar here; GesBackupNeverSucceeded fires "
            "for it once the graph is 2 days old."
        )
        .with_target(
            query(
                f"time() - {name(metrics.BACKUP_LAST_SUCCESS)}{{{GRAPH}}}",
                "{{graph_name}}",
                instant=True,
            )
        )
        .reduce_options(last_value())
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
        .unit("s")
        .thresholds(thresholds((None, "green"), (86400, "yellow"), (172800, "red")))
        .height(8)
        .span(12)
    )
    by_status = (
        bargauge.Panel()
        .id(32)
        .title("Backups by status")
        .description("Backups of each graph, by backup status.")
        .with_target(
            query(
                f"sum by (graph_name, status) "
                f"({name(metrics.BACKUP_BY_STATUS)}{{{GRAPH}}})",
                "{{graph_name}} {{status}}",
                instant=True,
            )
        )
        .reduce_options(last_value())
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .height(8)
        .span(12)
    )
    return [age, by_status]


def api_panels() -> list[object]:
    latency = (
        timeseries.Panel()
        .id(41)
        .title("API latency percentiles")
        .description(
            "Duration of the probe's API requests that got a response, by "
            "operation; computed from 5-minute bucket rates."
        )
        .targets(
            percentiles(
                "target_operation:ges_api_request_duration_seconds_bucket:rate5m",
                "operation",
                PROJECT,
            )
        )
        .unit("s")
        .legend(legend_table())
        .height(8)
        .span(12)
    )
    errors = (
        timeseries.Panel()
        .id(42)
        .title("API errors by code")
        .description(
            "Failed requests per second by operation and error code: the GES or "
            "APIGW code of the body, http_<status>, timeout, transport_error, "
            "malformed_response or response_too_large (a body over the probe's "
            "16 MiB limit)."
        )
        .with_target(
            query(
                f"sum by (operation, error_code) "
                f"(rate({name(metrics.API_ERRORS)}{{{PROJECT}}}[$__rate_interval]))",
                "{{operation}} {{error_code}}",
            )
        )
        .with_target(
            query(
                f"sum by (operation) "
                f"(rate({name(metrics.API_RETRIES)}{{{PROJECT}}}[$__rate_interval]))",
                "{{operation}} retries",
                ref_id="B",
            )
        )
        .unit("reqps")
        .legend(legend_table())
        .height(8)
        .span(12)
    )
    ratio = (
        timeseries.Panel()
        .id(43)
        .title("API error ratio (5 m)")
        .description(
            "Errors per answered request, by operation. GesApiErrorRatioHigh "
            "fires above 10 % for 10 minutes."
        )
        .with_target(
            query(
                f"{recorded('target_operation:ges_api_errors:ratio_rate5m')}"
                f"{{{PROJECT}}}",
                "{{operation}}",
            )
        )
        .unit("percentunit")
        .min(0)
        .thresholds(thresholds((None, "green"), (0.1, "red")))
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.LINE
            )
        )
        .height(8)
        .span(12)
    )
    violations = (
        timeseries.Panel()
        .id(44)
        .title("Contract violations")
        .description(
            "Responses that break the OpenAPI document, by operation and kind "
            "of violation. Any of them fires GesApiContractViolation."
        )
        .with_target(
            query(
                f"sum by (operation, kind) (increase("
                f"{name(metrics.API_CONTRACT_VIOLATIONS)}{{{PROJECT}}}"
                f"[$__rate_interval]))",
                "{{operation}} {{kind}}",
            )
        )
        .draw_style(common_models.GraphDrawStyle.BARS)
        .legend(legend_table())
        .height(8)
        .span(12)
    )
    return [latency, errors, ratio, violations]


def probe_panels() -> list[object]:
    health = (
        stat.Panel()
        .id(51)
        .title("Probe health")
        .description(
            "Scrape: Prometheus reached the probe (GesProbeDown). Cycle: the "
            "last poll cycle collected every kind (GesProbeCycleFailing). "
            "Config: the last configuration load succeeded."
        )
        .with_target(query(f'up{{job="{PROBE_SCRAPE_JOB}"}}', "scrape {{instance}}"))
        .with_target(
            query(
                f"{name(metrics.PROBE_SUCCESS)}{{{PROJECT}}}",
                "cycle {{target}}",
                ref_id="B",
            )
        )
        .with_target(
            query(
                name(metrics.PROBE_CONFIG_RELOAD_SUCCESS),
                "config {{instance}}",
                ref_id="C",
            )
        )
        .reduce_options(last_value())
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .mappings(
            [
                models.ValueMap(
                    options={
                        "0": models.ValueMappingResult(text="failing", color="red"),
                        "1": models.ValueMappingResult(text="ok", color="green"),
                    }
                )
            ]
        )
        .height(6)
        .span(8)
    )
    data_age = (
        timeseries.Panel()
        .id(52)
        .title("Data age per collection")
        .description(
            "Seconds since the served values of each collection kind were "
            "collected, and since the last fully successful cycle. "
            "GesProbeDataStale fires above 15 minutes."
        )
        .with_target(
            query(
                f"{name(metrics.PROBE_DATA_AGE)}{{{PROJECT}}}",
                "{{target}} {{collection}}",
            )
        )
        .with_target(
            query(
                f"time() - {name(metrics.PROBE_LAST_SUCCESS)}{{{PROJECT}}}",
                "{{target}} since last full cycle",
                ref_id="B",
            )
        )
        .unit("s")
        .legend(legend_table())
        .height(6)
        .span(8)
    )
    cycle = (
        timeseries.Panel()
        .id(53)
        .title("Poll cycle duration")
        .description("Wall time of the last poll cycle of each target.")
        .with_target(
            query(
                f"{name(metrics.PROBE_CYCLE_DURATION)}{{{PROJECT}}}",
                "{{target}}",
            )
        )
        .unit("s")
        .height(6)
        .span(8)
    )
    orphans = (
        stat.Panel()
        .id(54)
        .title("Orphaned gate resources")
        .description(
            "Graphs, backups and metadata records named with the conformance "
            "gate's gesct_ prefix and older than the probe's orphan age "
            "(GesGateOrphanedResources)."
        )
        .with_target(
            query(f"sum({name(metrics.GRAPH_ORPHANS)}{{{PROJECT}}})", "graphs")
        )
        .with_target(
            query(
                f"sum({name(metrics.BACKUP_ORPHANS)}{{{PROJECT}}})",
                "backups",
                ref_id="B",
            )
        )
        .with_target(
            query(
                f"sum({name(metrics.METADATA_ORPHANS)}{{{PROJECT}}})",
                "metadata records",
                ref_id="C",
            )
        )
        .reduce_options(last_value())
        .thresholds(thresholds((None, "green"), (1, "orange")))
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .height(6)
        .span(8)
    )
    coverage = (
        stat.Panel()
        .id(55)
        .title("Graphs exported and label caps")
        .description(
            "Graphs with per-graph series, and graphs left out because "
            "graphs.max_exported was reached. Capped: values exported as "
            "`other` in the last hour because their label had reached its "
            "maximum number of distinct values (GesProbeLabelValuesCapped)."
        )
        .with_target(
            query(
                f"sum({name(metrics.PROBE_GRAPHS_EXPORTED)}{{{PROJECT}}})", "exported"
            )
        )
        .with_target(
            query(
                f"sum({name(metrics.PROBE_GRAPHS_OMITTED)}{{{PROJECT}}})",
                "omitted",
                ref_id="B",
            )
        )
        .with_target(
            query(
                f"sum(increase({name(metrics.PROBE_LABEL_VALUES_CAPPED)}"
                f"{{{PROJECT}}}[1h]))",
                "capped",
                ref_id="C",
            )
        )
        .reduce_options(last_value())
        .height(6)
        .span(8)
    )
    collections = (
        statetimeline.Panel()
        .id(56)
        .title("Collection success")
        .description("Whether the last attempt at each collection kind succeeded.")
        .with_target(
            query(
                f"{name(metrics.PROBE_COLLECTION_SUCCESS)}{{{PROJECT}}}",
                "{{target}} {{collection}}",
            )
        )
        .mappings(
            [
                models.ValueMap(
                    options={
                        "0": models.ValueMappingResult(text="failed", color="red"),
                        "1": models.ValueMappingResult(text="ok", color="green"),
                    }
                )
            ]
        )
        .show_value(common_models.VisibilityMode.NEVER)
        .height(6)
        .span(8)
    )
    return [health, data_age, cycle, orphans, coverage, collections]


def variables() -> list[object]:
    datasource = (
        dashboard.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
    )
    project = (
        dashboard.QueryVariable("project")
        .label("Project")
        .datasource(DATASOURCE)
        .query(f"label_values({name(metrics.PROBE_SUCCESS)}, project_id)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    graph = (
        dashboard.QueryVariable("graph")
        .label("Graph")
        .datasource(DATASOURCE)
        .query(f"label_values({name(metrics.GRAPH_INFO)}{{{PROJECT}}}, graph_name)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    job_name = (
        dashboard.QueryVariable("job_name")
        .label("Job")
        .datasource(DATASOURCE)
        .query(f"label_values({name(metrics.JOB_BY_STATUS)}{{{PROJECT}}}, job_name)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    return [datasource, project, graph, job_name]


def overview() -> dashboard.Dashboard:
    """Build the GES overview dashboard: one row per subject, ids fixed."""
    builder = (
        dashboard.Dashboard("GES overview")
        .uid(OVERVIEW_UID)
        .description(
            "Quotas, graphs, jobs, backups and API health of the GES projects "
            "that ges-probe watches, and the probe's own health."
        )
        .tags(["ges", "ges-probe"])
        .editable()
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .variables(variables())  # type: ignore[arg-type]
    )
    rows = (
        (1, "Quotas", quota_panels()),
        (10, "Graphs", graph_panels()),
        (20, "Jobs", job_panels()),
        (30, "Backups", backup_panels()),
        (40, "API", api_panels()),
        (50, "Probe", probe_panels()),
    )
    for row_id, title, panels in rows:
        builder = builder.with_row(dashboard.Row(title).id(row_id))
        for panel in panels:
            builder = builder.with_panel(panel)  # type: ignore[arg-type]
    return builder


DASHBOARDS = {"ges-overview.json": overview}


def render(builder: dashboard.Dashboard) -> str:
    """Serialise a dashboard the same way on every run."""
    built = builder.build()
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def display(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the committed JSON with the generated one and exit 1 if "
        "they differ, writing nothing",
    )
    args = parser.parse_args(argv)

    stale = []
    for file_name, build in DASHBOARDS.items():
        path = DASHBOARDS_DIR / file_name
        generated = render(build())
        committed = path.read_text(encoding="utf-8") if path.exists() else ""
        if generated == committed:
            continue
        if args.check:
            stale.append(path)
            diff = difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                fromfile=f"{path} (committed)",
                tofile=f"{path} (generated)",
            )
            sys.stdout.writelines(list(diff)[:40])
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(generated, encoding="utf-8")
            print(f"wrote {display(path)}")

    if stale:
        names = ", ".join(display(path) for path in stale)
        print(
            f"stale dashboard JSON: {names}; run `python grafana/dashboards.py`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
