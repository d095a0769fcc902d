"""Structured logging: a fixed message followed by key=value fields."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

# Loggers named under this prefix log poll cycles; `--log.probe-level` sets
# their level apart from the daemon's lifecycle messages.
CYCLE_LOGGER = "probes.cycle"

_BARE_VALUE = re.compile(r"[A-Za-z0-9_.:/@+-]+")


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log `message` with `fields`, rendered as key=value pairs after it."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class KeyValueFormatter(logging.Formatter):
    """Render `time level=... logger=... msg="..." key=value ...` lines."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"time={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_format_value(record.getMessage())}",
        ]
        fields = getattr(record, "fields", {})
        parts.extend(f"{key}={_format_value(value)}" for key, value in fields.items())
        if record.exc_info:
            parts.append(f"err={_format_value(repr(record.exc_info[1]))}")
        return " ".join(parts)


def configure(level: str, probe_level: str) -> None:
    """Send every `probes` log line to stderr, with separate levels for cycles."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger("probes")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    logging.getLogger(CYCLE_LOGGER).setLevel(probe_level.upper())
