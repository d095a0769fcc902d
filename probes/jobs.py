"""Collect job counts, the oldest running job, and finished-job durations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import openapi
from probes import metrics
from probes.collect import CollectContext, free_label, known_value, parse_wire_time
from probes.state import Samples

OPERATION = "listJobs"
PATH = "/v1.0/{project_id}/graphs/jobs"
FINISHED = ("success", "failed")
UNFINISHED = ("pending", "waiting", "running")
JOB_STATUSES = openapi.schema_enum("JobStatus")
# A finished job missing from this many listings in a row is forgotten. A job
# that shifts between pages while the listing is paged is missing from one
# listing only, so it is not observed a second time when it comes back.
FORGET_AFTER_CYCLES = 10


@dataclass
class _Tally:
    """Totals of one listing, to which pages are added one at a time."""

    by_status: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # (job type, job name) -> begin time of its oldest unfinished job.
    oldest_begin: dict[tuple[str, str], float] = field(default_factory=dict)
    finished_ids: list[str] = field(default_factory=list)
    new_ids: set[str] = field(default_factory=set)
    # (job type, job name, status, duration or None) of jobs not seen before.
    new_finished: list[tuple[str, str, str, float | None]] = field(default_factory=list)


def collect_jobs(context: CollectContext) -> Samples:
    client, target = context.client, context.target
    tally = _Tally()
    # Pages are folded one by one so that only one page of raw job objects is
    # held at a time, whatever the number of jobs.
    for page in client.list_pages(
        OPERATION, client.path(PATH), "jobList", "jobCount", target.page_limit
    ):
        for job in page:
            if not isinstance(job.get("jobId"), str) or not isinstance(
                job.get("status"), str
            ):
                raise client.malformed(
                    OPERATION, "a job has no string `jobId` or `status`"
                )
            _fold(tally, job, context)

    samples = Samples()
    for labels, count in tally.by_status.items():
        samples.set(metrics.JOB_BY_STATUS, labels, count)
    for kind, begin in tally.oldest_begin.items():
        age = max(0.0, context.now - begin)
        samples.set(metrics.JOB_OLDEST_RUNNING_AGE, kind, age)

    _record_finished(context, tally)
    return samples


def _fold(tally: _Tally, job: dict[str, Any], context: CollectContext) -> None:
    seen = context.state.finished_jobs
    status = job["status"]
    job_type = free_label(job.get("jobType"), "job_type", context.state)
    job_name = free_label(job.get("jobName"), "job_name", context.state)
    tally.by_status[(job_type, job_name, known_value(status, JOB_STATUSES))] += 1

    if status in UNFINISHED:
        begin = parse_wire_time(job.get("beginTime"))
        oldest = tally.oldest_begin.get((job_type, job_name))
        if begin is not None and (oldest is None or begin < oldest):
            tally.oldest_begin[(job_type, job_name)] = begin
    elif status in FINISHED:
        job_id = job["jobId"]
        tally.finished_ids.append(job_id)
        # A job on two pages (the listing shifted while it was paged) is
        # still observed once.
        if job_id in seen or job_id in tally.new_ids:
            return
        tally.new_ids.add(job_id)
        begin = parse_wire_time(job.get("beginTime"))
        end = parse_wire_time(job.get("endTime"))
        duration = None
        if begin is not None and end is not None and end >= begin:
            duration = end - begin
        tally.new_finished.append((job_type, job_name, status, duration))


def _record_finished(context: CollectContext, tally: _Tally) -> None:
    """Observe each newly finished job once, after the whole listing succeeded."""
    state = context.state
    cycle = state.cycles
    seen = state.finished_jobs
    for job_id in tally.finished_ids:
        seen[job_id] = cycle
    for job_type, job_name, status, duration in tally.new_finished:
        if status == "failed":
            state.increment(metrics.JOB_FAILED, (job_type, job_name))
        if duration is not None:
            state.observe(metrics.JOB_DURATION, (job_type, job_name, status), duration)

    stale = [j for j, last in seen.items() if cycle - last >= FORGET_AFTER_CYCLES]
    for job_id in stale:
        del seen[job_id]
