"""Seed a sandbox with many graphs and jobs, then serve it on loopback.

Run by `probe_benchmark.py` as a separate process, so that the sandbox and
the probe do not share one interpreter lock. The sandbox has no bulk-seeding
entry point, so seeding goes through its public ASGI app in-process
(`sandbox.create_app` with `httpx.ASGITransport`): every graph and job is made
by a real API request, without a socket per request. The same app object is
then served by uvicorn on a loopback socket. Prints one JSON line with the
base URL, project id and token, then serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time

import httpx
import uvicorn

import sandbox

GRAPH_BODY = {
    "graphSizeTypeIndex": "0",
    "vpcId": "vpc-bench",
    "subnetId": "subnet-bench",
    "securityGroupId": "sg-bench",
}


async def seed(
    app: object, project_id: str, token: str, graphs: int, jobs: int
) -> None:
    """Create `graphs` graphs, then stop and start them until `jobs` jobs exist."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"X-Auth-Token": token}
    prefix = f"/v1.0/{project_id}/graphs"
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox", headers=headers
    ) as client:
        ids = []
        for index in range(graphs):
            graph = {"name": f"bench_graph_{index:05d}", **GRAPH_BODY}
            response = await client.post(prefix, json={"graph": graph})
            response.raise_for_status()
            ids.append(response.json()["id"])

        made = graphs
        rounds = 0
        while made < jobs:
            action = "stop" if rounds % 2 == 0 else "start"
            for graph_id in ids:
                if made >= jobs:
                    break
                response = await client.post(
                    f"{prefix}/{graph_id}/action", params={"action_id": action}
                )
                response.raise_for_status()
                made += 1
            rounds += 1
        # One request more lets the last jobs finish at time scale 0.
        await client.get(f"{prefix}/quotas")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()

    project = sandbox.ProjectCredentials(
        "benchproject0000000000000000000", "bench-token"
    )
    settings = sandbox.SandboxSettings(
        projects=(project,),
        time_scale=0.0,
        graph_quota=args.graphs,
        edge_quota=10_000 * args.graphs,
    )
    app = sandbox.create_app(settings)
    started = time.perf_counter()
    asyncio.run(seed(app, project.project_id, project.token, args.graphs, args.jobs))
    seed_seconds = time.perf_counter() - started

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    while not server.started:
        time.sleep(0.05)

    print(json.dumps({
        "base_url": f"http://127.0.0.1:{port}",
        "project_id": project.project_id,
        "token": project.token,
        "seed_seconds": seed_seconds,
    }), flush=True)  # fmt: skip
    sys.stdin.read()
    server.should_exit = True
    thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
