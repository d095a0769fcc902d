"""The one path every request of a gate run takes to the target.

    policy = RequestPolicy(guard, limiter)
    client = httpx.Client(base_url=..., transport=policy.httpx_transport())
    session = policy.requests_session()       # for `case.call(session=...)`

Both transports do the same, in order: ask the `Guard` (which raises
`RequestRejected` before anything is sent), wait for the `RateLimiter`, send,
and on a 429 wait for its Retry-After and send again, at most
`max_retries` times, before returning the last 429 to the caller. Each
response is then shown to the guard, which keeps the `ResourceRegistry` up to
date; a request that gets no response at all is shown to it as lost. A
stateful phase that builds its own clients should build them from the
run's `RequestPolicy` in the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import requests
from requests.adapters import HTTPAdapter

from contracts.safety import Guard, Ticket
from contracts.throttle import (
    DEFAULT_MAX_RETRIES,
    RateLimiter,
    ThrottleStats,
    retry_after_seconds,
)

TOO_MANY_REQUESTS = 429

ResponseT = TypeVar("ResponseT")


class RequestPolicy:
    """The guard, the rate limiter and the 429 retry rule of one run."""

    def __init__(
        self,
        guard: Guard,
        limiter: RateLimiter,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.guard = guard
        self.limiter = limiter
        self.max_retries = max_retries
        self.stats = ThrottleStats()
        self.wall_clock = wall_clock

    def retry_delay(
        self, attempt: int, status_code: int, retry_after: str | None
    ) -> float | None:
        """Return the seconds to wait before sending again, or None to stop."""
        if status_code != TOO_MANY_REQUESTS:
            return None
        if attempt >= self.max_retries:
            self.stats.record_give_up()
            return None
        delay = retry_after_seconds(retry_after, now=self.wall_clock())
        self.stats.record_retry(delay)
        self.limiter.defer(delay)
        return delay

    def exchange(
        self,
        ticket: Ticket,
        send_once: Callable[[], ResponseT],
        read: Callable[[ResponseT], tuple[int, str | None, bytes]],
        close: Callable[[ResponseT], None],
    ) -> ResponseT:
        """Send an admitted request, retrying 429s, and show the outcome to the guard.

        `read` returns a response's status code, Retry-After header and body.
        """
        attempt = 0
        while True:
            self.limiter.acquire()
            try:
                response = send_once()
                status_code, retry_after, content = read(response)
            except BaseException:
                # No response: a create may still have made its resource.
                self.guard.lost(ticket)
                raise
            if self.retry_delay(attempt, status_code, retry_after) is None:
                self.guard.complete(ticket, status_code, _decode(content))
                return response
            close(response)
            attempt += 1

    def httpx_transport(
        self, inner: httpx.BaseTransport | None = None
    ) -> httpx.BaseTransport:
        return _HttpxTransport(self, inner or httpx.HTTPTransport())

    def requests_session(self) -> requests.Session:
        session = requests.Session()
        adapter = _RequestsAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


def _decode(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


class _HttpxTransport(httpx.BaseTransport):
    def __init__(self, policy: RequestPolicy, inner: httpx.BaseTransport) -> None:
        self.policy = policy
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        ticket = self.policy.guard.admit(
            request.method, str(request.url), request.content, request.headers
        )
        return self.policy.exchange(
            ticket,
            lambda: self.inner.handle_request(request),
            _read_httpx,
            lambda response: response.close(),
        )

    def close(self) -> None:
        self.inner.close()


class _RequestsAdapter(HTTPAdapter):
    def __init__(self, policy: RequestPolicy) -> None:
        super().__init__()
        self.policy = policy

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        ticket = self.policy.guard.admit(
            request.method or "GET",
            request.url or "",
            body if isinstance(body, bytes) else None,
            request.headers,
        )
        return self.policy.exchange(
            ticket,
            lambda: super(_RequestsAdapter, self).send(request, *args, **kwargs),
            _read_requests,
            lambda response: response.close(),
        )


def _read_httpx(response: httpx.Response) -> tuple[int, str | None, bytes]:
    content = response.read()
    return response.status_code, response.headers.get("Retry-After"), content


def _read_requests(response: requests.Response) -> tuple[int, str | None, bytes]:
    content = response.content
    return response.status_code, response.headers.get("Retry-After"), content
