"""Errors the sandbox answers with, in the two envelopes a GES client meets.

    SandboxError
    +-- GesError      GES's envelope: {"errorCode": "GES.7000", "errorMessage": ...}
    +-- GatewayError  the gateway's: {"error_code": "APIGW.0301", "error_msg": ...}

Handlers raise these; the application turns each into a JSON response. The HTTP
statuses follow the GES management error table: nearly every GES code is 400,
GES.7005 is 408.
"""

from __future__ import annotations

import uuid
from typing import Any

# Messages follow the meaning column of the GES management error table.
GES_MESSAGES: dict[str, str] = {
    "GES.0001": "Invalid parameter.",
    "GES.0016": "The resource does not belong to this project.",
    "GES.7000": "The graph does not exist or has been deleted.",
    "GES.7001": "The graph is not running.",
    "GES.7002": "The graph is being backed up.",
    "GES.7003": "The graph is being stopped or has been stopped.",
    "GES.7005": "The graph engine back end is unavailable.",
    "GES.7006": "An internal error occurred in the graph engine.",
    "GES.7007": "The job does not exist.",
    "GES.7010": "The schema file and the data files do not match.",
    "GES.7011": "Invalid path or name of a schema or data file.",
    "GES.7012": "Invalid graph name.",
    "GES.7013": "The graph name already exists.",
    "GES.7014": "The metadata check failed.",
    "GES.7015": "The graph is not running or has been stopped.",
    "GES.7016": "The request body or headers are invalid.",
    "GES.7017": "The OBS object does not exist.",
    "GES.7018": "The quota for graphs or edges has been reached.",
    "GES.7019": "The backup quota has been reached.",
    "GES.7023": "Invalid graph size type index.",
    "GES.7024": "The backup does not exist or has been deleted.",
    "GES.7031": "Invalid EIP binding type.",
    "GES.7033": "Invalid EIP ID.",
    "GES.7036": "The target version is not newer than the current version.",
    "GES.7037": "The graph is not stopped.",
    "GES.7038": "An EIP is already bound to the graph.",
    "GES.7039": "No EIP is bound to the graph.",
    "GES.7040": "The selected backup did not succeed.",
    "GES.7042": "The graph is still being created.",
    "GES.7048": "Invalid graph operation.",
    "GES.7049": "A mandatory parameter is missing.",
    "GES.7050": "A parameter is empty.",
    "GES.7052": "Invalid CPU architecture.",
    "GES.7054": "The graph is being deleted or has been deleted.",
}

GATEWAY_MESSAGES: dict[str, tuple[int, str]] = {
    "APIGW.0101": (404, "The API does not exist or has not been published."),
    "APIGW.0301": (401, "Incorrect IAM authentication information."),
    "APIGW.0303": (401, "Incorrect app authentication information."),
    "APIGW.0308": (429, "The throttling threshold has been reached."),
}

# HTTP statuses that differ from the table's usual 400.
_GES_STATUS: dict[str, int] = {"GES.7005": 408}


class SandboxError(Exception):
    """Base of every error the sandbox sends back as a JSON body."""

    status_code: int = 400
    code: str = ""
    headers: dict[str, str]

    def body(self) -> dict[str, Any]:
        raise NotImplementedError


class GesError(SandboxError):
    """A GES error code; `detail` is appended to the table's message."""

    def __init__(self, code: str, detail: str = "") -> None:
        message = GES_MESSAGES[code]
        self.code = code
        self.message = f"{message} {detail}".strip()
        self.status_code = _GES_STATUS.get(code, 400)
        self.headers = {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"errorCode": self.code, "errorMessage": self.message}


class GatewayError(SandboxError):
    """An error the API gateway sends before the request reaches GES."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        status, message = GATEWAY_MESSAGES[code]
        self.code = code
        self.message = f"{message} {detail}".strip()
        self.status_code = status_code or status
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {
            "error_code": self.code,
            "error_msg": self.message,
            "request_id": uuid.uuid4().hex,
        }
