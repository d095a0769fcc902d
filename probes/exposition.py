"""Render the targets' state as Prometheus metric families, and serve them.

`/metrics` returns the text exposition format 0.0.4; `/healthz` returns 200
while the daemon runs with every poll thread alive, else 503; `/logs` returns recent poll-cycle log lines, of one
target with `?target=NAME`. Every target-scoped family carries `target`,
`project_id` and the union of the configured label names (a target without
one of them gets an empty value, which Prometheus treats as absent).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from probes import metrics
from probes.metrics import MetricSpec, MetricType
from probes.runner import TargetPoller
from probes.state import TargetState

logger = logging.getLogger("probes.exposition")

VERSION = "0.1.0"


class DaemonStatus:
    """Daemon-wide facts shown next to the targets: config loads and version."""

    def __init__(self) -> None:
        self.config_load_success = False
        self.config_loaded_at: float | None = None

    def config_loaded(self, success: bool) -> None:
        self.config_load_success = success
        if success:
            self.config_loaded_at = time.time()


class ProbeCollector:
    """A prometheus_client collector over the pollers' current state."""

    def __init__(
        self,
        pollers: Sequence[TargetPoller],
        label_names: Sequence[str],
        status: DaemonStatus | None = None,
    ) -> None:
        self._current = (list(pollers), tuple(label_names))
        self.status = status or DaemonStatus()

    def replace(
        self, pollers: Sequence[TargetPoller], label_names: Sequence[str]
    ) -> None:
        """Show `pollers` from the next scrape on, after a config reload."""
        self._current = (list(pollers), tuple(label_names))

    @property
    def pollers(self) -> Sequence[TargetPoller]:
        return self._current[0]

    @property
    def label_names(self) -> tuple[str, ...]:
        return self._current[1]

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        # One read of the pair, so a reload during a scrape cannot mix them.
        pollers, label_names = self._current
        rows = [(self._target_labels(p, label_names), p.state) for p in pollers]
        for spec in metrics.TARGET_METRICS:
            family = _new_family(spec, metrics.TARGET_LABELS + label_names)
            for base, state in rows:
                with state.lock:
                    _fill(family, spec, base, state, now)
            yield family
        yield from self._daemon_families()

    def _target_labels(
        self, poller: TargetPoller, label_names: tuple[str, ...]
    ) -> tuple[str, ...]:
        target = poller.target
        configured = tuple(target.labels.get(name, "") for name in label_names)
        return (target.name, target.project_id, *configured)

    def _daemon_families(self) -> Iterator[Metric]:
        build = _new_gauge(metrics.PROBE_BUILD_INFO, ())
        build.add_metric([VERSION], 1.0)
        yield build
        reload_ok = _new_gauge(metrics.PROBE_CONFIG_RELOAD_SUCCESS, ())
        reload_ok.add_metric([], 1.0 if self.status.config_load_success else 0.0)
        yield reload_ok
        reloaded_at = _new_gauge(metrics.PROBE_CONFIG_RELOAD_TIMESTAMP, ())
        if self.status.config_loaded_at is not None:
            reloaded_at.add_metric([], self.status.config_loaded_at)
        yield reloaded_at


def _new_family(spec: MetricSpec, common: Sequence[str]) -> Metric:
    labels = [*common, *spec.labels]
    name = metrics.exposed_name(spec)
    if spec.type is MetricType.COUNTER:
        return CounterMetricFamily(name, spec.help, labels=labels)
    if spec.type is MetricType.HISTOGRAM:
        return HistogramMetricFamily(name, spec.help, labels=labels)
    return _new_gauge(spec, common)


def _new_gauge(spec: MetricSpec, common: Sequence[str]) -> GaugeMetricFamily:
    # Info and state-set families are gauges in the 0.0.4 text format, which
    # is also how prometheus_client renders its own Info and Enum there.
    labels = [*common, *spec.labels]
    return GaugeMetricFamily(metrics.exposed_name(spec), spec.help, labels=labels)


def _fill(
    family: Metric,
    spec: MetricSpec,
    base: tuple[str, ...],
    state: TargetState,
    now: float,
) -> None:
    if spec.type is MetricType.COUNTER:
        for labels, value in state.counters.get(spec, {}).items():
            family.add_metric([*base, *labels], value)  # type: ignore[attr-defined]
        return
    if spec.type is MetricType.HISTOGRAM:
        for labels, histogram in state.histograms.get(spec, {}).items():
            family.add_metric(  # type: ignore[attr-defined]
                [*base, *labels], histogram.cumulative(), histogram.total
            )
        return
    health = _health_value(spec, state, now)
    if health is not None:
        for labels, value in health:
            family.add_metric([*base, *labels], value)  # type: ignore[attr-defined]
        return
    for snapshot in state.snapshots.values():
        for labels, value in snapshot.samples.values.get(spec, {}).items():
            family.add_metric([*base, *labels], value)  # type: ignore[attr-defined]


HealthRows = list[tuple[tuple[str, ...], float]]


def _health_value(
    spec: MetricSpec, state: TargetState, now: float
) -> HealthRows | None:
    """Return the rows of a health family computed at scrape time, else None."""
    if spec is metrics.PROBE_SUCCESS:
        if state.last_cycle_success is None:
            return []
        return [((), 1.0 if state.last_cycle_success else 0.0)]
    if spec is metrics.PROBE_LAST_SUCCESS:
        return [] if state.last_success_at is None else [((), state.last_success_at)]
    if spec is metrics.PROBE_CYCLE_DURATION:
        seconds = state.cycle_duration_seconds
        return [] if seconds is None else [((), seconds)]
    if spec is metrics.PROBE_COLLECTION_SUCCESS:
        return [
            ((kind,), 1.0 if ok else 0.0)
            for kind, ok in sorted(state.collection_success.items())
        ]
    if spec is metrics.PROBE_DATA_AGE:
        return [
            ((kind,), max(0.0, now - snapshot.collected_at))
            for kind, snapshot in sorted(state.snapshots.items())
        ]
    return None


def render(registry: CollectorRegistry) -> bytes:
    """Return the text exposition of everything in `registry`."""
    return generate_latest(registry)


def build_registry(collector: ProbeCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


class MetricsServer:
    """A threaded HTTP server for /metrics and /healthz on one address."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry,
        healthy: Callable[[], bool] = lambda: True,
        logs: Callable[[str | None], str] | None = None,
    ) -> None:  # fmt: skip
        handler = _make_handler(registry, healthy, logs)
        # ThreadingHTTPServer binds IPv4 sockets only, so the family is taken
        # from the address: `::1` or a name that resolves to IPv6 needs AF_INET6.
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type(
            "MetricsHTTPServer", (ThreadingHTTPServer,), {"address_family": family}
        )
        self.httpd = server_class((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="metrics-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _make_handler(
    registry: CollectorRegistry,
    healthy: Callable[[], bool],
    logs: Callable[[str | None], str] | None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, render(registry))
            elif path == "/healthz":
                ok = healthy()
                self._send(
                    200 if ok else 503,
                    "text/plain",
                    b"ok\n" if ok else b"unhealthy: stopping or a poll thread died\n",
                )
            elif path == "/logs" and logs is not None:
                target = parse_qs(query).get("target", [None])[0]
                self._send(200, "text/plain; charset=utf-8", logs(target).encode())
            else:
                message = b"not found; try /metrics, /healthz or /logs\n"
                self._send(404, "text/plain", message)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug(format, *args)

    return Handler
