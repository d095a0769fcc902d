"""Request checks: bodies against the OpenAPI document, query values by hand.

Bodies are validated with the same schemas the gate generates its cases from,
so anything the document calls invalid is rejected here. The first schema
error is mapped to the GES code the service documents for that kind of
mistake.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import openapi
from sandbox.errors import GesError
from sandbox.settings import MAX_PAGE_LIMIT

_SPEC_URI = "urn:ges-management-v1"

# Request fields whose invalid values get an error code of their own.
_FIELD_CODES = {
    "name": "GES.7012",
    "graphSizeTypeIndex": "GES.7023",
    "arch": "GES.7052",
    "publicBindType": "GES.7031",
    "schemaPath": "GES.7011",
    "edgesetPath": "GES.7011",
    "vertexsetPath": "GES.7011",
    "logDir": "GES.7011",
    "graphExportPath": "GES.7011",
    "metadataPath": "GES.7011",
}


def _pointer_escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


@functools.cache
def _body_validators() -> dict[str, jsonschema.protocols.Validator]:
    spec = openapi.load_spec()
    registry: Registry = Registry().with_resource(
        _SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validators = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            pointer = "/".join(
                [
                    "#",
                    "paths",
                    _pointer_escape(path),
                    method,
                    "requestBody",
                    "content",
                    "application~1json",
                    "schema",
                ]
            )
            schema = {"$ref": f"{_SPEC_URI}{pointer}"}
            validators[operation["operationId"]] = jsonschema.Draft202012Validator(
                schema, registry=registry
            )
    return validators


def check_body(operation_id: str, body: Any) -> None:
    """Raise the GES error for the first way `body` breaks its schema."""
    validator = _body_validators().get(operation_id)
    if validator is None:
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the body"
    if error.validator == "required":
        raise GesError("GES.7049", f"At `{where}`: {error.message}.")
    if error.validator == "minLength" and error.instance == "":
        raise GesError("GES.7050", f"Field `{where}` is empty.")
    field = next((p for p in reversed(error.absolute_path) if isinstance(p, str)), "")
    code = _FIELD_CODES.get(field, "GES.7016")
    raise GesError(code, f"At `{where}`: {_short(error.message)}.")


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def integer_param(
    query: dict[str, str], name: str, default: int, low: int, high: int
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,12}", raw) or not low <= int(raw) <= high:
        raise GesError(
            "GES.0001",
            f"Query parameter `{name}` must be an integer from {low} to {high}.",
        )
    return int(raw)


def page_params(query: dict[str, str]) -> tuple[int, int]:
    offset = integer_param(query, "offset", 0, 0, 2**31 - 1)
    limit = integer_param(query, "limit", 10, 1, MAX_PAGE_LIMIT)
    return offset, limit


def boolean_param(query: dict[str, str], name: str) -> bool:
    raw = query.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise GesError(
            "GES.0001", f"Query parameter `{name}` must be `true` or `false`."
        )
    return raw == "true"
