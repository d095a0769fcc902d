"""Plot what the GES overview dashboard shows, from real Prometheus query results.

    python grafana/render_preview.py                       # own probe + Prometheus
    python grafana/render_preview.py --prometheus URL      # an existing server

Without --prometheus the script starts `ges-probe` on its embedded sandbox and
a Prometheus server (Debian's /usr/bin/prometheus) on free loopback ports,
lets them run for --seconds, and stops both. It then runs the queries of a few
dashboard panels, read from the committed dashboard JSON, as range queries
and saves one plot per panel in a PNG. No Grafana server runs here, so this is
the dashboard's data, not a screenshot of Grafana.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.prometheus.expressions import (
    RULE_FILES,
    dashboard_panels,
    load_dashboard,
    substitute_variables,
)
from tests.prometheus_server import PrometheusServer, free_port

DASHBOARD = REPO / "grafana" / "dashboards" / "ges-overview.json"
DEFAULT_OUTPUT = REPO / "docs" / "monitoring-overview.png"
DEFAULT_SECONDS = 120
STEP_SECONDS = 2
# Panel ids of the overview dashboard to plot, in reading order.
PREVIEW_PANELS = (2, 12, 21, 23, 41, 42, 31, 52)
PROBE_STARTUP_SECONDS = 30.0


@contextmanager
def running_probe() -> Iterator[str]:
    """Run ges-probe on its embedded sandbox and yield its HOST:PORT."""
    address = f"127.0.0.1:{free_port()}"
    command = [
        sys.executable,
        "-m",
        "probes",
        f"--web.listen-address={address}",
        "--interval=1",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + PROBE_STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ges-probe exited with {process.returncode}")
            try:
                if httpx.get(f"http://{address}/healthz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("ges-probe did not become healthy in time")
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)


def query_range(
    prometheus_url: str, expr: str, start: float, end: float
) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{prometheus_url}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": STEP_SECONDS},
        timeout=30,
    )
    body = response.json()
    if body["status"] != "success":
        raise RuntimeError(f"query `{expr}` failed: {body.get('error')}")
    return list(body["data"]["result"])


def legend(template: str, labels: dict[str, str]) -> str:
    if not template or template == "__auto":
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    for key, value in labels.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def plot_panel(
    axes: plt.Axes, panel: dict[str, Any], prometheus_url: str, start: float
) -> None:
    end = time.time()
    for target in panel["targets"]:
        expr = substitute_variables(target["expr"])
        for series in query_range(prometheus_url, expr, start, end):
            times = [float(t) - start for t, _ in series["values"]]
            values = [float(v) for _, v in series["values"]]
            name = legend(target.get("legendFormat", ""), series["metric"])
            axes.step(times, values, where="post", label=name[:40])
    axes.set_title(f"{panel['id']}: {panel['title']}", fontsize=9)
    axes.set_xlabel("seconds since start", fontsize=7)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=5, loc="upper left", ncol=2)


def render(prometheus_url: str, start: float, output: Path) -> None:
    panels = {p["id"]: p for p in dashboard_panels(load_dashboard(DASHBOARD))}
    figure, grid = plt.subplots(4, 2, figsize=(12, 13))
    for axes, panel_id in zip(grid.flat, PREVIEW_PANELS, strict=True):
        plot_panel(axes, panels[panel_id], prometheus_url, start)
    figure.suptitle(
        "GES overview dashboard: panel queries on ges-probe's embedded sandbox",
        fontsize=11,
    )
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    print(f"wrote {output}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", help="URL of a Prometheus server to query")
    parser.add_argument(
        "--seconds",
        type=int,
        default=DEFAULT_SECONDS,
        help=f"seconds of data to collect and plot (default: {DEFAULT_SECONDS})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    if args.prometheus:
        render(args.prometheus, time.time() - args.seconds, args.output)
        return 0
    with (
        running_probe() as address,
        tempfile.TemporaryDirectory() as directory,
        PrometheusServer(Path(directory), [address], rule_files=RULE_FILES) as server,
    ):
        start = time.time()
        time.sleep(args.seconds)
        render(server.url, start, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
