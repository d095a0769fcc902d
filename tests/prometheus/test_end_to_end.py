from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.prometheus.expressions import (
    PROMETHEUS_SERIES,
    Expression,
    panel_expressions,
    recording_rule_names,
    rule_expressions,
    selected_names,
    variable_selectors,
)
from tests.prometheus_server import PrometheusServer

# Enough for the embedded workload to create, import, back up and fail a few
# graphs and for Prometheus to take the two scrapes a rate needs.
DATA_WAIT_SECONDS = 90.0
RULES_WAIT_SECONDS = 30.0


def exposed_sample_names(probe_address: str) -> set[str]:
    text = httpx.get(f"http://{probe_address}/metrics", timeout=5).text
    return {
        sample.name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def every_expression() -> list[Expression]:
    return rule_expressions() + panel_expressions() + variable_selectors()


def query_status(prometheus: PrometheusServer, expr: str) -> dict[str, object]:
    response = prometheus.http.get("/api/v1/query", params={"query": expr})
    return response.json()


def unexposed_names(probe_address: str) -> dict[str, list[str]]:
    """Map each expression to the names it selects that /metrics lacks."""
    exposed = exposed_sample_names(probe_address)
    known = exposed | recording_rule_names() | PROMETHEUS_SERIES
    return {
        expression.source: sorted(selected_names(expression.expr) - known)
        for expression in every_expression()
        if selected_names(expression.expr) - known
    }


def test_expressions_select_only_exposed_names(probe_address: str) -> None:
    # Per-graph and per-job families appear once the workload has made graphs
    # and finished jobs, so the check polls the exposition for a while.
    deadline = time.monotonic() + DATA_WAIT_SECONDS
    unknown = unexposed_names(probe_address)
    while unknown and time.monotonic() < deadline:
        time.sleep(1)
        unknown = unexposed_names(probe_address)

    assert unknown == {}


def test_expressions_parse_in_prometheus(prometheus: PrometheusServer) -> None:
    rejected = {}
    for expression in every_expression():
        body = query_status(prometheus, expression.expr)
        if body["status"] != "success":
            rejected[expression.source] = body.get("error")

    assert rejected == {}


def test_panel_queries_return_data(prometheus: PrometheusServer) -> None:
    pending = panel_expressions()
    deadline = time.monotonic() + DATA_WAIT_SECONDS
    while pending and time.monotonic() < deadline:
        pending = [e for e in pending if not prometheus.query(e.expr)]
        if pending:
            time.sleep(1)

    assert [f"{e.source}: {e.expr}" for e in pending] == []


def test_rules_evaluate_without_errors(prometheus: PrometheusServer) -> None:
    deadline = time.monotonic() + RULES_WAIT_SECONDS
    while True:
        body = prometheus.http.get("/api/v1/rules").json()
        rules = [rule for group in body["data"]["groups"] for rule in group["rules"]]
        evaluated = all(
            not rule["lastEvaluation"].startswith("0001-") for rule in rules
        )
        if evaluated or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    names = {rule["name"] for rule in rules}
    unhealthy = {
        rule["name"]: rule.get("lastError")
        for rule in rules
        if rule["health"] != "ok" or rule.get("lastError")
    }

    assert evaluated
    assert {e.source for e in rule_expressions()} <= names
    assert unhealthy == {}
