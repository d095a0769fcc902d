from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from tests.conftest import ACCESS_KEY, SECRET_KEY


class _Keys:
    def __init__(self, ak: str, sk: str) -> None:
        self.ak = ak
        self.sk = sk


def signed_headers(
    url: httpx.URL,
    method: str = "GET",
    body: bytes = b"",
    sk: str = SECRET_KEY,
    when: datetime | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Sign a request with huaweicloudsdkcore's signer, as the SDK does."""
    headers = {"Content-Type": "application/json", **(extra or {})}
    if when is not None:
        headers["X-Sdk-Date"] = when.strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method=method,
        schema=url.scheme,
        host=f"{url.host}:{url.port}",
        resource_path=url.path,
        query_params=list(url.params.multi_items()),
        header_params=headers,
        body=body,
    )
    Signer(_Keys(ACCESS_KEY, sk)).sign(request)
    return dict(request.header_params)


def test_request_without_credentials_gets_gateway_401(sandbox_server):
    project = sandbox_server.projects[0]
    url = f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs"

    response = httpx.get(url)

    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"
    assert "error_msg" in response.json()


def test_unknown_token_gets_gateway_401(sandbox_server):
    project = sandbox_server.projects[0]
    url = f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs"

    response = httpx.get(url, headers={"X-Auth-Token": "not-a-token"})

    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"
    assert "not-a-token" not in response.text


def test_token_on_other_project_path_is_rejected(sandbox_server):
    alpha, beta = sandbox_server.projects
    url = f"{sandbox_server.base_url}/v1.0/{beta.project_id}/graphs"

    response = httpx.get(url, headers={"X-Auth-Token": alpha.token})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.0016"


def test_token_on_unknown_project_is_rejected(sandbox_server):
    alpha = sandbox_server.projects[0]
    url = f"{sandbox_server.base_url}/v1.0/{'9' * 32}/graphs"

    response = httpx.get(url, headers={"X-Auth-Token": alpha.token})

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.0016"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_aksk_signed_request_is_accepted(sandbox_server, method):
    project = sandbox_server.projects[1]
    if method == "GET":
        url = httpx.URL(
            f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs",
            params={"offset": "0", "limit": "5"},
        )
        body = b""
    else:
        url = httpx.URL(
            f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs/action",
            params={"action_id": "check-schema"},
        )
        body = b'{"schemaPath": "bucket/schema.xml", "edgesetPath": "bucket/edges.csv"}'

    headers = signed_headers(url, method, body)
    response = httpx.request(method, url, headers=headers, content=body)

    assert response.status_code == 200, response.text


def test_aksk_wrong_secret_is_rejected(sandbox_server):
    project = sandbox_server.projects[0]
    url = httpx.URL(f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs")

    headers = signed_headers(url, sk="a-different-secret")
    response = httpx.get(url, headers=headers)

    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"


def test_aksk_tampered_query_is_rejected(sandbox_server):
    project = sandbox_server.projects[0]
    url = httpx.URL(
        f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs",
        params={"limit": "5"},
    )

    headers = signed_headers(url)
    response = httpx.get(url.copy_with(params={"limit": "6"}), headers=headers)

    assert response.status_code == 401


def test_aksk_tampered_body_is_rejected(sandbox_server):
    project = sandbox_server.projects[0]
    url = httpx.URL(
        f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs/action",
        params={"action_id": "check-schema"},
    )
    body = b'{"schemaPath": "bucket/schema.xml", "edgesetPath": "bucket/edges.csv"}'

    headers = signed_headers(url, "POST", body)
    response = httpx.post(
        url, headers=headers, content=body.replace(b"edges", b"other")
    )

    assert response.status_code == 401


def test_aksk_stale_date_is_rejected(sandbox_server):
    project = sandbox_server.projects[0]
    url = httpx.URL(f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)

    headers = signed_headers(url, when=an_hour_ago)
    response = httpx.get(url, headers=headers)

    assert response.status_code == 401
    assert "expired" in response.json()["error_msg"]


def test_error_bodies_never_echo_secret_key(sandbox_server):
    project = sandbox_server.projects[0]
    url = httpx.URL(f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs")

    headers = signed_headers(url, sk="a-different-secret")
    response = httpx.get(url, headers=headers)

    assert SECRET_KEY not in response.text
    assert ACCESS_KEY not in response.text


@pytest.mark.parametrize("declared", ["sha256-of-other", "UNSIGNED-PAYLOAD"])
def test_aksk_declared_payload_hash_must_match_json_body(sandbox_server, declared):
    project = sandbox_server.projects[0]
    url = httpx.URL(
        f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs/action",
        params={"action_id": "check-schema"},
    )
    signed_body = b'{"schemaPath": "bucket/schema.xml", "edgesetPath": "bucket/e.csv"}'
    sent_body = signed_body.replace(b"e.csv", b"x.csv")
    if declared == "sha256-of-other":
        declared = hashlib.sha256(signed_body).hexdigest()

    headers = signed_headers(
        url, "POST", signed_body, extra={"X-Sdk-Content-Sha256": declared}
    )
    response = httpx.post(url, headers=headers, content=sent_body)

    assert response.status_code == 401
