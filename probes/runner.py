"""One poll cycle of one target, timed, and the loop that repeats it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

import openapi
from probes import backups, graphs, jobs, metadata, metrics, quotas
from probes.auth import AkSkAuth, IamPasswordAuth, TokenAuth, TokenSource
from probes.client import ApiError, GesClient, ResponseValidator
from probes.collect import CollectContext, Collection
from probes.config import Target
from probes.logs import CYCLE_LOGGER, log
from probes.state import TargetState

COLLECTIONS: dict[str, Collection] = {
    "quotas": quotas.collect_quotas,
    "graphs": graphs.collect_graphs,
    "jobs": jobs.collect_jobs,
    "backups": backups.collect_backups,
    "metadata": metadata.collect_metadata,
}
# The operation each collection kind calls, for errors the client did not see.
OPERATIONS = {
    "quotas": quotas.OPERATION,
    "graphs": graphs.OPERATION,
    "jobs": jobs.OPERATION,
    "backups": backups.OPERATION,
    "metadata": metadata.OPERATION,
}
# `openapi.Violation.kind` values, and the error codes the client itself
# assigns; each starts at 0 for every operation the target calls.
VIOLATION_KINDS = ("undocumented_status", "schema")
INITIAL_ERROR_CODES = (
    "timeout", "transport_error", "malformed_response", "response_too_large",
)  # fmt: skip

logger = logging.getLogger(CYCLE_LOGGER)


def build_auth(target: Target, timeouts: httpx.Timeout) -> httpx.Auth:
    """Return the `httpx.Auth` flow for the target's kind of credentials."""
    auth = target.auth
    if auth.token is not None:
        return TokenAuth(auth.token)
    if auth.access_key is not None and auth.secret_key is not None:
        return AkSkAuth(auth.access_key, auth.secret_key)
    assert auth.iam is not None
    return IamPasswordAuth(TokenSource(auth.iam, httpx.Client(timeout=timeouts)))


def check_response(
    operation_id: str, status_code: int, body: Any
) -> list[openapi.Violation]:
    """List the ways a response breaks the document, for `GesClient`.

    Most bodies conform, so the fast check runs first and only a failing body
    is validated again for the violations' kinds and paths.
    """
    if openapi.is_valid_response(operation_id, status_code, body):
        return []
    return openapi.validate_response(operation_id, status_code, body)


def load_contract() -> tuple[ResponseValidator, tuple[str, ...]]:
    """Return the response validator and the GraphStatus codes of the document."""
    return check_response, openapi.schema_enum("GraphStatus")


class TargetPoller:
    """The client and state of one target, and its poll cycle."""

    def __init__(
        self,
        target: Target,
        validator: ResponseValidator | None,
        graph_statuses: Sequence[str],
        transport: httpx.BaseTransport | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.target = target
        self.state = TargetState()
        self.graph_statuses = tuple(graph_statuses)
        self.stop = stop or threading.Event()
        self.auth = build_auth(target, target.timeouts.to_httpx())
        self.client = GesClient(
            target.url,
            target.project_id,
            self.auth,
            self.state,
            validator,
            timeouts=target.timeouts,
            retry=target.retries,
            transport=transport,
            stop=self.stop,
            target_name=target.name,
        )
        self._initialize_counters()

    def close(self) -> None:
        self.client.close()
        if isinstance(self.auth, IamPasswordAuth):
            self.auth.source.close()

    def _initialize_counters(self) -> None:
        """Start the API counters at 0, so a rate over them exists from the start.

        Only label values known in advance are initialized: the probe's own
        error kinds, not the GES codes the API may send.
        """
        for kind in self.target.collections:
            operation = OPERATIONS[kind]
            self.state.increment(metrics.API_RETRIES, (operation,), 0)
            for error_code in INITIAL_ERROR_CODES:
                self.state.increment(metrics.API_ERRORS, (operation, error_code), 0)
            for violation in VIOLATION_KINDS:
                labels = (operation, violation)
                self.state.increment(metrics.API_CONTRACT_VIOLATIONS, labels, 0)
        for label_name in metrics.MAX_LABEL_VALUES:
            self.state.increment(metrics.PROBE_LABEL_VALUES_CAPPED, (label_name,), 0)

    def run_cycle(self) -> bool:
        """Run every configured collection once; return whether all succeeded."""
        started = time.perf_counter()
        self.state.cycles += 1
        failures = [kind for kind in self.target.collections if not self._collect(kind)]
        seconds = time.perf_counter() - started
        success = not failures
        self.state.finish_cycle(success, seconds, time.time())

        graph_count, omitted = 0, 0.0
        snapshot = self.state.snapshots.get("graphs")
        if snapshot is not None:
            by_status = snapshot.samples.values.get(metrics.GRAPH_BY_STATUS, {})
            graph_count = int(sum(by_status.values()))
            omitted = snapshot.samples.get(metrics.PROBE_GRAPHS_OMITTED) or 0.0
        log(
            logger,
            logging.INFO,
            "poll cycle finished",
            target=self.target.name,
            success=success,
            duration_seconds=seconds,
            graphs=graph_count,
            failed_collections=",".join(failures) or "none",
        )
        if omitted:
            log(
                logger,
                logging.WARNING,
                "graph cap reached; some graphs have no per-graph series",
                target=self.target.name,
                graphs_omitted=int(omitted),
                max_exported=self.target.max_exported_graphs,
            )
        return success

    def _collect(self, kind: str) -> bool:
        context = CollectContext(
            client=self.client,
            target=self.target,
            state=self.state,
            now=time.time(),
            graph_statuses=self.graph_statuses,
        )
        try:
            samples = COLLECTIONS[kind](context)
        except ApiError as exc:
            self._log_failure(kind, exc.operation, exc.error_code, exc)
        except Exception as exc:  # noqa: BLE001 - a bad response must not stop polling
            # Collections check the fields they read; anything they miss is
            # still a response the probe could not use.
            operation = OPERATIONS[kind]
            self.state.count_error(operation, "malformed_response")
            self._log_failure(kind, operation, "malformed_response", exc)
        else:
            self.state.replace(kind, samples, context.now)
            return True
        self.state.mark_failed(kind)
        return False

    def _log_failure(
        self, kind: str, operation: str, error_code: str, exc: Exception
    ) -> None:
        log(
            logger,
            logging.WARNING,
            "collection failed",
            target=self.target.name,
            collection=kind,
            operation=operation,
            error_code=error_code,
            err=f"{type(exc).__name__}: {exc}",
        )


def poll_forever(poller: TargetPoller, interval_seconds: float) -> None:
    """Run cycles every `interval_seconds` until `poller.stop` is set."""
    while not poller.stop.is_set():
        started = time.monotonic()
        poller.run_cycle()
        elapsed = time.monotonic() - started
        poller.stop.wait(max(0.0, interval_seconds - elapsed))


def start_polling(
    pollers: Sequence[TargetPoller], interval_seconds: float
) -> list[threading.Thread]:
    """Start one daemon thread per target running `poll_forever`."""
    threads = []
    for poller in pollers:
        thread = threading.Thread(
            target=poll_forever,
            args=(poller, interval_seconds),
            name=f"poll-{poller.target.name}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    return threads
