"""A loopback proxy in front of a real sandbox that corrupts chosen exchanges.

    proxy = CorruptingProxy(sandbox.create_app(settings))
    proxy.reply_rule = lambda exchange: ...   # return a new (status, body) or None
    proxy.request_rule = lambda request: ...  # return a rewritten Request or None
    with serve(proxy) as base_url: ...

Rules see parsed values and return None to leave an exchange alone, so a
test breaks exactly one behaviour of an otherwise correct server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

Scope = dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    token: str | None


@dataclass(frozen=True)
class Exchange:
    request: Request
    status: int
    body: Any


ReplyRule = Callable[[Exchange], tuple[int, Any] | None]
RequestRule = Callable[[Request], Request | None]


class CorruptingProxy:
    """Passes requests to `app`, letting the rules rewrite requests and replies."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.reply_rule: ReplyRule | None = None
        self.request_rule: RequestRule | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _request(scope)
        if self.request_rule is not None:
            rewritten = self.request_rule(request)
            if rewritten is not None:
                scope = _apply(scope, request, rewritten)
                request = rewritten
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        status, content = start["status"], b"".join(chunks)
        if self.reply_rule is not None:
            try:
                body = json.loads(content)
            except ValueError:
                body = None
            changed = self.reply_rule(Exchange(request, status, body))
            if changed is not None:
                status, content = changed[0], json.dumps(changed[1]).encode()
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() != b"content-length"
        ]
        headers.append((b"content-length", str(len(content)).encode()))
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": content})


def _request(scope: Scope) -> Request:
    headers = {name.lower(): value for name, value in scope["headers"]}
    token = headers.get(b"x-auth-token")
    return Request(
        scope["method"],
        scope["path"],
        dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True)),
        token.decode() if token is not None else None,
    )


def _apply(scope: Scope, old: Request, new: Request) -> Scope:
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if name.lower() != b"x-auth-token"
    ]
    if new.token is not None:
        headers.append((b"x-auth-token", new.token.encode()))
    query = "&".join(f"{key}={value}" for key, value in new.query.items())
    changed = dict(scope)
    changed.update(
        path=new.path,
        raw_path=new.path.encode(),
        query_string=query.encode(),
        headers=headers,
    )
    return changed


def with_path(request: Request, path: str) -> Request:
    return replace(request, path=path)
