"""Collect the number of orphaned metadata records (listMetadatas)."""

from __future__ import annotations

from typing import Any

from probes import metrics
from probes.collect import CollectContext, parse_epoch_millis
from probes.state import Samples

OPERATION = "listMetadatas"
PATH = "/v1.0/{project_id}/graphs/metadatas"
# The examples, the SDK and GES Online v1 send `schemaList` and `schemaCount`;
# the 2019 and 2021 reference tables name them `metadataList` and
# `metadataCount`. The OpenAPI document accepts either pair.
KEYS = ("schemaList", "schemaCount")
ALTERNATIVE_KEYS = ("metadataList", "metadataCount")


def collect_metadata(context: CollectContext) -> Samples:
    client, target = context.client, context.target
    by_id: dict[str, dict[str, Any]] = {}
    for page in client.list_pages(
        OPERATION, client.path(PATH), *KEYS, target.page_limit,
        alternative=ALTERNATIVE_KEYS,
    ):  # fmt: skip
        for record in page:
            if not isinstance(record.get("id"), str):
                raise client.malformed(
                    OPERATION, "a metadata record has no string `id`"
                )
            by_id[record["id"]] = record

    samples = Samples()
    samples.set(metrics.METADATA_ORPHANS, (), _count_orphans(context, by_id))
    return samples


def _count_orphans(context: CollectContext, records: dict[str, Any]) -> int:
    target, state = context.target, context.state
    orphans = 0
    candidates = []
    for metadata_id, record in records.items():
        name = record.get("name")
        if not isinstance(name, str) or not name.startswith(target.orphan_prefixes):
            continue
        candidates.append(metadata_id)
        # The 2019 example gives `startTime` in place of `createTimestamp`; a
        # record without a usable time is aged from when the probe first saw it.
        created = parse_epoch_millis(record.get("createTimestamp"))
        if created is None:
            created = state.first_seen_at("metadata:" + metadata_id, context.now)
        if context.now - created >= target.orphan_min_age_seconds:
            orphans += 1
    state.forget_unseen("metadata:", candidates)
    return orphans
