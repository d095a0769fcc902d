"""What a run may send: the mode, the run's name prefix and the request guard.

    prefix = run_name_prefix(run_id)          # "gesct_<run id>_", the one source
    mode = Mode.READ_ONLY                     # or Mode.LIFECYCLE
    allowed_in_mode("GET", "listGraphs", mode)  # which operations a mode runs
    guard = Guard(origin=..., mode=mode, registry=registry,
                  enforce_ownership=True, max_graphs=1)
    ticket = guard.admit("DELETE", url, body) # raises RequestRejected, before sending
    guard.complete(ticket, 200, body)         # feeds the registry

`contracts.transport` calls `admit` and `complete` around every request the
gate sends, so nothing reaches the target without passing these rules:

- The request goes to the target's origin (scheme, host, port) and nowhere
  else, so credentials never follow a redirect to another host.
- `Mode.READ_ONLY` sends GET requests and checkSchema only.
- With `enforce_ownership` (any target but the embedded sandbox), a request
  that changes something must resolve to an operation of the spec, every
  graph, backup or metadata id in its path must be one this run created
  (`ResourceRegistry.owns`), and a createGraph or createMetadata body must name
  the resource with the run's prefix. The embedded sandbox holds nothing the
  run did not create, so there the guard rejects only on mode and cap, and the
  fuzzed negative cases with unknown ids still reach it.
- A createGraph beyond `max_graphs` graphs alive at once is not sent.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import openapi
from contracts.cleanup import BACKUP, GRAPH, METADATA, ResourceRegistry

# Graph names start with a letter and contain letters, digits and underscores
# (SDK and Doc-2021), so the prefix has no hyphen.
NAME_PREFIX = "gesct_"
# Safe methods of RFC 9110, section 9.2.1, without TRACE, which would echo
# the credentials back.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POST operations that read-only mode still sends: checkSchema only validates
# a schema file in OBS and creates nothing.
READ_ONLY_POSTS = frozenset({"checkSchema"})
NAMED_CREATES = frozenset({"createGraph", "createMetadata"})
# Graph and metadata names are at most 64 characters (the spec's patterns).
MAX_NAME_LENGTH = 64
ID_PARAMETERS = {"graph_id": GRAPH, "backup_id": BACKUP, "metadata_id": METADATA}


class Mode(enum.StrEnum):
    """How much of the API a run exercises."""

    READ_ONLY = "read-only"
    LIFECYCLE = "lifecycle"


def run_name_prefix(run_id: str) -> str:
    """Return the prefix of every resource name a run with `run_id` creates."""
    return f"{NAME_PREFIX}{run_id}_"


def allowed_in_mode(method: str, operation_id: str, mode: Mode) -> bool:
    """Return True when `mode` sends requests of the operation."""
    if mode is Mode.LIFECYCLE:
        return True
    return method.upper() in READ_ONLY_METHODS or operation_id in READ_ONLY_POSTS


def mode_skip_reason(mode: Mode) -> str:
    return (
        f"not run in {mode} mode; pass --mode lifecycle --allow-mutations "
        "to send requests that change the account"
    )


class RequestRejected(Exception):
    """The guard did not let a request reach the target."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Ticket:
    """A request the guard let through, waiting for its response."""

    operation: openapi.Operation | None
    parameters: dict[str, str] = field(default_factory=dict)
    reserved_graph: bool = False


@dataclass
class Guard:
    """The rules every request of a run passes before it is sent."""

    origin: str
    mode: Mode
    registry: ResourceRegistry
    enforce_ownership: bool
    max_graphs: int | None = None

    def __post_init__(self) -> None:
        self._origin = _origin(self.origin)

    def admit(self, method: str, url: str, body: bytes | None) -> Ticket:
        """Return a ticket for the request, or raise `RequestRejected`."""
        method = method.upper()
        parts = urlsplit(url)
        if _origin(url) != self._origin:
            raise RequestRejected(
                f"`{parts.scheme}://{parts.netloc}` is not the target's origin"
            )
        operation = openapi.resolve(method, parts.path, parts.query)
        parameters = _path_parameters(operation, parts.path) if operation else {}
        ticket = Ticket(operation, parameters)
        if method in READ_ONLY_METHODS:
            return ticket

        name = operation.operation_id if operation is not None else None
        if self.mode is Mode.READ_ONLY and name not in READ_ONLY_POSTS:
            raise RequestRejected("read-only mode sends only GET and checkSchema")
        if self.enforce_ownership:
            self._check_ownership(method, operation, parameters, body)
        if name == "createGraph":
            if not self.registry.reserve_graph(self.max_graphs):
                raise RequestRejected(
                    f"createGraph would exceed --max-graphs {self.max_graphs}"
                )
            ticket.reserved_graph = True
        return ticket

    def complete(self, ticket: Ticket, status_code: int, body: Any) -> None:
        """Record what the response shows about the run's resources."""
        if ticket.reserved_graph:
            created = None
            if status_code == 200 and isinstance(body, dict):
                graph_id = body.get("id")
                created = graph_id if isinstance(graph_id, str) else None
            self.registry.settle_graph(created)
        self.registry.observe(ticket.operation, ticket.parameters, status_code, body)

    def _check_ownership(
        self,
        method: str,
        operation: openapi.Operation | None,
        parameters: dict[str, str],
        body: bytes | None,
    ) -> None:
        if operation is None:
            raise RequestRejected("the method and path match no operation of the spec")
        for parameter, kind in ID_PARAMETERS.items():
            value = parameters.get(parameter)
            if value is not None and not self.registry.owns(kind, value):
                raise RequestRejected(
                    f"the path names a {kind} this run did not create"
                )
        if operation.operation_id in NAMED_CREATES:
            name = _created_name(body)
            if name is None or not name.startswith(self.registry.name_prefix):
                raise RequestRejected(
                    "the body does not name the resource with the run prefix "
                    f"`{self.registry.name_prefix}`"
                )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path_parameters(operation: openapi.Operation, path: str) -> dict[str, str]:
    """Read the values of `operation`'s path template out of a concrete path."""
    template = operation.wire_path.strip("/").split("/")
    segments = path.strip("/").split("/")
    return {
        expected[1:-1]: unquote(actual)
        for expected, actual in zip(template, segments, strict=False)
        if expected.startswith("{") and expected.endswith("}")
    }


def _created_name(body: bytes | None) -> str | None:
    """Return the name a createGraph or createMetadata body gives its resource."""
    if not body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    holder = document.get("graph") if "graph" in document else document
    name = holder.get("name") if isinstance(holder, dict) else None
    return name if isinstance(name, str) else None


def prefixed_name(name: str, prefix: str) -> str:
    """Give a generated resource name the run prefix, cut to the longest valid name."""
    if name.startswith(prefix):
        return name
    return f"{prefix}{name}"[:MAX_NAME_LENGTH]
