"""Scriptable HTTP servers on loopback: a faulty GES endpoint and an IAM stand-in.

The sandbox cannot answer 5xx, 429, slow or malformed responses on demand, so
the fault tests aim the probe at `FaultyServer`, which replays scripted
responses per path, and fall back to a default response when a script runs out.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body if self.body is not None else {}).encode()


@dataclass
class Received:
    """One request the server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class FaultyServer:
    """Answer each path from its script, then from its default reply."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.defaults: dict[str, Reply] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.scripts[path].extend(replies)

    def default(self, path: str, reply: Reply) -> None:
        with self.lock:
            self.defaults[path] = reply

    def requests_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def _next(self, path: str) -> Reply:
        with self.lock:
            script = self.scripts.get(path)
            if script:
                return script.popleft()
            return self.defaults.get(path, Reply(404, {"error_code": "APIGW.0101"}))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server.lock:
                    server.received.append(
                        Received(self.command, path, query, dict(self.headers), body)
                    )
                reply = server._next(path)
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                payload = reply.payload()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> Self:
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def iam_token_reply(token: str, lifetime_seconds: float) -> Reply:
    """Return an IAM `POST /v3/auth/tokens` answer issuing `token`."""
    expires = datetime.now(UTC) + timedelta(seconds=lifetime_seconds)
    body = {"token": {"expires_at": expires.isoformat().replace("+00:00", "Z")}}
    return Reply(201, body, headers={"X-Subject-Token": token})


@contextmanager
def iam_stand_in(token: str, lifetime_seconds: float) -> Iterator[FaultyServer]:
    """Serve an IAM that issues `token`, valid `lifetime_seconds`, on every call."""

    class IamServer(FaultyServer):
        def _next(self, path: str) -> Reply:
            if path == "/v3/auth/tokens":
                return iam_token_reply(token, lifetime_seconds)
            return super()._next(path)

    with IamServer() as server:
        yield server
