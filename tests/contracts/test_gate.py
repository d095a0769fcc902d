from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import openapi
import sandbox
from contracts import ges_checks
from contracts.cleanup import INTERRUPTED, raise_if_interrupted, signals_interrupt
from tests.contracts.servers import BrokenQuotasApp, RecordingApp, serve

GATE_TIMEOUT_SECONDS = 240
PROJECT = sandbox.ProjectCredentials(
    "c0ffee00c0ffee00c0ffee00c0ffee00", "gate-test-token-7f3a"
)
ACCESS_KEY = "AKGATETEST0000000001"
SECRET_KEY = "gate-test-secret-key-91b2"


def gate(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("GES_AUTH_TOKEN", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "contracts", *args],
        capture_output=True,
        text=True,
        timeout=GATE_TIMEOUT_SECONDS,
        env=environment,
        check=False,
    )


def target_args(base_url: str) -> list[str]:
    return [
        "--target",
        base_url,
        "--project-id",
        PROJECT.project_id,
        "--token",
        PROJECT.token,
    ]


def settings() -> sandbox.SandboxSettings:
    return sandbox.SandboxSettings(
        projects=(PROJECT,), access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )


@pytest.fixture
def recorded_sandbox() -> Iterator[tuple[RecordingApp, str]]:
    app = RecordingApp(sandbox.create_app(settings()))
    with serve(app) as base_url:
        yield app, base_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spec_operations() -> dict[str, str]:
    return {op.operation_id: op.tag for op in openapi.operations().values()}


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    report = tmp_path_factory.mktemp("embedded") / "junit.xml"
    completed = gate("--max-examples", "3", "--seed", "11", "--junit-xml", str(report))
    return completed.returncode, completed.stdout, report


def test_gate_embedded_sandbox_writes_junit(
    embedded_run: tuple[int, str, Path],
) -> None:
    returncode, stdout, report = embedded_run

    every_case = ET.parse(report).getroot().findall("testcase")
    cases = [case for case in every_case if case.get("classname") != "checks"]
    checks = [case.get("name") for case in every_case if case not in cases]

    assert returncode in (0, 1), stdout[-2000:]
    assert len(cases) == 24
    assert checks == list(ges_checks.CHECKS)
    assert {
        case.get("name"): case.get("classname") for case in cases
    } == spec_operations()
    assert stdout.splitlines()[-1].startswith("Ran ")


def test_gate_embedded_sandbox_exits_zero(embedded_run: tuple[int, str, Path]) -> None:
    returncode, stdout, _ = embedded_run

    assert returncode == 0, stdout[-3000:]


def test_gate_nonconforming_target_exits_one(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    app = BrokenQuotasApp(sandbox.create_app(settings()))

    with serve(app) as base_url:
        completed = gate(
            *target_args(base_url),
            "--operation-id",
            "listQuotas",
            "--max-examples",
            "3",
            "--junit-xml",
            str(report),
        )

    assert completed.returncode == 1
    assert "listQuotas: response_schema_conformance:" in completed.stdout
    curl_lines = [line for line in completed.stdout.splitlines() if "curl " in line]
    assert curl_lines
    assert all("X-Auth-Token: ***" in line for line in curl_lines)
    assert PROJECT.token not in completed.stdout + completed.stderr
    assert PROJECT.token not in report.read_text()
    every_case = ET.parse(report).getroot().findall("testcase")
    cases = [case for case in every_case if case.get("classname") != "checks"]
    assert [case.get("name") for case in cases] == ["listQuotas"]
    failure = cases[0].find("failure")
    assert failure is not None
    assert "response_schema_conformance" in (failure.get("type") or "")


def test_gate_aksk_credentials_are_accepted(
    recorded_sandbox: tuple[RecordingApp, str],
) -> None:
    app, base_url = recorded_sandbox
    env = {"HUAWEICLOUD_SDK_AK": ACCESS_KEY, "HUAWEICLOUD_SDK_SK": SECRET_KEY}

    completed = gate(
        "--target",
        base_url,
        "--project-id",
        PROJECT.project_id,
        "--operation-id",
        "listGraphs",
        "--operation-id",
        "showGraph",
        "--max-examples",
        "3",
        "--rate-limit",
        "0",
        env=env,
    )

    assert completed.returncode in (0, 1), completed.stderr
    assert 401 not in app.statuses
    assert 200 in app.statuses
    assert ACCESS_KEY not in completed.stdout + completed.stderr
    assert SECRET_KEY not in completed.stdout + completed.stderr
    assert len(app.requests) > 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-examples", "0"], "must be at least 1"),
        (["--seed", "x"], "expected a whole number"),
        (
            ["--target", "ftp://127.0.0.1:1", "--project-id", "p", "--token", "t"],
            "http(s) URL",
        ),
        (["--target", "http://127.0.0.1:1", "--token", "t"], "needs --project-id"),
        (["--target", "http://127.0.0.1:1", "--project-id", "p"], "needs credentials"),
        (["--project-id", "p"], "apply only with --target"),
        (["--no-such-option"], "unrecognized arguments"),
        (
            ["--target", "http://[::1", "--project-id", "p", "--token", "t"],
            "is not a valid URL",
        ),
    ],
)
def test_gate_bad_arguments_exit_two(args: list[str], message: str) -> None:
    completed = gate(*args)

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("ges-contracts: error:")
    assert message in completed.stderr


def test_gate_unreachable_target_exits_two() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    completed = gate("--target", url, "--project-id", "p1", "--token", "secret-token-1")

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "is unreachable" in completed.stderr
    assert "secret-token-1" not in completed.stderr


def test_gate_rejected_credentials_exit_two(
    recorded_sandbox: tuple[RecordingApp, str],
) -> None:
    _, base_url = recorded_sandbox

    completed = gate(
        "--target", base_url, "--project-id", PROJECT.project_id, "--token", "wrong"
    )

    assert completed.returncode == 2
    assert "rejected the credentials" in completed.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("openapi: [unclosed", "failed to load the spec"),
        (b"openapi: 3.1.0\ninfo: \xff\xfe\n", "not a UTF-8 text file"),
        ("directory", "is a directory"),
    ],
)
def test_gate_unreadable_spec_exits_two(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    spec = tmp_path / "spec.yaml"
    if content == "directory":
        spec.mkdir()
    elif isinstance(content, bytes):
        spec.write_bytes(content)
    elif content is not None:
        spec.write_text(content)

    completed = gate("--spec", str(spec))

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert message in completed.stderr


def recorded_run(seed: str) -> list[tuple[str, str, str, bytes]]:
    app = RecordingApp(sandbox.create_app(settings()))
    with serve(app) as base_url:
        completed = gate(
            *target_args(base_url),
            "--no-seed-resources",
            "--operation-id",
            "listJobs",
            "--operation-id",
            "importGraph",
            "--max-examples",
            "5",
            "--rate-limit",
            "0",
            "--seed",
            seed,
        )
    assert completed.returncode in (0, 1), completed.stderr
    return app.requests


def test_gate_same_seed_repeats_cases() -> None:
    first = recorded_run("4242")
    second = recorded_run("4242")
    other = recorded_run("4343")

    assert len(first) > 20
    assert first == second
    assert first != other


def graph_and_metadata_names(base_url: str) -> list[str]:
    headers = {"X-Auth-Token": PROJECT.token}
    prefix = f"{base_url}/v1.0/{PROJECT.project_id}/graphs"
    graphs = httpx.get(prefix, params={"limit": 100}, headers=headers).json()["graphs"]
    metadata = httpx.get(f"{prefix}/metadatas", params={"limit": 100}, headers=headers)
    names = [graph["name"] for graph in graphs if graph.get("status") != "400"]
    return names + [item["name"] for item in metadata.json()["schemaList"]]


def _seeded_kinds(base_url: str) -> set[str]:
    suffixes = {name.rsplit("_", 1)[-1] for name in graph_and_metadata_names(base_url)}
    return suffixes & {"graph", "metadata"}


def test_gate_interrupt_deletes_created_resources() -> None:
    with sandbox.start(settings()) as running:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "contracts",
                *target_args(running.base_url),
                "--mode",
                "lifecycle",
                "--allow-mutations",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Interrupt once the run has seeded its graph and metadata record:
        # what it prints first comes before the seeding requests.
        deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
        seeded = _seeded_kinds(running.base_url)
        while seeded != {"graph", "metadata"} and time.monotonic() < deadline:
            time.sleep(0.05)
            seeded = _seeded_kinds(running.base_url)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=GATE_TIMEOUT_SECONDS)

        deadline = time.monotonic() + 10
        names = graph_and_metadata_names(running.base_url)
        while names and time.monotonic() < deadline:
            time.sleep(0.2)
            names = graph_and_metadata_names(running.base_url)

    assert seeded == {"graph", "metadata"}
    assert process.returncode == 2
    assert "interrupted" in stderr
    assert names == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_interrupt_handler_sets_flag_only(signum: signal.Signals) -> None:
    with signals_interrupt():
        os.kill(os.getpid(), signum)
        flagged = INTERRUPTED.is_set()
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()

    assert flagged
    assert not INTERRUPTED.is_set()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_gate_signal_during_cases_exits_two_with_one_line(
    signum: signal.Signals,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "contracts", "--max-examples", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    # The first line names the target; the second is an operation's progress,
    # so cases are being sent when the signal arrives.
    first = process.stdout.readline()
    second = process.stdout.readline()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=GATE_TIMEOUT_SECONDS)

    assert first.startswith("Testing")
    assert second
    assert process.returncode == 2, stderr
    assert stderr == "ges-contracts: the run was interrupted\n"
    assert "Leftovers" not in stdout


def test_gate_lifecycle_at_graph_cap_keeps_check_results(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    with sandbox.start(settings()) as running:
        completed = gate(
            *target_args(running.base_url),
            "--mode",
            "lifecycle",
            "--allow-mutations",
            "--max-graphs",
            "1",
            "--max-examples",
            "2",
            "--rate-limit",
            "0",
            "--stateful-runs",
            "0",
            "--junit-xml",
            str(report),
        )
    checks = {
        case.get("name"): case
        for case in ET.parse(report).getroot().iter("testcase")
        if case.get("classname") == "checks"
    }

    def runs(name: str) -> int:
        prop = checks[name].find("properties/property[@name='runs']")
        assert prop is not None
        return int(prop.get("value", "0"))

    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "stateful_phase" not in checks
    assert runs("pagination") > 0
    assert runs("bad_ids") > 0
    assert runs("use_after_delete") > 0
    leakage = checks["no_leftovers_no_leakage"].findtext("system-out") or ""
    assert "exceed --max-graphs 1" in leakage


def test_gate_negative_create_cases_get_run_prefix() -> None:
    with sandbox.start(settings()) as running:
        completed = gate(
            *target_args(running.base_url),
            "--mode",
            "lifecycle",
            "--allow-mutations",
            "--max-graphs",
            "50",
            "--operation-id",
            "createGraph",
            "--max-examples",
            "2",
            "--rate-limit",
            "0",
            "--no-stateful",
            "--no-seed-resources",
        )
    unprefixed = re.search(
        r"(\d+) because the body does not name the resource", completed.stdout
    )
    sent = re.search(r"Ran (\d+) cases", completed.stdout)

    assert completed.returncode in (0, 1), completed.stderr
    assert sent is not None
    # Only cases whose name itself is invalid on purpose stay unprefixed.
    assert unprefixed is None or int(unprefixed.group(1)) < 50
    assert int(sent.group(1)) > 200


async def html_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html")],
        }
    )
    await send({"type": "http.response.body", "body": b"<html>login</html>"})


def test_gate_html_target_exits_two() -> None:
    with serve(html_app) as base_url:
        completed = gate(*target_args(base_url))

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "does not look like the GES API" in completed.stderr


@pytest.mark.parametrize("kind", ["directory", "unwritable"])
def test_gate_unwritable_junit_keeps_exit_status(tmp_path: Path, kind: str) -> None:
    report = tmp_path
    if kind == "unwritable":
        # A path below a regular file can never be created, even by root.
        blocker = tmp_path / "file"
        blocker.write_text("")
        report = blocker / "report.xml"

    completed = gate(
        "--operation-id",
        "listJobs",
        "--max-examples",
        "2",
        "--no-stateful",
        "--junit-xml",
        str(report),
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.count("\n") == 1
    assert "failed to write the JUnit report" in completed.stderr


def test_gate_word_token_keeps_curl_urls_readable() -> None:
    project = sandbox.ProjectCredentials(PROJECT.project_id, "graphs")
    app = BrokenQuotasApp(sandbox.create_app(sandbox.SandboxSettings((project,))))

    with serve(app) as base_url:
        completed = gate(
            "--target",
            base_url,
            "--project-id",
            project.project_id,
            "--token",
            project.token,
            "--operation-id",
            "listQuotas",
            "--max-examples",
            "2",
            "--rate-limit",
            "0",
            "--no-stateful",
        )
    curl_lines = [line for line in completed.stdout.splitlines() if "curl " in line]

    assert completed.returncode == 1, completed.stderr
    assert curl_lines
    assert all("X-Auth-Token: ***" in line for line in curl_lines)
    assert all("/graphs/quotas" in line for line in curl_lines)
