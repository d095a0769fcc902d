from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from contracts.cleanup import ResourceRegistry
from contracts.safety import Guard, Mode
from contracts.throttle import (
    DEFAULT_RETRY_AFTER_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    RateLimiter,
    retry_after_seconds,
)
from contracts.transport import RequestPolicy


class FakeClock:
    """A clock that only moves when the limiter sleeps or the test advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(rate: float | None, burst: int = 1) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_limiter_spaces_requests_at_rate() -> None:
    rate_limiter, clock = limiter(4.0)

    waits = [rate_limiter.acquire() for _ in range(5)]

    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert clock.now == pytest.approx(101.0)


def test_limiter_burst_runs_ahead_then_spaces() -> None:
    rate_limiter, _ = limiter(2.0, burst=3)

    waits = [rate_limiter.acquire() for _ in range(5)]

    assert waits == [0.0, 0.0, 0.0, 0.5, 0.5]


def test_limiter_idle_time_is_not_banked_beyond_burst() -> None:
    rate_limiter, clock = limiter(1.0, burst=2)
    rate_limiter.acquire()

    clock.now += 60.0
    waits = [rate_limiter.acquire() for _ in range(3)]

    assert waits == [0.0, 0.0, 1.0]


def test_limiter_without_rate_never_waits() -> None:
    rate_limiter, clock = limiter(None)

    waits = [rate_limiter.acquire() for _ in range(50)]

    assert set(waits) == {0.0}
    assert clock.sleeps == []


def test_limiter_defer_holds_every_request() -> None:
    rate_limiter, _ = limiter(None)
    rate_limiter.acquire()

    rate_limiter.defer(3.0)

    assert rate_limiter.acquire() == 3.0
    assert rate_limiter.acquire() == 0.0


def test_limiter_threads_share_the_rate() -> None:
    lock = threading.Lock()
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.sleeps.append(seconds)

    rate_limiter = RateLimiter(10.0, clock=clock, sleep=sleep)
    threads = [threading.Thread(target=rate_limiter.acquire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The clock never moves, so each thread reserves the next 0.1 s slot.
    assert sorted(clock.sleeps) == pytest.approx([0.1 * n for n in range(1, 8)])


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_limiter_invalid_settings_raise(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (None, DEFAULT_RETRY_AFTER_SECONDS),
        ("", DEFAULT_RETRY_AFTER_SECONDS),
        ("soon", DEFAULT_RETRY_AFTER_SECONDS),
        ("-3", DEFAULT_RETRY_AFTER_SECONDS),
        ("86400", MAX_RETRY_AFTER_SECONDS),
        (format_datetime(datetime.fromtimestamp(NOW + 5, UTC), usegmt=True), 5.0),
        (format_datetime(datetime.fromtimestamp(NOW - 5, UTC), usegmt=True), 0.0),
    ],
)
def test_retry_after_header_values(value: str | None, expected: float) -> None:
    assert retry_after_seconds(value, now=NOW) == pytest.approx(expected)


def throttled_client(
    replies: list[httpx.Response], max_retries: int = 3
) -> tuple[httpx.Client, RequestPolicy, FakeClock, list[httpx.Request]]:
    """A client whose transport answers with `replies` in order."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return replies[len(sent) - 1]

    clock = FakeClock()
    guard = Guard(
        origin="http://127.0.0.1:1",
        mode=Mode.READ_ONLY,
        registry=ResourceRegistry("gesct_test_"),
        enforce_ownership=True,
    )
    policy = RequestPolicy(
        guard,
        RateLimiter(None, clock=clock, sleep=clock.sleep),
        max_retries=max_retries,
        wall_clock=lambda: NOW,
    )
    transport = policy.httpx_transport(httpx.MockTransport(handler))
    client = httpx.Client(base_url="http://127.0.0.1:1", transport=transport)
    return client, policy, clock, sent


def too_many(retry_after: str) -> httpx.Response:
    return httpx.Response(
        429,
        headers={"Retry-After": retry_after},
        json={"error_code": "APIGW.0308", "error_msg": "throttled"},
    )


def test_transport_429_waits_and_resends() -> None:
    client, policy, clock, sent = throttled_client(
        [too_many("2"), too_many("1"), httpx.Response(200, json={"quotas": {}})]
    )

    response = client.get("/v1.0/p/graphs/quotas")

    assert response.status_code == 200
    assert len(sent) == 3
    assert clock.sleeps == [2.0, 1.0]
    assert policy.stats.retried == 2
    assert policy.stats.gave_up == 0


def test_transport_429_recorded_after_last_retry() -> None:
    client, policy, clock, sent = throttled_client([too_many("1")] * 3, max_retries=2)

    response = client.get("/v1.0/p/graphs/quotas")

    assert response.status_code == 429
    assert len(sent) == 3
    assert clock.sleeps == [1.0, 1.0]
    assert policy.stats.retried == 2
    assert policy.stats.gave_up == 1
