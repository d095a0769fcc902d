from __future__ import annotations

import pytest

import sandbox
from sandbox.errors import GatewayError
from sandbox.throttle import TokenBucket
from tests.conftest import sandbox_settings
from tests.ges_api import GesApi


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_rejects_with_retry_after():
    clock = FakeClock()
    bucket = TokenBucket(rate=0.5, burst=2, clock=clock)
    bucket.take()
    bucket.take()

    with pytest.raises(GatewayError) as raised:
        bucket.take()

    assert raised.value.status_code == 429
    assert raised.value.code == "APIGW.0308"
    assert raised.value.headers["Retry-After"] == "2"


def test_bucket_refills_with_time():
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    bucket.take()

    clock.now += 1.0

    bucket.take()


def test_throttled_sandbox_answers_429_per_project():
    settings = sandbox_settings(rate_limit=0.01, rate_burst=3)
    with sandbox.start(settings) as running:
        alpha, beta = running.projects
        with GesApi(running.base_url, alpha.project_id, alpha.token) as api:
            statuses = [api.get("/quotas").status_code for _ in range(4)]
            throttled = api.get("/quotas")
        with GesApi(running.base_url, beta.project_id, beta.token) as other:
            other_status = other.get("/quotas").status_code

    assert statuses == [200, 200, 200, 429]
    assert throttled.json()["error_code"] == "APIGW.0308"
    assert int(throttled.headers["Retry-After"]) >= 1
    assert other_status == 200
