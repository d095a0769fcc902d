"""Authentication as the API gateway and GES apply it.

A request carries either an IAM token (`X-Auth-Token`), valid for one project,
or an AK/SK signature (`Authorization: SDK-HMAC-SHA256 Access=..., ...`), valid
for every project of the account. Signatures are recomputed with
huaweicloudsdkcore's own signer, so the sandbox accepts exactly what the SDK
sends and nothing a hand-written variant might let through.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from types import SimpleNamespace

from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from sandbox.errors import GatewayError, GesError
from sandbox.settings import SIGNATURE_MAX_SKEW_SECONDS, SandboxSettings

_SIGNATURE = re.compile(
    r"SDK-HMAC-SHA256 Access=(?P<access>[^,\s]+), "
    r"SignedHeaders=(?P<headers>[a-z0-9;\-]+), Signature=(?P<signature>[0-9a-f]{64})"
)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


class Authenticator:
    """Decide which projects a request may reach."""

    def __init__(self, settings: SandboxSettings) -> None:
        self._projects_by_token = {p.token: p.project_id for p in settings.projects}
        self._all_projects = frozenset(p.project_id for p in settings.projects)
        self._access_key = settings.access_key
        self._secret_key = settings.secret_key

    def authorize(
        self,
        project_id: str,
        method: str,
        raw_path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        """Raise unless the request's credentials grant access to `project_id`."""
        token = headers.get("x-auth-token")
        authorization = headers.get("authorization")
        if token is not None:
            granted = self._token_project(token)
            allowed = frozenset({granted})
        elif authorization is not None:
            self._verify_signature(
                authorization, method, raw_path, query, headers, body
            )
            allowed = self._all_projects
        else:
            raise GatewayError("APIGW.0301", "No X-Auth-Token or Authorization header.")
        if project_id not in allowed:
            raise GesError(
                "GES.0016", "The credentials are not valid for this project."
            )

    def _token_project(self, token: str) -> str:
        for known, project_id in self._projects_by_token.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return project_id
        raise GatewayError("APIGW.0301", "The token is invalid or has expired.")

    def _verify_signature(
        self,
        authorization: str,
        method: str,
        raw_path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        match = _SIGNATURE.fullmatch(authorization.strip())
        if match is None or self._access_key is None or self._secret_key is None:
            raise GatewayError(
                "APIGW.0301", "The Authorization header is not accepted."
            )
        if not hmac.compare_digest(match["access"].encode(), self._access_key.encode()):
            raise GatewayError("APIGW.0301", "The access key is unknown.")
        signed = match["headers"].split(";")
        if "x-sdk-date" not in signed or any(name not in headers for name in signed):
            raise GatewayError("APIGW.0301", "A signed header is missing.")
        _check_date(headers["x-sdk-date"])
        # The signer hashes the body unless X-Sdk-Content-Sha256 is set, and
        # then signs the header's value instead: it must match the body.
        declared = headers.get("x-sdk-content-sha256")
        unsigned = declared == "UNSIGNED-PAYLOAD" and not _is_json(headers)
        if declared not in (None, hashlib.sha256(body).hexdigest()) and not unsigned:
            raise GatewayError("APIGW.0301", "The payload hash does not match.")

        request = SdkRequest(
            method=method,
            schema="http",
            host=headers.get("host", ""),
            resource_path=raw_path,
            query_params=list(query),
            header_params={name: headers[name] for name in signed},
            body=body,
        )
        credentials = SimpleNamespace(ak=self._access_key, sk=self._secret_key)
        Signer(credentials).sign(request)
        expected = _SIGNATURE.fullmatch(request.header_params["Authorization"])
        if expected is None or not hmac.compare_digest(
            expected["signature"], match["signature"]
        ):
            raise GatewayError("APIGW.0301", "The signature does not match.")


def _is_json(headers: dict[str, str]) -> bool:
    content_type = headers.get("content-type", "")
    return content_type.startswith(("application/json", "application/bson"))


def _check_date(value: str) -> None:
    try:
        signed_at = datetime.strptime(value, _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise GatewayError(
            "APIGW.0301", "X-Sdk-Date is not in the form 20150907T101459Z."
        ) from None
    skew = abs((datetime.now(UTC) - signed_at).total_seconds())
    if skew > SIGNATURE_MAX_SKEW_SECONDS:
        raise GatewayError("APIGW.0301", "The signature has expired.")
