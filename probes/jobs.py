"""Collect job counts, the oldest running job, and finished-job durations."""

from __future__ import annotations

from collections import Counter
from typing import Any

from probes import metrics
from probes.collect import CollectContext, label, parse_wire_time
from probes.state import Samples

OPERATION = "listJobs"
PATH = "/v1.0/{project_id}/graphs/jobs"
FINISHED = ("success", "failed")
UNFINISHED = ("pending", "waiting", "running")
# A finished job missing from this many listings in a row is forgotten. A job
# that shifts between pages while the listing is paged is missing from one
# listing only, so it is not observed a second time when it comes back.
FORGET_AFTER_CYCLES = 10


def collect_jobs(context: CollectContext) -> Samples:
    client, target = context.client, context.target
    jobs: list[dict[str, Any]] = []
    for page in client.list_pages(
        OPERATION, client.path(PATH), "jobList", "jobCount", target.page_limit
    ):
        jobs.extend(page)
    for job in jobs:
        if not isinstance(job.get("jobId"), str) or not isinstance(
            job.get("status"), str
        ):
            raise client.malformed(OPERATION, "a job has no string `jobId` or `status`")

    samples = Samples()
    by_status: Counter[tuple[str, str, str]] = Counter()
    oldest_begin: float | None = None
    for job in jobs:
        kind = (label(job.get("jobType")), label(job.get("jobName")))
        by_status[(*kind, label(job["status"]))] += 1
        if job["status"] in UNFINISHED:
            begin = parse_wire_time(job.get("beginTime"))
            if begin is not None and (oldest_begin is None or begin < oldest_begin):
                oldest_begin = begin

    for labels, count in by_status.items():
        samples.set(metrics.JOB_BY_STATUS, labels, count)
    age = 0.0 if oldest_begin is None else max(0.0, context.now - oldest_begin)
    samples.set(metrics.JOB_OLDEST_RUNNING_AGE, (), age)

    _observe_finished(context, jobs)
    return samples


def _observe_finished(context: CollectContext, jobs: list[dict[str, Any]]) -> None:
    state = context.state
    cycle = state.cycles
    seen = state.finished_jobs
    for job in jobs:
        if job["status"] not in FINISHED:
            continue
        job_id = job["jobId"]
        first_time = job_id not in seen
        seen[job_id] = cycle
        if not first_time:
            continue

        kind = (label(job.get("jobType")), label(job.get("jobName")))
        if job["status"] == "failed":
            state.increment(metrics.JOB_FAILED, kind)
        begin = parse_wire_time(job.get("beginTime"))
        end = parse_wire_time(job.get("endTime"))
        if begin is not None and end is not None and end >= begin:
            state.observe(metrics.JOB_DURATION, (*kind, job["status"]), end - begin)

    for job_id in [
        j for j, last in seen.items() if cycle - last >= FORGET_AFTER_CYCLES
    ]:
        del seen[job_id]
