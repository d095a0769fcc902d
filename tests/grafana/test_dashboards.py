from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.prometheus.expressions import (
    DASHBOARD_FILES,
    REPO,
    dashboard_panels,
    load_dashboard,
)

GENERATOR = REPO / "grafana" / "dashboards.py"
PROVISIONING = REPO / "grafana" / "provisioning"
REQUIRED_VARIABLES = {"datasource", "project", "graph"}


def load_generator() -> ModuleType:
    """Import grafana/dashboards.py, a script outside any installed package."""
    spec = importlib.util.spec_from_file_location("ges_dashboards", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def overview() -> dict[str, object]:
    return load_dashboard(REPO / "grafana" / "dashboards" / "ges-overview.json")


def test_committed_json_matches_generator(generator: ModuleType) -> None:
    for file_name, build in generator.DASHBOARDS.items():
        committed = (generator.DASHBOARDS_DIR / file_name).read_text(encoding="utf-8")

        assert generator.render(build()) == committed, (
            f"{file_name} is stale; run `python grafana/dashboards.py`"
        )


def test_generator_check_flags_stale_json(
    generator: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stale = tmp_path / "ges-overview.json"
    shutil.copy(generator.DASHBOARDS_DIR / "ges-overview.json", stale)
    stale.write_text(stale.read_text().replace("GES overview", "GES old"))
    monkeypatch.setattr(generator, "DASHBOARDS_DIR", tmp_path)

    code = generator.main(["--check"])

    assert code == 1
    assert "stale dashboard JSON" in capsys.readouterr().err
    assert "GES old" in stale.read_text()


def test_generator_rejects_unknown_recording_rule(generator: ModuleType) -> None:
    with pytest.raises(generator.GenerationError, match="no recording rule"):
        generator.recorded("target:ges_missing:rate5m")


def test_dashboard_files_exist_and_uids_unique() -> None:
    uids = [load_dashboard(path)["uid"] for path in DASHBOARD_FILES]

    assert DASHBOARD_FILES
    assert len(uids) == len(set(uids))


def test_overview_uid_is_stable(overview: dict[str, object]) -> None:
    assert overview["uid"] == "ges-overview"


def test_overview_has_required_variables(overview: dict[str, object]) -> None:
    variables = {v["name"]: v for v in overview["templating"]["list"]}  # type: ignore[index]

    assert REQUIRED_VARIABLES <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["project"]["includeAll"] is True
    assert variables["graph"]["includeAll"] is True


def test_overview_panel_ids_unique(overview: dict[str, object]) -> None:
    ids = [panel["id"] for panel in overview["panels"]]  # type: ignore[attr-defined]

    assert len(ids) == len(set(ids))


def test_overview_panels_query_datasource_variable(
    overview: dict[str, object],
) -> None:
    for panel in dashboard_panels(overview):
        assert panel["targets"], f"panel {panel['id']} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == {
                "type": "prometheus",
                "uid": "${datasource}",
            }


@pytest.mark.parametrize(
    "title",
    [
        "Quota left",
        "Quota used and left",
        "Graphs by status",
        "Graph status over time",
        "Job duration percentiles",
        "Job duration: $job_name",
        "Job outcomes",
        "Time since the last successful backup",
        "API latency percentiles",
        "API errors by code",
        "Probe health",
    ],
)
def test_overview_has_panel(overview: dict[str, object], title: str) -> None:
    titles = {panel["title"] for panel in dashboard_panels(overview)}

    assert title in titles


def test_duration_heatmap_repeats_per_job(overview: dict[str, object]) -> None:
    panel = next(p for p in dashboard_panels(overview) if p["type"] == "heatmap")

    assert panel["repeat"] == "job_name"
    assert panel["targets"][0]["format"] == "heatmap"


def test_status_timeline_maps_every_spec_status(overview: dict[str, object]) -> None:
    document = yaml.safe_load(
        (REPO / "openapi" / "ges-management-v1.yaml").read_text(encoding="utf-8")
    )
    codes = {
        str(code) for code in document["components"]["schemas"]["GraphStatus"]["enum"]
    }
    panel = next(p for p in dashboard_panels(overview) if p["id"] == 12)

    mapped = set(panel["fieldConfig"]["defaults"]["mappings"][0]["options"])

    assert mapped == codes | {"-1"}


def test_datasource_provisioning_is_prometheus() -> None:
    path = PROVISIONING / "datasources" / "ges-prometheus.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))

    (datasource,) = document["datasources"]

    assert document["apiVersion"] == 1
    assert datasource["type"] == "prometheus"
    assert datasource["url"].startswith("http://127.0.0.1:")


def test_dashboard_provisioning_loads_a_folder() -> None:
    path = PROVISIONING / "dashboards" / "ges.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))

    (provider,) = document["providers"]

    assert document["apiVersion"] == 1
    assert provider["type"] == "file"
    assert Path(provider["options"]["path"]).is_absolute()
