"""A small GES client for the suite's own tests, with polling helpers."""

from __future__ import annotations

import time
from typing import Any, Self

import httpx

POLL_SECONDS = 0.01
DEFAULT_DEADLINE_SECONDS = 20.0


class GesApi:
    """Requests against one project's `/v1.0/{project_id}/graphs` tree."""

    def __init__(self, base_url: str, project_id: str, token: str) -> None:
        self.project_id = project_id
        self.prefix = f"/v1.0/{project_id}/graphs"
        self.http = httpx.Client(
            base_url=base_url, headers={"X-Auth-Token": token}, timeout=10.0
        )

    def request(self, method: str, path: str = "", **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.prefix}{path}", **kwargs)

    def get(self, path: str = "", **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str = "", **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str = "", **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def action(self, graph_id: str, action: str, **kwargs: Any) -> httpx.Response:
        return self.post(f"/{graph_id}/action", params={"action_id": action}, **kwargs)

    def create_graph(self, name: str, **fields: Any) -> str:
        graph = {
            "name": name,
            "graphSizeTypeIndex": "1",
            "vpcId": "vpc-1",
            "subnetId": "subnet-1",
            "securityGroupId": "sg-1",
            **fields,
        }
        response = self.post(json={"graph": graph})
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def create_running_graph(self, name: str, **fields: Any) -> str:
        graph_id = self.create_graph(name, **fields)
        self.wait_status(graph_id, {"200"})
        return graph_id

    def status(self, graph_id: str) -> str:
        response = self.get(f"/{graph_id}")
        assert response.status_code == 200, response.text
        return response.json()["graph"]["status"]

    def wait_status(
        self,
        graph_id: str,
        wanted: set[str],
        deadline: float = DEFAULT_DEADLINE_SECONDS,
    ) -> list[str]:
        """Poll the graph until its status is in `wanted`; return every status seen."""
        seen: list[str] = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            status = self.status(graph_id)
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in wanted:
                return seen
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"graph {graph_id} never reached {wanted}; saw {seen}")

    def wait_job(
        self, graph_id: str, job_id: str, deadline: float = DEFAULT_DEADLINE_SECONDS
    ) -> dict[str, Any]:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            response = self.get(f"/{graph_id}/jobs/{job_id}/status")
            assert response.status_code == 200, response.text
            job = response.json()
            if job["status"] in ("success", "failed"):
                return job
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"job {job_id} did not finish within {deadline} s")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
