"""Seed a sandbox with many graphs, jobs and backups, then serve it on loopback.

Run by `probe_benchmark.py` as a separate process, so that the sandbox and
the probe do not share one interpreter lock. Seeding uses the sandbox's bulk
entry point, `sandbox.seed`, which adds finished resources directly: creating
10,000 graphs and 100,000 jobs through the API takes minutes. Prints one JSON
line with the base URL, project id and token, then serves until stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import sandbox


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--backups-per-graph", type=int, default=1)
    args = parser.parse_args()
    if args.jobs < args.graphs or args.jobs % args.graphs:
        parser.error("--jobs must be a multiple of --graphs")

    project = sandbox.ProjectCredentials(
        "benchproject0000000000000000000", "bench-token"
    )
    settings = sandbox.SandboxSettings(projects=(project,), time_scale=0.0)
    with sandbox.start(settings) as running:
        started = time.perf_counter()
        # Each seeded graph comes with its CreateGraph job.
        sandbox.seed(
            running,
            project.project_id,
            graphs=args.graphs,
            jobs_per_graph=args.jobs // args.graphs - 1,
            backups_per_graph=args.backups_per_graph,
            name_prefix="bench",
        )
        seed_seconds = time.perf_counter() - started
        print(json.dumps({
            "base_url": running.base_url,
            "project_id": project.project_id,
            "token": project.token,
            "seed_seconds": seed_seconds,
        }), flush=True)  # fmt: skip
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
