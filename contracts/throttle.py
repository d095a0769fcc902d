"""Client-side request rate limit shared by every request of a gate run.

    limiter = RateLimiter(rate=5.0)          # None: no limit
    limiter.acquire()                        # block until the next request may go
    limiter.defer(2.0)                       # a 429 asked every sender to wait
    retry_after_seconds("2", now=time.time())

One `RateLimiter` serves the whole run: `contracts.transport` passes every
request through it, whichever client sends it (the set-up and cleanup httpx
client, the schemathesis calls, a stateful phase). A 429 response defers all
senders, not only the one that got it, because the gateway throttles per
project and not per connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# Requests per second against a real account when `--rate-limit` is not given.
# Well below the per-project API gateway thresholds GES documents only as
# "throttling" (APIGW.0308); an estimate, not a measured limit.
DEFAULT_RATE_LIMIT = 5.0
# How often one request is sent again after a 429 before the 429 is recorded.
DEFAULT_MAX_RETRIES = 3
# Wait used when a 429 has no Retry-After header, or one that does not parse.
DEFAULT_RETRY_AFTER_SECONDS = 1.0
# The longest wait a Retry-After header can impose; beyond it the run would
# look hung, so the request waits this long and tries again.
MAX_RETRY_AFTER_SECONDS = 60.0


class RateLimiter:
    """Space requests at `rate` per second on average, allowing `burst` at once.

    The schedule is a virtual clock (the generic cell rate algorithm): each
    request reserves the next slot under a lock and then sleeps outside it, so
    threads share the rate fairly. `clock` and `sleep` are injectable so that
    tests can drive the limiter without waiting.
    """

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive or None, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._next_slot = clock()
        self._paused_until = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until one more request may be sent; return the seconds waited."""
        with self._lock:
            now = self.clock()
            start = max(now, self._paused_until)
            if self.rate is not None:
                interval = 1.0 / self.rate
                # A burst of `burst` requests may run ahead of the schedule.
                earliest = self._next_slot - (self.burst - 1) * interval
                start = max(start, earliest)
                self._next_slot = max(self._next_slot, start) + interval
            wait = start - now
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)

    def defer(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)


def retry_after_seconds(value: str | None, *, now: float) -> float:
    """Read a Retry-After header as seconds to wait, within the bounds above.

    RFC 9110, section 10.2.3, allows delay-seconds or an HTTP-date; `now` is
    the wall-clock time (epoch seconds) an HTTP-date is measured from. A
    missing or unreadable value gives `DEFAULT_RETRY_AFTER_SECONDS`.
    """
    if value is None or not value.strip():
        return DEFAULT_RETRY_AFTER_SECONDS
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_SECONDS
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass
class ThrottleStats:
    """429 responses of a run: how many were retried, how many were recorded."""

    retried: int = 0
    gave_up: int = 0
    waited_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def record_retry(self, seconds: float) -> None:
        with self._lock:
            self.retried += 1
            self.waited_seconds += seconds

    def record_give_up(self) -> None:
        with self._lock:
            self.gave_up += 1
