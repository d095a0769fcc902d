"""Whatever a client sends, the sandbox responds below 500 in a known envelope."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

GES_CODE = re.compile(r"GES\.\d{4}")
GATEWAY_CODE = re.compile(r"APIGW\.\d{4}")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

POSTS = [
    ("", {}),
    ("/metadatas", {}),
    ("/action", {"action_id": "check-schema"}),
    ("/{graph}/action", {"action_id": "start"}),
    ("/{graph}/action", {"action_id": "import-graph"}),
    ("/{graph}/action", {"action_id": "export-graph"}),
    ("/{graph}/action", {"action_id": "upgrade"}),
    ("/{graph}/action", {"action_id": "bindEip"}),
]


def _assert_envelope(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        code = body.get("errorCode") or body.get("error_code")
        assert GES_CODE.fullmatch(code) or GATEWAY_CODE.fullmatch(code), body


@pytest.fixture(scope="module")
def client(sandbox_server):
    project = sandbox_server.projects[0]
    with httpx.Client(
        base_url=f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs",
        headers={"X-Auth-Token": project.token},
    ) as http:
        graph = {
            "name": "graph_robust",
            "graphSizeTypeIndex": "0",
            "vpcId": "v",
            "subnetId": "s",
            "securityGroupId": "g",
        }
        url = f"{sandbox_server.base_url}/v1.0/{project.project_id}/graphs"
        graph_id = http.post(url, json={"graph": graph}).json()["id"]
        http.graph_id = graph_id  # type: ignore[attr-defined]
        yield http


@settings(max_examples=40)
@given(body=json_values, target=st.sampled_from(POSTS))
def test_any_json_body_gets_a_client_error_not_500(client, body, target):
    path, params = target
    response = client.post(
        path.format(graph=client.graph_id), params=params, content=json.dumps(body)
    )

    _assert_envelope(response)


@settings(max_examples=40)
@given(raw=st.binary(max_size=64), target=st.sampled_from(POSTS))
def test_any_raw_body_gets_a_client_error_not_500(client, raw, target):
    path, params = target
    response = client.post(
        path.format(graph=client.graph_id), params=params, content=raw
    )

    _assert_envelope(response)


@settings(max_examples=40)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "offset",
                "limit",
                "status",
                "graph_name",
                "startTime",
                "endTime",
                "keepBackup",
            ]
        ),
        st.text(max_size=12),
        max_size=4,
    ),
    path=st.sampled_from(["", "/jobs", "/backups", "/metadatas", "/{graph}/backups"]),
)
def test_any_query_gets_a_client_error_not_500(client, params, path):
    response = client.get(path.format(graph=client.graph_id), params=params)

    _assert_envelope(response)


@settings(max_examples=40)
@given(segment=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s))
def test_any_id_segment_gets_a_client_error_not_500(client, segment):
    response = client.get("/" + quote(segment, safe=""))

    _assert_envelope(response)


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH"])
def test_unsupported_method_gets_405_gateway_envelope(client, method):
    response = client.request(method, "/metadatas")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST, DELETE"
    assert response.json()["error_code"] == "APIGW.0101"


def test_delete_on_literal_path_reaches_delete_graph(client):
    response = client.delete("/quotas")

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7000"


def test_literal_path_wins_for_its_own_method(client):
    response = client.get("/quotas")

    assert response.status_code == 200
    assert "quotas" in response.json()


@pytest.mark.parametrize("segment", ["a%0Ab", "%0D%0A", "tab%09id"])
def test_control_characters_in_id_get_ges_error(client, segment):
    response = client.get(f"/{segment}")

    _assert_envelope(response)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "m", "description": "\\ud800"}',
        b'{"graph": {"vpcId": NaN}}',
        b'{"graph": {"vpcId": Infinity}}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_unencodable_or_deep_json_is_rejected(client, raw):
    response = client.post("/metadatas", content=raw)
    listed = client.get("/metadatas")

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.7016"
    assert listed.status_code == 200


def test_repeated_query_parameter_is_rejected(client):
    response = client.post(f"/{client.graph_id}/action?action_id=stop&action_id=start")

    assert response.status_code == 400
    assert response.json()["errorCode"] == "GES.0001"


def test_repeated_token_header_is_rejected(client, sandbox_server):
    token = sandbox_server.projects[0].token
    headers = [("X-Auth-Token", token), ("X-Auth-Token", "other")]

    response = client.get("/quotas", headers=headers)

    assert response.status_code == 401


def test_huge_upgrade_version_is_rejected(client):
    response = client.post(
        f"/{client.graph_id}/action",
        params={"action_id": "upgrade"},
        json={"upgradeVersion": "9" * 5000},
    )

    _assert_envelope(response)
    assert response.status_code == 400
