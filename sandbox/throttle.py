"""Per-project request throttling, as the API gateway applies it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from sandbox.errors import GatewayError


class TokenBucket:
    """Allow `rate` requests per second on average and `burst` at once."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> None:
        """Spend one token, or raise the gateway's 429 with the wait in Retry-After."""
        with self._lock:
            now = self.clock()
            elapsed = now - self._updated
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.rate
        raise GatewayError(
            "APIGW.0308",
            "Retry after the time in the Retry-After header.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
