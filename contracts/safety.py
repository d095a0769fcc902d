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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import openapi
from contracts.auth import AkSkCredentials, Credentials, TokenCredentials
from contracts.cleanup import (
    BACKUP,
    GRAPH,
    METADATA,
    ResourceRegistry,
)
from contracts.cleanup import RequestRejected as _RequestRejected

# The guard raises it; it lives in `contracts.cleanup`, whose cleaner catches it.
RequestRejected = _RequestRejected

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
CREATED_KIND = {"createGraph": GRAPH, "createMetadata": METADATA}
# A create that returned a 5xx may still have made its resource.
FIRST_SERVER_ERROR = 500
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


@dataclass
class Ticket:
    """A request the guard let through, waiting for its response."""

    operation: openapi.Operation | None
    parameters: dict[str, str] = field(default_factory=dict)
    reserved_graph: bool = False
    # Sent to the run's own project with the run's own credentials; only
    # their responses may change the registry.
    own: bool = True
    # The name a createGraph or createMetadata body gives its resource.
    created_name: str | None = None


@dataclass
class Guard:
    """The rules every request of a run passes before it is sent."""

    origin: str
    mode: Mode
    registry: ResourceRegistry
    enforce_ownership: bool
    max_graphs: int | None = None
    # The run's project and credentials; when set, responses to requests sent
    # for another project, or with other credentials, never touch the registry.
    project_id: str | None = None
    credentials: Credentials | None = None

    def __post_init__(self) -> None:
        self._origin = _origin(self.origin)

    def admit(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> Ticket:
        """Return a ticket for the request, or raise `RequestRejected`.

        `headers` are the request's headers, signature included.
        """
        method = method.upper()
        parts = urlsplit(url)
        if _origin(url) != self._origin:
            raise RequestRejected(
                f"`{parts.scheme}://{parts.netloc}` is not the target's origin"
            )
        operation = openapi.resolve(method, parts.path, parts.query)
        parameters = _path_parameters(operation, parts.path) if operation else {}
        ticket = Ticket(operation, parameters, own=self._is_own(parameters, headers))
        if method in READ_ONLY_METHODS:
            return ticket

        name = operation.operation_id if operation is not None else None
        if self.mode is Mode.READ_ONLY and name not in READ_ONLY_POSTS:
            raise RequestRejected("read-only mode sends only GET and checkSchema")
        if self.enforce_ownership:
            self._check_ownership(method, operation, parameters, body)
        if name in NAMED_CREATES:
            ticket.created_name = _created_name(body)
        if name == "createGraph":
            if not self.registry.reserve_graph(self.max_graphs):
                raise RequestRejected(
                    f"createGraph would exceed --max-graphs {self.max_graphs}"
                )
            ticket.reserved_graph = True
        return ticket

    def complete(self, ticket: Ticket, status_code: int, body: Any) -> None:
        """Record what the response shows about the run's resources."""
        if status_code >= FIRST_SERVER_ERROR:
            self.lost(ticket)
            return
        if ticket.reserved_graph:
            created = None
            if ticket.own and status_code == 200 and isinstance(body, dict):
                graph_id = body.get("id")
                created = graph_id if isinstance(graph_id, str) else None
            self.registry.settle_graph(created)
        if ticket.own:
            self.registry.observe(
                ticket.operation, ticket.parameters, status_code, body
            )

    def lost(self, ticket: Ticket) -> None:
        """Record a request whose response never came, or came as a 5xx.

        A create sent for the run may have made its resource: its name is
        kept for the cleanup to look for, and a createGraph keeps its slot.
        """
        operation_id = ticket.operation.operation_id if ticket.operation else ""
        kind = CREATED_KIND.get(operation_id)
        if ticket.own and kind is not None and ticket.created_name is not None:
            self.registry.lose_create(kind, ticket.created_name)
        elif ticket.reserved_graph:
            self.registry.settle_graph(None)

    def _is_own(
        self, parameters: dict[str, str], headers: Mapping[str, str | bytes] | None
    ) -> bool:
        if self.project_id is not None and parameters.get("project_id") not in (
            None,
            self.project_id,
        ):
            return False
        if self.credentials is None or headers is None:
            return True
        return _sent_with(self.credentials, headers)

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


def _sent_with(credentials: Credentials, headers: Mapping[str, str | bytes]) -> bool:
    """True when `headers` authenticate with `credentials`."""
    lowered = {
        name.lower(): value.decode("latin-1") if isinstance(value, bytes) else value
        for name, value in headers.items()
    }
    if isinstance(credentials, TokenCredentials):
        return lowered.get("x-auth-token") == credentials.token
    if isinstance(credentials, AkSkCredentials):
        # SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=..., Signature=...
        authorization = lowered.get("authorization", "")
        return f"Access={credentials.access_key}," in authorization
    return False


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
