"""Benchmark one ges-probe poll cycle against a large sandbox.

    .venv/bin/python bench/probe_benchmark.py [--graphs 10000] [--jobs 100000]

Measures, in one run:

- API calls per cycle, against the minimum that paging at the page limit
  needs (ceil(count / limit) per listing, at least 1);
- cycle wall time as a ratio to the time a bare httpx client takes to fetch
  the same pages from the same sandbox (the baseline: the sandbox alone
  serving those pages, bodies read but not parsed);
- resident memory the probe keeps after a cycle, per 1,000 graphs;
- the time to render /metrics.

The sandbox runs in a child process (bench/seed_and_serve.py), so that its
request handling does not compete with the probe for one interpreter lock.
Not a test: it asserts nothing and takes about 90 s at the default sizes.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import sandbox
from probes import metrics
from probes.client import pages_needed
from probes.config import Auth, Target
from probes.exposition import ProbeCollector, build_registry, render
from probes.runner import TargetPoller, load_contract

REPEATS = 3
HERE = Path(__file__).resolve().parent


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def start_sandbox(
    graphs: int, jobs: int
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    command = [
        sys.executable, str(HERE / "seed_and_serve.py"),
        "--graphs", str(graphs), "--jobs", str(jobs),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("the sandbox process exited before serving")
    return process, json.loads(line)


def page_urls(info: dict[str, Any], counts: dict[str, int], limit: int) -> list[str]:
    prefix = f"/v1.0/{info['project_id']}/graphs"
    urls = [f"{prefix}/quotas"]
    for path, count in (("", counts["graphs"]), ("/jobs", counts["jobs"]),
                        ("/backups", counts["backups"]),
                        ("/metadatas", counts["metadata"])):  # fmt: skip
        for page in range(pages_needed(count, limit)):
            urls.append(f"{prefix}{path}?offset={page * limit}&limit={limit}")
    return urls


def fetch_pages(http: httpx.Client, urls: list[str]) -> float:
    """Return the wall time to fetch every URL in turn, bodies read."""
    started = time.perf_counter()
    for url in urls:
        response = http.get(url)
        response.raise_for_status()
        response.read()
    return time.perf_counter() - started


def requests_by_operation(poller: TargetPoller) -> dict[str, float]:
    histograms = poller.state.histograms.get(metrics.API_REQUEST_DURATION, {})
    totals: dict[str, float] = {}
    for (operation, _status), histogram in histograms.items():
        totals[operation] = totals.get(operation, 0) + histogram.count
    return totals


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(graphs: int, jobs: int) -> dict[str, Any]:
    process, info = start_sandbox(graphs, jobs)
    try:
        return measure(info, graphs)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def measure(info: dict[str, Any], graphs: int) -> dict[str, Any]:
    limit = sandbox.MAX_PAGE_LIMIT
    http = httpx.Client(
        base_url=info["base_url"], headers={"X-Auth-Token": info["token"]}, timeout=60
    )
    prefix = f"/v1.0/{info['project_id']}/graphs"
    counts = {
        "graphs": http.get(prefix, params={"limit": 1}).json()["graphCount"],
        "jobs": http.get(f"{prefix}/jobs", params={"limit": 1}).json()["jobCount"],
        "backups": http.get(f"{prefix}/backups", params={"limit": 1}).json()[
            "backupCount"
        ],
        "metadata": http.get(f"{prefix}/metadatas", params={"limit": 1}).json()[
            "schemaCount"
        ],
    }
    urls = page_urls(info, counts, limit)

    validator, statuses = load_contract()
    gc.collect()
    rss_before = resident_bytes()
    target = Target(
        name="bench",
        url=info["base_url"],
        project_id=info["project_id"],
        auth=Auth(token=info["token"]),
        max_exported_graphs=graphs,
    )
    poller = TargetPoller(target, validator, statuses)

    baseline_times, cycle_times = [], []
    calls: dict[str, float] = {}
    for _ in range(REPEATS):
        baseline_times.append(fetch_pages(http, urls))
        before = requests_by_operation(poller)
        cycle_times.append(timed(poller.run_cycle))
        after = requests_by_operation(poller)
        calls = {op: after[op] - before.get(op, 0) for op in after}
    gc.collect()
    rss_after = resident_bytes()

    # The same cycle without any response validation, to show its share.
    unvalidated = TargetPoller(target, None, statuses)
    unvalidated_times = []
    for _ in range(REPEATS):
        baseline_times.append(fetch_pages(http, urls))
        unvalidated_times.append(timed(unvalidated.run_cycle))
    unvalidated.close()

    registry = build_registry(ProbeCollector([poller], ()))
    render_times = [timed(lambda: render(registry)) for _ in range(REPEATS)]
    exposition = render(registry)

    capped = Target(**{**target.__dict__, "max_exported_graphs": 1000})
    capped_poller = TargetPoller(capped, validator, statuses)
    capped_poller.run_cycle()
    capped_registry = build_registry(ProbeCollector([capped_poller], ()))
    capped_render = [timed(lambda: render(capped_registry)) for _ in range(REPEATS)]
    capped_poller.close()
    poller.close()
    http.close()

    baseline = statistics.median(baseline_times)
    cycle = statistics.median(cycle_times)
    return {
        "graphs": counts["graphs"],
        "jobs": counts["jobs"],
        "backups": counts["backups"],
        "page_limit": limit,
        "seed_seconds": round(info["seed_seconds"], 1),
        "api_calls_per_cycle": calls,
        "api_calls_total": sum(calls.values()),
        "api_calls_minimum": len(urls),
        "baseline_seconds": round(baseline, 3),
        "cycle_seconds": round(cycle, 3),
        "cycle_ratio": round(cycle / baseline, 2),
        "cycle_without_validation_seconds": round(
            statistics.median(unvalidated_times), 3
        ),
        "cycle_without_validation_ratio": round(
            statistics.median(unvalidated_times) / baseline, 2
        ),
        "rss_retained_mib": round((rss_after - rss_before) / 2**20, 1),
        "rss_mib_per_1000_graphs": round(
            (rss_after - rss_before) / 2**20 / (counts["graphs"] / 1000), 2
        ),
        "render_seconds": round(statistics.median(render_times), 3),
        "render_bytes": len(exposition),
        "render_lines": exposition.count(b"\n"),
        "render_capped_1000_seconds": round(statistics.median(capped_render), 3),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpu_count()} CPUs",
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(run(args.graphs, args.jobs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
