"""The ASGI application: routing, authentication, parsing and error envelopes."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from sandbox import graphs, resources
from sandbox.auth import Authenticator
from sandbox.errors import GatewayError, GesError, SandboxError
from sandbox.settings import SandboxSettings
from sandbox.store import ProjectStore
from sandbox.throttle import TokenBucket
from sandbox.validation import boolean_param, check_body, page_params

logger = logging.getLogger(__name__)

_ID = r"[^/]+"
_P = rf"/v1\.0/(?P<project_id>{_ID})/graphs"
# Literal segments come before `{graph_id}` so that `/graphs/quotas` is never
# read as a graph id, as OpenAPI's path matching rules require.
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in [
        ("GET", rf"{_P}/quotas", "listQuotas"),
        ("POST", rf"{_P}/action", "systemAction"),
        ("GET", rf"{_P}/backups", "listBackups"),
        ("GET", rf"{_P}/metadatas", "listMetadatas"),
        ("POST", rf"{_P}/metadatas", "createMetadata"),
        ("GET", rf"{_P}/metadatas/(?P<metadata_id>{_ID})", "showMetadata"),
        ("DELETE", rf"{_P}/metadatas/(?P<metadata_id>{_ID})", "deleteMetadata"),
        ("GET", rf"{_P}/jobs", "listJobs"),
        ("GET", rf"{_P}", "listGraphs"),
        ("POST", rf"{_P}", "createGraph"),
        ("GET", rf"{_P}/(?P<graph_id>{_ID})", "showGraph"),
        ("DELETE", rf"{_P}/(?P<graph_id>{_ID})", "deleteGraph"),
        ("POST", rf"{_P}/(?P<graph_id>{_ID})/action", "graphAction"),
        ("GET", rf"{_P}/(?P<graph_id>{_ID})/backups", "listGraphBackups"),
        ("POST", rf"{_P}/(?P<graph_id>{_ID})/backups", "createBackup"),
        (
            "DELETE",
            rf"{_P}/(?P<graph_id>{_ID})/backups/(?P<backup_id>{_ID})",
            "deleteBackup",
        ),
        (
            "GET",
            rf"{_P}/(?P<graph_id>{_ID})/jobs/(?P<job_id>{_ID})/status",
            "showJob",
        ),
    ]
]

_GRAPH_ACTIONS = {
    "stop": "stopGraph",
    "start": "startGraph",
    "import-graph": "importGraph",
    "export-graph": "exportGraph",
    "clear-graph": "clearGraph",
    "upgrade": "upgradeGraph",
    "bindEip": "bindEip",
    "unbindEip": "unbindEip",
}
_SYSTEM_ACTIONS = {"check-schema": "checkSchema"}
_WITH_BODY = {
    "createGraph",
    "createMetadata",
    "checkSchema",
    "startGraph",
    "importGraph",
    "exportGraph",
    "upgradeGraph",
    "bindEip",
    "unbindEip",
}
# Ids longer than this are rejected before any look-up; GES ids are UUIDs or
# 32 hex digits, and a project id is at most 64 characters.
MAX_ID_LENGTH = 64


class Call:
    """One parsed request, handed to an operation handler."""

    def __init__(
        self,
        store: ProjectStore,
        params: dict[str, str],
        query: dict[str, str],
        body: Any,
    ) -> None:
        self.store = store
        self.params = params
        self.query = query
        self.body = body


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    # Routes match per method, literal segments first, as the gateway routes
    # each published API: DELETE /graphs/quotas reaches deleteGraph with the
    # graph id `quotas`, since no DELETE exists on the literal path.
    allowed: list[str] = []
    for route_method, pattern, name in _ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return name, match.groupdict()
        if route_method not in allowed:
            allowed.append(route_method)
    if allowed:
        # NOTE: GES documents no response for a known path with another method;
        # the sandbox sends 405 with an Allow header, as RFC 9110 asks.
        raise GatewayError(
            "APIGW.0101",
            f"{method} is not allowed here.",
            status_code=405,
            headers={"Allow": ", ".join(allowed)},
        )
    raise GatewayError("APIGW.0101")


def _resolve_action(name: str, query: dict[str, str]) -> str:
    table = _GRAPH_ACTIONS if name == "graphAction" else _SYSTEM_ACTIONS
    action = query.get("action_id")
    if action is None:
        raise GesError("GES.7049", "Query parameter `action_id` is missing.")
    if action not in table:
        choices = ", ".join(table)
        raise GesError("GES.7048", f"`action_id` must be one of: {choices}.")
    return table[action]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not JSON")


def _parse_body(raw: bytes) -> Any:
    """Parse a request body as strict JSON (RFC 8259), or raise GES.7016.

    Python's parser also takes NaN, Infinity and lone surrogates, which no
    JSON encoder can send back, and recurses once per nesting level.
    """
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_constant=_reject_constant)
        # Lone surrogates survive decoding but cannot be encoded again.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise GesError("GES.7016", "The body is not valid JSON.") from None
    return body


def _date_param(query: dict[str, str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise GesError(
            "GES.0001", f"`{name}` must be a date like 2024-05-31."
        ) from None


def _list_jobs(call: Call) -> dict[str, Any]:
    offset, limit = page_params(call.query)
    status = call.query.get("status")
    if status is not None and status not in ("running", "waiting", "success", "failed"):
        raise GesError(
            "GES.0001", "`status` must be running, waiting, success or failed."
        )
    return resources.list_jobs(
        call.store,
        offset,
        limit,
        status,
        call.query.get("graph_name"),
        _date_param(call.query, "startTime"),
        _date_param(call.query, "endTime"),
    )


def _paged(handler: Callable[..., dict[str, Any]]) -> Callable[[Call], dict[str, Any]]:
    return lambda call: handler(call.store, *page_params(call.query))


_HANDLERS: dict[str, Callable[[Call], dict[str, Any]]] = {
    "listQuotas": lambda c: resources.list_quotas(c.store),
    "checkSchema": lambda c: resources.check_schema(c.store, c.body),
    "listGraphs": _paged(graphs.list_graphs),
    "showGraph": lambda c: graphs.show_graph(c.store, c.params["graph_id"]),
    "createGraph": lambda c: graphs.create_graph(c.store, c.body["graph"]),
    "deleteGraph": lambda c: graphs.delete_graph(
        c.store, c.params["graph_id"], boolean_param(c.query, "keepBackup")
    ),
    "stopGraph": lambda c: graphs.stop_graph(c.store, c.params["graph_id"]),
    "startGraph": lambda c: graphs.start_graph(
        c.store, c.params["graph_id"], (c.body or {}).get("graph_backup_id")
    ),
    "importGraph": lambda c: graphs.import_graph(c.store, c.params["graph_id"], c.body),
    "exportGraph": lambda c: graphs.export_graph(c.store, c.params["graph_id"], c.body),
    "clearGraph": lambda c: graphs.clear_graph(
        c.store, c.params["graph_id"], boolean_param(c.query, "clear-metadata")
    ),
    "upgradeGraph": lambda c: graphs.upgrade_graph(
        c.store, c.params["graph_id"], c.body
    ),
    "bindEip": lambda c: graphs.bind_eip(
        c.store, c.params["graph_id"], c.body["eipId"]
    ),
    "unbindEip": lambda c: graphs.unbind_eip(
        c.store, c.params["graph_id"], c.body["eipId"]
    ),
    "listBackups": _paged(resources.list_backups),
    "listGraphBackups": lambda c: resources.list_graph_backups(
        c.store, c.params["graph_id"], *page_params(c.query)
    ),
    "createBackup": lambda c: graphs.create_backup(c.store, c.params["graph_id"]),
    "deleteBackup": lambda c: resources.delete_backup(
        c.store, c.params["graph_id"], c.params["backup_id"]
    ),
    "listMetadatas": _paged(resources.list_metadatas),
    "showMetadata": lambda c: resources.show_metadata(c.store, c.params["metadata_id"]),
    "createMetadata": lambda c: resources.create_metadata(c.store, c.body),
    "deleteMetadata": lambda c: resources.delete_metadata(
        c.store, c.params["metadata_id"]
    ),
    "showJob": lambda c: resources.show_job(
        c.store, c.params["graph_id"], c.params["job_id"]
    ),
    "listJobs": _list_jobs,
}


class SandboxApp:
    """Per-project stores and the request handler that serves them."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.authenticator = Authenticator(settings)
        self.buckets: dict[str, TokenBucket] = {}
        if settings.rate_limit is not None:
            self.buckets = {
                p.project_id: TokenBucket(settings.rate_limit, settings.rate_burst)
                for p in settings.projects
            }
        self.stores = {
            p.project_id: ProjectStore(p.project_id, settings)
            for p in settings.projects
        }

    async def handle(self, request: Request) -> Response:
        try:
            return JSONResponse(await self._dispatch(request))
        except SandboxError as error:
            logger.debug(
                "rejected %s %s: %s", request.method, request.url.path, error.code
            )
            return JSONResponse(
                error.body(), status_code=error.status_code, headers=error.headers
            )
        except Exception:
            # A fault of the sandbox itself, never of the client: log it, and
            # return GES's internal-error code without a trace in the body.
            # Rendering is inside the `try` so that a body that cannot be
            # encoded also ends here.
            logger.exception(
                "unhandled error for %s %s", request.method, request.url.path
            )
            return JSONResponse(GesError("GES.7006").body(), status_code=500)

    async def _dispatch(self, request: Request) -> dict[str, Any]:
        raw_path = (
            request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        )
        name, params = _route(request.method, request.url.path)
        raw_body = await request.body()
        query_pairs = parse_qsl(request.url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        for header in ("x-auth-token", "authorization"):
            if len(request.headers.getlist(header)) > 1:
                raise GatewayError("APIGW.0301", f"Header `{header}` is repeated.")
        project_id = params["project_id"]
        self.authenticator.authorize(
            project_id,
            request.method,
            raw_path.split("?")[0],
            query_pairs,
            headers,
            raw_body,
        )
        for key, value in params.items():
            if len(value) > MAX_ID_LENGTH:
                raise GesError("GES.0001", f"Path parameter `{key}` is too long.")
        store = self.stores.get(project_id)
        if store is None:
            raise GesError("GES.0016", "The project does not exist.")
        if project_id in self.buckets:
            self.buckets[project_id].take()

        keys = [key for key, _ in query_pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise GesError("GES.0001", f"Query parameter `{repeated[0]}` is repeated.")
        query = dict(query_pairs)
        if name in ("graphAction", "systemAction"):
            name = _resolve_action(name, query)
        body: Any = None
        if name in _WITH_BODY and (raw_body.strip() or name != "startGraph"):
            body = _parse_body(raw_body)
            check_body(name, body)
        with store.lock:
            store.advance()
            return _HANDLERS[name](Call(store, params, query, body))


def create_app(settings: SandboxSettings | None = None) -> Starlette:
    """Build the ASGI application for `settings` (one generated project by default)."""
    sandbox = SandboxApp(settings or SandboxSettings())

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        response = await sandbox.handle(Request(scope, receive))
        await response(scope, receive, send)

    # Every request reaches `serve`, whatever its method or path: Starlette's
    # own routing would reject some (a path with a newline, say) in plain text.
    app = Starlette()
    app.router.default = serve
    app.state.sandbox = sandbox
    return app
