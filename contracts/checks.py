"""Contract rules the gate asserts on every response, one function per rule.

Each rule is a schemathesis check, `(ctx, response, case) -> bool | None`, that
raises a `Failure` when the response breaks it. `CHECKS` maps the name reported
to users onto the function; the five schemathesis built-ins come first, the GES
rules after them. A new rule is a function here plus one `CHECKS` entry.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, Severity
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

if TYPE_CHECKING:
    from schemathesis import CheckContext, CheckFunction, Response
    from schemathesis.specs.openapi.schemas import OpenApiCase

GES_ERROR_CODE = re.compile(r"GES\.\d{4}")
GATEWAY_ERROR_CODE = re.compile(r"APIGW\.\d{4}")


class MalformedErrorEnvelope(Failure):
    """An error response whose body is neither the GES nor the gateway envelope."""

    code = "GES101"
    checks = ("error_envelope",)
    kind_title = "Malformed error envelope"

    __slots__ = ("status_code",)

    def __init__(self, *, operation: str, status_code: int, message: str) -> None:
        super().__init__(
            operation=operation,
            message=message,
            severity=Severity.HIGH,
        )
        self.status_code = status_code

    @property
    def _unique_key(self) -> str:
        return str(self.status_code)


def envelope_problem(body: Any) -> str | None:
    """Describe why `body` is not an error envelope, or return None when it is one.

    GES sends `{"errorCode": "GES.nnnn", "errorMessage": "..."}`. The API
    gateway sends `{"error_code": "APIGW.nnnn", "error_msg": "..."}` for the
    errors it raises itself (authentication, unknown URL, throttling).
    """
    if not isinstance(body, dict):
        return f"expected a JSON object, got {type(body).__name__}"
    if "errorCode" in body or "errorMessage" in body:
        return _field_problem(body, "errorCode", "errorMessage", GES_ERROR_CODE)
    if "error_code" in body or "error_msg" in body:
        return _field_problem(body, "error_code", "error_msg", GATEWAY_ERROR_CODE)
    keys = ", ".join(f"`{key}`" for key in sorted(body)) or "no keys"
    return (
        "expected `errorCode`/`errorMessage` (GES) or `error_code`/`error_msg` "
        f"(API gateway), got {keys}"
    )


def _field_problem(
    body: dict[str, Any], code_key: str, message_key: str, pattern: re.Pattern[str]
) -> str | None:
    code = body.get(code_key)
    if not isinstance(code, str) or pattern.fullmatch(code) is None:
        return f"`{code_key}` must match `{pattern.pattern}`, got {code!r}"
    if not isinstance(body.get(message_key), str):
        return f"`{message_key}` must be a string, got {body.get(message_key)!r}"
    return None


def error_envelope(
    ctx: CheckContext, response: Response, case: OpenApiCase
) -> bool | None:
    """Require every 4xx and 5xx body to be the GES or the gateway error envelope."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        problem: str | None = "the body is not JSON"
    else:
        problem = envelope_problem(body)
    if problem is None:
        return None
    raise MalformedErrorEnvelope(
        operation=case.operation.label,
        status_code=response.status_code,
        message=f"HTTP {response.status_code}: {problem}",
    )


CHECKS: dict[str, CheckFunction] = {
    "not_a_server_error": not_a_server_error,
    "status_code_conformance": status_code_conformance,
    "content_type_conformance": content_type_conformance,
    "response_schema_conformance": response_schema_conformance,
    "negative_data_rejection": negative_data_rejection,
    "error_envelope": error_envelope,
}
