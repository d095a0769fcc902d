from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from probes import metrics
from tests.prometheus.expressions import (
    DASHBOARD_FILES,
    REPO,
    RULE_FILES,
    RULE_TESTS,
    alert_rules,
    dashboard_panels,
    load_dashboard,
    recording_rule_names,
    rule_expressions,
    selected_names,
    substitute_variables,
    with_recorded_inputs,
)

SEVERITIES = {"critical", "warning", "info"}
REQUIRED_ANNOTATIONS = {
    "summary",
    "description",
    "dashboard_uid",
    "panel_id",
    "dashboard_url",
}
SCRAPE_CONFIGS = (
    REPO / "prometheus" / "prometheus.yaml",
    REPO / "prometheus" / "prometheus-fleet.yaml",
)
OPENAPI_DOCUMENT = REPO / "openapi" / "ges-management-v1.yaml"


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(path).is_file():
        pytest.skip("no promtool; install Debian's `prometheus` package")
    return subprocess.run(
        [path, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def probe_names() -> set[str]:
    """PromQL names of every family, with the sample suffixes of histograms."""
    names = set()
    for spec in metrics.ALL_METRICS:
        name = metrics.exposed_name(spec)
        names.add(name)
        if spec.type is metrics.MetricType.HISTOGRAM:
            names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    return names


def graph_status_schema() -> dict[str, object]:
    document = yaml.safe_load(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    return document["components"]["schemas"]["GraphStatus"]


def alert_expr(name: str) -> str:
    return next(rule["expr"] for rule in alert_rules() if rule["alert"] == name)


def status_regex(expr: str) -> set[str]:
    match = re.search(r'status=~"([^"]+)"', expr)
    assert match is not None, expr
    return set(match[1].split("|"))


def test_rule_files_pass_promtool_check() -> None:
    result = promtool("check", "rules", *RULE_FILES)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", SCRAPE_CONFIGS, ids=lambda path: path.name)
def test_scrape_config_passes_promtool_check(config: Path) -> None:
    result = promtool("check", "config", config)

    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass_promtool() -> None:
    result = promtool("test", "rules", *RULE_TESTS)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout


def test_every_alert_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}

    assert names - firing == set(), "alerts without a firing test"
    assert names - quiet == set(), "alerts without a quiet test"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_has_severity_and_annotations(rule: dict[str, object]) -> None:
    labels = rule.get("labels", {})
    annotations = rule.get("annotations", {})

    assert labels.get("severity") in SEVERITIES  # type: ignore[union-attr]
    assert REQUIRED_ANNOTATIONS <= set(annotations)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_links_to_existing_panel(rule: dict[str, object]) -> None:
    annotations: dict[str, str] = rule["annotations"]  # type: ignore[assignment]
    dashboards = {d["uid"]: d for d in map(load_dashboard, DASHBOARD_FILES)}
    dashboard = dashboards.get(annotations["dashboard_uid"])
    assert dashboard is not None, f"no dashboard `{annotations['dashboard_uid']}`"
    panels = {str(panel["id"]): panel for panel in dashboard_panels(dashboard)}

    panel = panels.get(annotations["panel_id"])

    assert panel is not None, f"no panel {annotations['panel_id']}"
    url = annotations["dashboard_url"]
    assert url.startswith(f"/d/{dashboard['uid']}/")
    assert f"viewPanel={annotations['panel_id']}" in url
    panel_names = set().union(
        *(selected_names(substitute_variables(t["expr"])) for t in panel["targets"])
    )
    shared = with_recorded_inputs(panel_names) & selected_names(str(rule["expr"]))
    assert shared, f"panel {panel['id']} shows none of the alert's series"


@pytest.mark.parametrize("rule", rule_expressions(), ids=lambda rule: rule.source)
def test_rule_selects_only_probe_or_recorded_names(rule: object) -> None:
    known = probe_names() | recording_rule_names() | {"up"}

    unknown = selected_names(rule.expr) - known  # type: ignore[attr-defined]

    assert unknown == set()


def test_stuck_alert_matches_spec_transitional_statuses() -> None:
    transitional = {str(code) for code in graph_status_schema()["x-ges-transitional"]}

    assert status_regex(alert_expr("GesGraphStuckTransitional")) == transitional


def test_faulty_alert_selects_faulty_and_failed_statuses() -> None:
    codes = {str(code) for code in graph_status_schema()["enum"]}

    assert status_regex(alert_expr("GesGraphFaulty")) == {"300", "303"}
    assert {"300", "303"} <= codes


def test_status_code_rule_covers_every_spec_status() -> None:
    rule = next(
        rule
        for group in yaml.safe_load(RULE_FILES[0].read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if rule.get("record") == "target_graph:ges_graph_status:code"
    )
    pairs = re.findall(r'status="([^"]+)"\} == 1\) \* (-?\d+)', rule["expr"])
    codes = {str(code) for code in graph_status_schema()["enum"]}

    assert {status for status, _ in pairs} == codes | {metrics.UNKNOWN_STATUS}
    assert all(value == status for status, value in pairs if status in codes)
    assert dict(pairs)[metrics.UNKNOWN_STATUS] == "-1"
