"""Every PromQL expression the rules and dashboards ship, and the names they select.

The rules come from prometheus/rules/*.yaml and the queries from the committed
dashboard JSON (which a test keeps equal to what grafana/dashboards.py
generates), so the checks read what Grafana and Prometheus would load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "prometheus" / "rules"
RULE_FILES = (RULES_DIR / "ges-recording.yaml", RULES_DIR / "ges-alerts.yaml")
RULE_TESTS = tuple(sorted((RULES_DIR / "tests").glob("*.yaml")))
DASHBOARD_FILES = tuple(sorted((REPO / "grafana" / "dashboards").glob("*.json")))

# Values for Grafana's variables that select everything over a short range:
# the end-to-end test runs for well under a minute of scrapes.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "$project": ".*",
    "$graph": ".*",
    "$job_name": ".*",
}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.*),\s*(?P<label>\w+)\)$")
# Series Prometheus makes itself rather than scraping from the probe.
PROMETHEUS_SERIES = frozenset({"up"})


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it is defined."""

    source: str
    expr: str


def load_rule_groups() -> list[dict[str, Any]]:
    groups = []
    for path in RULE_FILES:
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for group in load_rule_groups()
        for rule in group["rules"]
        if "alert" in rule
    ]


def recording_rule_names() -> set[str]:
    return {
        rule["record"]
        for group in load_rule_groups()
        for rule in group["rules"]
        if "record" in rule
    }


def rule_expressions() -> list[Expression]:
    return [
        Expression(rule.get("alert") or rule["record"], rule["expr"])
        for group in load_rule_groups()
        for rule in group["rules"]
    ]


def load_dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every panel that is not a row, including panels nested in rows."""
    panels = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            panels.extend(panel.get("panels", []))
        else:
            panels.append(panel)
    return panels


def substitute_variables(expr: str) -> str:
    """Replace Grafana's variables with values Prometheus can run."""
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    if "$" in expr:
        raise AssertionError(f"unknown Grafana variable in `{expr}`")
    return expr


def panel_expressions() -> list[Expression]:
    """Return each panel query with Grafana's variables substituted."""
    found = []
    for path in DASHBOARD_FILES:
        dashboard = load_dashboard(path)
        for panel in dashboard_panels(dashboard):
            for target in panel.get("targets", []):
                source = f"{dashboard['uid']} panel {panel['id']} {target['refId']}"
                found.append(Expression(source, substitute_variables(target["expr"])))
    return found


def variable_selectors() -> list[Expression]:
    """Return the series selector inside each `label_values(...)` variable query."""
    found = []
    for path in DASHBOARD_FILES:
        dashboard = load_dashboard(path)
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = LABEL_VALUES.match(variable["query"])
            if match is None:
                raise AssertionError(
                    f"variable `{variable['name']}` is not a label_values() query"
                )
            selector = substitute_variables(match["selector"])
            found.append(
                Expression(f"{dashboard['uid']} ${variable['name']}", selector)
            )
    return found


def selected_names(expr: str) -> set[str]:
    """Return the metric names of every vector selector in `expr`."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def with_recorded_inputs(names: set[str]) -> set[str]:
    """Add to `names` every name that the recording rules among them select."""
    definitions = {
        rule["record"]: rule["expr"]
        for group in load_rule_groups()
        for rule in group["rules"]
        if "record" in rule
    }
    expanded = set(names)
    pending = [name for name in names if name in definitions]
    while pending:
        for name in selected_names(definitions[pending.pop()]) - expanded:
            expanded.add(name)
            if name in definitions:
                pending.append(name)
    return expanded
