"""Collect the available amount of each quota type (listQuotas)."""

from __future__ import annotations

import openapi
from probes import metrics
from probes.collect import CollectContext, known_value
from probes.state import Samples

OPERATION = "listQuotas"
PATH = "/v1.0/{project_id}/graphs/quotas"
QUOTA_TYPES = openapi.schema_enum("QuotaType")


def collect_quotas(context: CollectContext) -> Samples:
    client = context.client
    body = client.request(OPERATION, "GET", client.path(PATH))

    quotas = body.get("quotas")
    resources = quotas.get("resources") if isinstance(quotas, dict) else None
    if not isinstance(resources, list):
        raise client.malformed(OPERATION, "`quotas.resources` is not a list")

    samples = Samples()
    for resource in resources:
        if not isinstance(resource, dict):
            raise client.malformed(OPERATION, "a quota entry is not an object")
        kind = resource.get("type")
        available = resource.get("available")
        if not isinstance(kind, str) or isinstance(available, bool):
            raise client.malformed(OPERATION, "a quota entry has no `type`")
        if not isinstance(available, (int, float)):
            raise client.malformed(OPERATION, f"quota `{kind}` has no `available`")
        samples.set(
            metrics.QUOTA_AVAILABLE, (known_value(kind, QUOTA_TYPES),), float(available)
        )
    return samples
