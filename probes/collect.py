"""The context every collection function receives, and helpers they share.

A collection function has the signature `(context: CollectContext) -> Samples`.
It reads the API through `context.client`, raises an `ApiError` when it cannot
finish, and changes the target's counters and histograms only after every
request it needs has succeeded, so a failed collection counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from probes import metrics
from probes.client import GesClient
from probes.config import Target
from probes.state import Samples, TargetState

# Longer label values are cut: a label value is for reading, and a very long
# one costs Prometheus memory on every sample.
MAX_LABEL_LENGTH = 200


@dataclass
class CollectContext:
    """One target's client, settings and state, for one collection."""

    client: GesClient
    target: Target
    state: TargetState
    now: float
    graph_statuses: tuple[str, ...]


Collection = Callable[[CollectContext], Samples]


def label(value: Any) -> str:
    """Return `value` as a label value: a string of bounded length."""
    text = "" if value is None else str(value)
    return text[:MAX_LABEL_LENGTH]


def free_label(value: Any, label_name: str, state: TargetState) -> str:
    """Return a free-form `value` cut short and bounded in distinct values."""
    text = "" if value is None else str(value)
    return state.bounded(label_name, text[: metrics.MAX_BOUNDED_LABEL_LENGTH])


def known_value(value: Any, known: tuple[str, ...]) -> str:
    """Return `value` if it is one of `known`, else the `unknown` label value.

    Labels with an enum in the OpenAPI document go through this, so a
    misbehaving API cannot create series without bound.
    """
    if isinstance(value, str) and value in known:
        return value
    return metrics.UNKNOWN_STATUS


def parse_wire_time(value: Any) -> float | None:
    """Parse a GES `yyyy-MM-ddTHH:mm:ss` time (UTC, also with a space) to epoch."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_epoch_millis(value: Any) -> float | None:
    """Parse epoch milliseconds, given as a number or a digit string, to seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, (int, float)) and value >= 0:
        return value / 1000.0
    return None
