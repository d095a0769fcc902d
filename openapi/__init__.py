"""Loader for the GES management OpenAPI document.

The document (`ges-management-v1.yaml` beside this module) is the one source of
truth for paths, schemas and the `x-ges-*` extensions. This module parses it once
and offers an operation index, a resolver from a concrete request to its
operation, and a response validator.

Two validators share the document's status lookup and schema pointers.
`validate_response` (Python jsonschema) lists each violation with its path.
`is_valid_response` (jsonschema_rs, compiled once per operation and status)
returns only whether a body conforms, and docs/benchmarks.md measured it at
about 0.3 ms for a page of 1,000 jobs, against about 85 ms. A caller checks
with the fast one and asks the slow one for details only when it returns False.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote

import jsonschema
import jsonschema_rs
import referencing
import referencing.jsonschema
import yaml

__all__ = [
    "MAX_VIOLATIONS",
    "SPEC_PATH",
    "Operation",
    "Violation",
    "graph_status_transitions",
    "is_valid_response",
    "load_spec",
    "operations",
    "resolve",
    "schema_enum",
    "transitional_statuses",
    "validate_response",
]

SPEC_PATH: Path = Path(__file__).with_name("ges-management-v1.yaml")
# Caps on what `validate_response` reports for one body.
MAX_VIOLATIONS = 20
MAX_MESSAGE_LENGTH = 300

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Base URI under which the document is registered, so that a `$ref` such as
# `#/components/schemas/Graph` inside any subschema resolves within it.
_DOCUMENT_URI = "urn:ges-management-v1"


@dataclass(frozen=True)
class Operation:
    """One operation of the document, with its `x-ges-*` extensions."""

    operation_id: str
    method: str
    path: str
    wire_path: str
    action: str | None
    tag: str
    is_async: bool
    allowed_statuses: tuple[str, ...] | None
    wrong_status_errors: tuple[str, ...]


@dataclass(frozen=True)
class Violation:
    """A way a response breaks the document; `path` is a JSON path into the body."""

    kind: Literal["undocumented_status", "schema"]
    message: str
    path: str


@functools.cache
def _spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    if not isinstance(document, dict):
        raise TypeError(f"`{SPEC_PATH}` does not contain a YAML mapping")
    return document


def load_spec() -> dict[str, Any]:
    """Return a deep copy of the parsed document; callers may modify it freely."""
    return copy.deepcopy(_spec())


@functools.cache
def _operations() -> dict[str, Operation]:
    index: dict[str, Operation] = {}
    for path, item in _spec()["paths"].items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            operation_id = operation["operationId"]
            allowed = operation.get("x-ges-allowed-statuses")
            index[operation_id] = Operation(
                operation_id=operation_id,
                method=method.upper(),
                path=path,
                wire_path=operation.get("x-ges-wire-path", path),
                action=operation.get("x-ges-action"),
                tag=operation["tags"][0],
                is_async=bool(operation.get("x-ges-async", False)),
                allowed_statuses=None if allowed is None else tuple(allowed),
                wrong_status_errors=tuple(
                    operation.get("x-ges-wrong-status-errors", ())
                ),
            )
    return index


def operations() -> dict[str, Operation]:
    """Return every operation keyed by operationId (a new dict on each call)."""
    return dict(_operations())


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.strip("/").split("/"))


def _is_template(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


@functools.cache
def _routes() -> tuple[tuple[tuple[str, ...], Operation], ...]:
    """Wire-path templates sorted so that literal segments come before templates.

    OpenAPI 3.1 (Paths Object) has concrete paths match before templated ones;
    sorting by a per-segment key (literal 0, template 1) gives that order for the
    first match, for example `/graphs/quotas` before `/graphs/{graph_id}`.
    """
    routes = [(_segments(op.wire_path), op) for op in _operations().values()]
    routes.sort(key=lambda route: tuple(int(_is_template(s)) for s in route[0]))
    return tuple(routes)


def _first_value(value: str | Sequence[str]) -> str | None:
    if isinstance(value, str):
        return value
    return value[0] if value else None


def _action_id(query: Mapping[str, str | Sequence[str]] | str | None) -> str | None:
    if query is None:
        return None
    if isinstance(query, str):
        query = parse_qs(query.lstrip("?"), keep_blank_values=True)
    value = query.get("action_id")
    return None if value is None else _first_value(value)


def _matches(template: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    if len(template) != len(segments):
        return False
    return all(
        (_is_template(expected) and actual != "") or expected == actual
        for expected, actual in zip(template, segments, strict=True)
    )


def resolve(
    method: str,
    path: str,
    query: Mapping[str, str | Sequence[str]] | str | None = None,
) -> Operation | None:
    """Map a concrete request to its operation, or None when nothing matches.

    `path` is the request path without scheme, host or query string; `query` is a
    mapping of parameter names to a value or list of values, or a raw query
    string. Actions match only on their wire path with the right `action_id`, so
    a pseudo-path such as `.../action/stop` never resolves.
    """
    method = method.upper()
    segments = _segments(path)
    action_id = _action_id(query)
    for template, operation in _routes():
        if operation.method != method or not _matches(template, segments):
            continue
        if operation.action is not None and operation.action != action_id:
            continue
        return operation
    return None


def _response_pointer(operation: Operation, status: str) -> str:
    escaped = operation.path.replace("~", "~0").replace("/", "~1")
    method = operation.method.lower()
    return f"#/paths/{escaped}/{method}/responses/{status}"


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resource = referencing.Resource.from_contents(
        _spec(), default_specification=referencing.jsonschema.DRAFT202012
    )
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        _DOCUMENT_URI, resource
    )
    return registry


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s of Response Objects (local `#/...` pointers only)."""
    while "$ref" in node:
        reference = node["$ref"]
        if not reference.startswith("#/"):
            raise ValueError(f"only local references are supported, got `{reference}`")
        target: Any = _spec()
        for part in reference[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _documented_status(operation_id: str, status_code: int) -> str | None:
    """Return the document's key for the status: exact, then `4XX`, then default."""
    operation = _operations()[operation_id]
    item = _spec()["paths"][operation.path][operation.method.lower()]
    responses = item["responses"]
    for key in (str(status_code), f"{status_code // 100}XX", "default"):
        if key in responses:
            return key
    return None


def _schema_pointer(operation_id: str, status_key: str) -> str | None:
    """Return the `#/...` pointer to a response's JSON schema, or None if none."""
    operation = _operations()[operation_id]
    item = _spec()["paths"][operation.path][operation.method.lower()]
    response = _deref(item["responses"][status_key])
    media = response.get("content", {}).get("application/json")
    if media is None or "schema" not in media:
        return None
    if "$ref" in item["responses"][status_key]:
        pointer = item["responses"][status_key]["$ref"]
    else:
        pointer = _response_pointer(operation, status_key)
    return f"{pointer}/content/application~1json/schema"


@functools.cache
def _validator(operation_id: str, status_key: str) -> jsonschema.Validator | None:
    pointer = _schema_pointer(operation_id, status_key)
    if pointer is None:
        return None
    # Validate through a reference into the registered document rather than the
    # raw subschema, so that nested `$ref`s resolve against the whole document.
    schema = {"$ref": f"{_DOCUMENT_URI}{pointer}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


@functools.cache
def _fast_validator(operation_id: str, status_key: str) -> Any:
    """Return a compiled jsonschema_rs validator, or None when there is no schema."""
    pointer = _schema_pointer(operation_id, status_key)
    if pointer is None:
        return None
    # The whole document is the root schema, so every nested `#/...` reference
    # resolves. Braces in path keys are not allowed in a URI fragment, hence
    # the percent-encoding.
    schema = {**_spec(), "$ref": "#" + quote(pointer.removeprefix("#"), safe="/~")}
    return jsonschema_rs.Draft202012Validator(schema)


def _json_path(parts: Iterable[str | int]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate_response(
    operation_id: str, status_code: int, body: Any
) -> list[Violation]:
    """Check a parsed JSON response body against the document.

    Returns an empty list when the status is documented and the body matches its
    schema. Returns at most `MAX_VIOLATIONS`, each message cut to
    `MAX_MESSAGE_LENGTH` characters. Raises KeyError for an unknown operationId.
    Validators are compiled once per (operation, status) and reused.
    """
    if operation_id not in _operations():
        raise KeyError(f"unknown operationId `{operation_id}`")
    status_key = _documented_status(operation_id, status_code)
    if status_key is None:
        message = f"HTTP {status_code} is not documented for `{operation_id}`"
        return [Violation("undocumented_status", message, "$")]
    validator = _validator(operation_id, status_key)
    if validator is None:
        return []
    # A broken page of thousands of items would otherwise cost seconds and
    # hundreds of megabytes; the first few violations show what changed.
    found = itertools.islice(validator.iter_errors(body), MAX_VIOLATIONS)
    errors = sorted(found, key=lambda e: [str(p) for p in e.absolute_path])
    return [
        Violation("schema", _shorten(error.message), _json_path(error.absolute_path))
        for error in errors
    ]


def is_valid_response(operation_id: str, status_code: int, body: Any) -> bool:
    """Return whether `validate_response` would find no violation in the body.

    The check runs in jsonschema_rs. Raises KeyError for an unknown operationId.

    NOTE: jsonschema_rs and Python jsonschema differ in a few corners (the
    regular-expression dialect of `pattern`, for one), so in those corners a
    body can pass here and still have violations in `validate_response`.
    """
    if operation_id not in _operations():
        raise KeyError(f"unknown operationId `{operation_id}`")
    status_key = _documented_status(operation_id, status_code)
    if status_key is None:
        return False
    validator = _fast_validator(operation_id, status_key)
    return validator is None or bool(validator.is_valid(body))


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 3] + "..."


def graph_status_transitions() -> dict[str, frozenset[str]]:
    """Return GraphStatus `x-ges-transitions`: status -> statuses it may move to."""
    table = _spec()["components"]["schemas"]["GraphStatus"]["x-ges-transitions"]
    return {status: frozenset(targets) for status, targets in table.items()}


def transitional_statuses() -> frozenset[str]:
    """Return GraphStatus `x-ges-transitional`, the in-between statuses."""
    schema = _spec()["components"]["schemas"]["GraphStatus"]
    return frozenset(schema["x-ges-transitional"])


def schema_enum(name: str) -> tuple[str, ...]:
    """Return the `enum` of `components.schemas[name]`, in document order.

    Raises KeyError when the document has no such schema or it has no enum.
    """
    schema = _spec()["components"]["schemas"][name]
    return tuple(str(value) for value in schema["enum"])
