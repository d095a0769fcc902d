"""The probe's HTTP client for the GES management API.

Errors raised by `GesClient`, all subclasses of `ApiError`:

- `ApiResponseError`: the API responded with a status other than 200, after any
  retries; it carries the status and the GES or APIGW error code.
- `ApiTransportError`: no response (connect or read timeout, refused
  connection, IAM could not issue a token), after any retries.
- `MalformedResponseError`: a 200 response whose body is not the JSON the probe
  needs (not JSON, not an object, a list field missing or of the wrong type, a
  page longer than the requested `limit`), or any body over
  `MAX_RESPONSE_BYTES`.

Every attempt is reported to a `RequestRecorder`, and every response body is
checked against the OpenAPI document before it is returned.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from probes.auth import IamError
from probes.logs import CYCLE_LOGGER, log

DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_INITIAL_SECONDS = 0.5
DEFAULT_BACKOFF_MAX_SECONDS = 10.0
# A Retry-After longer than this is not waited for inside a cycle: the request
# fails and the next cycle tries again.
DEFAULT_RETRY_AFTER_MAX_SECONDS = 60.0

# A listing that has not ended after this many pages is treated as malformed:
# a server that keeps returning items past its own count would otherwise keep
# one cycle busy without end.
MAX_PAGES_PER_LISTING = 10_000
# A body longer than this is not read to its end. A page of 1,000 graphs, the
# largest the probe requests by default, is about 2 MB of JSON, and parsing a
# body takes several times its size in memory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

_ERROR_CODE = re.compile(r"[A-Z][A-Za-z]{1,9}\.[0-9]{4}")

logger = logging.getLogger(CYCLE_LOGGER + ".client")


class ApiError(Exception):
    """A request to the GES API failed."""

    def __init__(self, operation: str, message: str, error_code: str) -> None:
        super().__init__(message)
        self.operation = operation
        self.error_code = error_code


class ApiResponseError(ApiError):
    """The API responded with an error status."""

    def __init__(self, operation: str, status_code: int, error_code: str) -> None:
        super().__init__(
            operation,
            f"`{operation}` failed with HTTP {status_code} `{error_code}`",
            error_code,
        )
        self.status_code = status_code


class ApiTransportError(ApiError):
    """The API sent no response at all."""


class MalformedResponseError(ApiError):
    """The API responded with a body the probe cannot use."""

    def __init__(
        self, operation: str, reason: str, error_code: str = "malformed_response"
    ) -> None:
        super().__init__(
            operation,
            f"`{operation}` returned a malformed response: {reason}",
            error_code,
        )


class RequestRecorder(Protocol):
    """Receives what happened to each request attempt, for the `ges_api_*` metrics."""

    def observe_request(
        self, operation: str, status_code: int, seconds: float
    ) -> None: ...

    def count_error(self, operation: str, error_code: str) -> None: ...

    def count_retry(self, operation: str) -> None: ...

    def count_violation(self, operation: str, kind: str) -> None: ...


ResponseValidator = Callable[[str, int, Any], list[Any]]


@dataclass(frozen=True)
class Timeouts:
    """Connect and read timeouts in seconds."""

    connect_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    read_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            self.read_seconds,
            connect=self.connect_seconds,
            read=self.read_seconds,
            pool=self.connect_seconds,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transport errors, 5xx and 429."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_initial_seconds: float = DEFAULT_BACKOFF_INITIAL_SECONDS
    backoff_max_seconds: float = DEFAULT_BACKOFF_MAX_SECONDS
    retry_after_max_seconds: float = DEFAULT_RETRY_AFTER_MAX_SECONDS

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Return the wait before attempt `attempt + 1`, with full jitter."""
        ceiling = self.backoff_initial_seconds * 2 ** (attempt - 1)
        return rng.uniform(0, min(ceiling, self.backoff_max_seconds))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the wait in seconds a Retry-After header requests (RFC 9110, 10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def error_code_of(status_code: int, body: Any) -> str:
    """Return the GES or APIGW error code in `body`, else `http_<status>`."""
    if isinstance(body, Mapping):
        code = body.get("errorCode") or body.get("error_code")
        if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
            return code
    return f"http_{status_code}"


class GesClient:
    """Send GES management requests for one project, with retries and checks."""

    def __init__(
        self,
        base_url: str,
        project_id: str,
        auth: httpx.Auth,
        recorder: RequestRecorder,
        validator: ResponseValidator | None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        target_name: str = "",
    ) -> None:
        self.project_id = project_id
        self.target_name = target_name
        self.recorder = recorder
        self._validator = validator
        self._retry = retry
        self._stop = stop or threading.Event()
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=timeouts.to_httpx(),
            transport=transport,
            headers={"Content-Type": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def path(self, template: str, **params: str) -> str:
        """Fill `{project_id}` and `params` into a wire path template."""
        return template.format(project_id=self.project_id, **params)

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        page: tuple[tuple[str, ...], int] | None = None,
    ) -> dict[str, Any]:
        """Send one logical request and return its JSON object body.

        With `page` (items keys, requested limit), a body with a list under one
        of the keys longer than the limit is malformed, and it is rejected before
        it is validated, which costs time and memory in proportion to its
        length.
        """
        attempt = 0
        while True:
            attempt += 1
            response, error = self._attempt(operation, method, path, params, json)
            if response is not None and _is_final(response):
                return self._finish(operation, response, page)
            if response is not None:
                error = self._finish_error(operation, response)

            wait = self._wait_before_retry(attempt, response)
            if wait is None:
                assert error is not None
                raise error
            self.recorder.count_retry(operation)
            log(
                logger,
                logging.WARNING,
                "retrying API request",
                target=self.target_name,
                operation=operation,
                attempt=attempt,
                wait_seconds=wait,
                status_code=response.status_code if response is not None else 0,
                err=str(error) if error is not None else "",
            )
            if self._stop.wait(wait):
                raise ApiTransportError(operation, "probe stopping", "stopped")

    def list_pages(
        self,
        operation: str,
        path: str,
        items_key: str,
        count_key: str,
        limit: int,
        params: Mapping[str, str | int] | None = None,
        alternative: tuple[str, str] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page of a paged listing; stop after `count_key` items.

        The number of requests is ceil(count / limit), at least 1: the count
        in the first page gives the number of pages, so no empty page is
        requested after the last one. `alternative` is another (items key,
        count key) pair, used for a page without `items_key`.
        """
        offset = 0
        total: int | None = None
        pages = 0
        while total is None or offset < total:
            pages += 1
            if pages > MAX_PAGES_PER_LISTING:
                raise self.malformed(
                    operation, f"the listing did not end after {pages - 1} pages"
                )
            query = {**(params or {}), "offset": offset, "limit": limit}
            item_keys = (items_key, alternative[0]) if alternative else (items_key,)
            body = self.request(
                operation, "GET", path, params=query, page=(item_keys, limit)
            )
            keys = (items_key, count_key)
            if alternative is not None and items_key not in body:
                keys = alternative
            items = body.get(keys[0])
            count = body.get(keys[1])
            if not isinstance(items, list) or not all(
                isinstance(item, dict) for item in items
            ):
                raise self.malformed(operation, f"`{keys[0]}` is not a list")
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise self.malformed(operation, f"`{keys[1]}` is not a count")
            total = count
            yield items
            if not items:
                break
            offset += len(items)

    def malformed(self, operation: str, reason: str) -> MalformedResponseError:
        """Count a malformed response and return the error to raise."""
        self.recorder.count_error(operation, "malformed_response")
        return MalformedResponseError(operation, reason)

    def _attempt(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
    ) -> tuple[httpx.Response | None, ApiError | None]:
        started = time.perf_counter()
        cause: httpx.TransportError | IamError
        try:
            response = self._send(operation, method, path, params, json)
        except httpx.TimeoutException as exc:
            error_code, cause = "timeout", exc
        except httpx.TransportError as exc:
            error_code, cause = "transport_error", exc
        except IamError as exc:
            error_code, cause = "iam_token_failed", exc
        else:
            seconds = time.perf_counter() - started
            self.recorder.observe_request(operation, response.status_code, seconds)
            return response, None

        self.recorder.count_error(operation, error_code)
        message = f"`{operation}` failed: {type(cause).__name__}: {cause}"
        return None, ApiTransportError(operation, message, error_code)

    def _send(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
    ) -> httpx.Response:
        """Send one attempt and read at most `MAX_RESPONSE_BYTES` of its body."""
        request = self._http.build_request(method, path, params=params, json=json)
        streamed = self._http.send(request, stream=True)
        try:
            declared = streamed.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                raise self._too_large(operation, f"{declared} bytes declared")
            chunks, size = [], 0
            # Decoded bytes are counted, so a compressed body cannot expand
            # past the limit either.
            for chunk in streamed.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise self._too_large(operation, f"over {size} bytes read")
                chunks.append(chunk)
        finally:
            streamed.close()
        headers = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() != "content-encoding"
        ]
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=request,
        )

    def _too_large(self, operation: str, detail: str) -> MalformedResponseError:
        self.recorder.count_error(operation, "response_too_large")
        reason = f"the body is longer than {MAX_RESPONSE_BYTES} bytes ({detail})"
        return MalformedResponseError(operation, reason, "response_too_large")

    def _wait_before_retry(
        self, attempt: int, response: httpx.Response | None
    ) -> float | None:
        if attempt >= self._retry.max_attempts:
            return None
        if response is not None and response.status_code == 429:
            header = response.headers.get("Retry-After")
            requested = parse_retry_after(header, time.time())
            if requested is not None:
                if requested > self._retry.retry_after_max_seconds:
                    return None
                return requested
        return self._retry.backoff(attempt, self._rng)

    def _finish(
        self,
        operation: str,
        response: httpx.Response,
        page: tuple[tuple[str, ...], int] | None = None,
    ) -> dict[str, Any]:
        if response.status_code != 200:
            raise self._finish_error(operation, response)
        try:
            body = response.json()
        except ValueError:
            raise self.malformed(operation, "the body is not JSON") from None
        if page is not None and isinstance(body, dict):
            item_keys, limit = page
            for items_key in item_keys:
                items = body.get(items_key)
                if isinstance(items, list) and len(items) > limit:
                    raise self.malformed(
                        operation,
                        f"`{items_key}` has {len(items)} items, more than the "
                        f"requested limit {limit}",
                    )
        self._validate(operation, response.status_code, body)
        if not isinstance(body, dict):
            raise self.malformed(operation, "the body is not a JSON object")
        return body

    def _finish_error(self, operation: str, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error_code = error_code_of(response.status_code, body)
        self.recorder.count_error(operation, error_code)
        if body is not None:
            self._validate(operation, response.status_code, body)
        return ApiResponseError(operation, response.status_code, error_code)

    def _validate(self, operation: str, status_code: int, body: Any) -> None:
        if self._validator is None:
            return
        for violation in self._validator(operation, status_code, body):
            self.recorder.count_violation(operation, violation_kind(violation))


def _is_final(response: httpx.Response) -> bool:
    return response.status_code != 429 and response.status_code < 500


def violation_kind(violation: Any) -> str:
    """Return a short, bounded name for the kind of an OpenAPI violation."""
    kind = getattr(violation, "kind", None)
    if isinstance(kind, str) and kind:
        return kind
    return type(violation).__name__


def pages_needed(count: int, limit: int) -> int:
    """Return the number of list requests that paging `count` items needs."""
    return max(1, math.ceil(count / limit))
