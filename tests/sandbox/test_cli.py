from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_prints_endpoint_project_and_token_then_serves():
    port = _free_port()
    process = _start("--port", str(port), "--project-id", "proj1", "--token", "tok1")
    try:
        first = process.stdout.readline()
        second = process.stdout.readline()
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1.0/proj1/graphs/quotas",
            headers={"X-Auth-Token": "tok1"},
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
        code = process.returncode

    assert f"http://127.0.0.1:{port}" in first
    assert "proj1" in second
    assert "tok1" in second
    assert response.status_code == 200
    assert code == 0


def test_cli_pairs_several_projects_in_order():
    port = _free_port()
    process = _start(
        "--port",
        str(port),
        "--project-id",
        "p1",
        "--token",
        "t1",
        "--project-id",
        "p2",
        "--token",
        "t2",
    )
    try:
        process.stdout.readline()
        lines = [process.stdout.readline(), process.stdout.readline()]
        own = httpx.get(
            f"http://127.0.0.1:{port}/v1.0/p2/graphs", headers={"X-Auth-Token": "t2"}
        )
        crossed = httpx.get(
            f"http://127.0.0.1:{port}/v1.0/p2/graphs", headers={"X-Auth-Token": "t1"}
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)

    assert "p1" in lines[0]
    assert "t1" in lines[0]
    assert "p2" in lines[1]
    assert "t2" in lines[1]
    assert own.status_code == 200
    assert crossed.status_code == 400


def test_cli_rejects_unpaired_tokens_with_one_line():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--project-id",
            "a",
            "--project-id",
            "b",
            "--token",
            "t",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "one token per project" in result.stderr


def test_cli_rejects_non_loopback_host():
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--host", "0.0.0.0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )

    assert result.returncode == 2
    assert "loopback" in result.stderr
