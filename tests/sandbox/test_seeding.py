from __future__ import annotations

import pytest

import sandbox
from tests.ges_api import GesApi


def test_seeded_resources_are_served_and_quota_stays_free(api: GesApi, fresh_sandbox):
    before = api.get("/quotas").json()["quotas"]["resources"]

    seeded = sandbox.seed(
        fresh_sandbox,
        api.project_id,
        graphs=3,
        backups_per_graph=2,
        jobs_per_graph=1,
        metadata=2,
    )
    graphs = api.get().json()
    backups = api.get("/backups").json()
    jobs = api.get("/jobs", params={"limit": 100}).json()
    metadata = api.get("/metadatas").json()
    after = api.get("/quotas").json()["quotas"]["resources"]

    assert graphs["graphCount"] == 3
    assert {g["status"] for g in graphs["graphs"]} == {"200"}
    assert backups["backupCount"] == 6
    assert jobs["jobCount"] == 6
    assert metadata["schemaCount"] == 2
    assert set(seeded.graph_ids) == {g["id"] for g in graphs["graphs"]}
    assert after == before


def test_seed_rejects_unknown_project(fresh_sandbox):
    with pytest.raises(ValueError, match="not served"):
        sandbox.seed(fresh_sandbox, "no-such-project", graphs=1)
