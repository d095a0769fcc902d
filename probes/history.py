"""Recent poll-cycle log lines per target, served at /logs next to /metrics.

A failed cycle's reason is then one request away, without access to the
daemon's stderr, as blackbox_exporter serves its probe logs.
"""

from __future__ import annotations

import logging
from collections import deque

from probes.logs import KeyValueFormatter

DEFAULT_LINES_PER_TARGET = 200
NO_TARGET = "-"


class CycleHistory(logging.Handler):
    """Keep the last `lines_per_target` formatted log lines of each target."""

    def __init__(self, lines_per_target: int = DEFAULT_LINES_PER_TARGET) -> None:
        super().__init__()
        self.setFormatter(KeyValueFormatter())
        self.lines_per_target = lines_per_target
        self._lines: dict[str, deque[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", {})
        target = str(fields.get("target", NO_TARGET))
        lines = self._lines.get(target)
        if lines is None:
            lines = self._lines[target] = deque(maxlen=self.lines_per_target)
        lines.append(self.format(record))

    def text(self, target: str | None = None) -> str:
        """Return the kept lines of `target`, or of every target, oldest first."""
        with self.lock:  # type: ignore[union-attr]
            if target is not None:
                chosen = list(self._lines.get(target, ()))
            else:
                chosen = [line for lines in self._lines.values() for line in lines]
        return "".join(line + "\n" for line in chosen)
