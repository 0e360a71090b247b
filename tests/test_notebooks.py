"""The notebooks run top to bottom on the real sample (outputs are stripped in git, executed here)."""

from __future__ import annotations

import json

import pytest


def _execute(repo_root, name, tmp_path, monkeypatch) -> str:
    """Run notebooks/<name> (outputs must be stripped in git) and return its printed text."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = repo_root / "notebooks" / name
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert all(not c.get("outputs") for c in raw["cells"] if c["cell_type"] == "code"), "strip outputs before commit"
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")


@pytest.mark.realdata
def test_coverage_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch):
    text = _execute(repo_root, "01_coverage.ipynb", tmp_path, monkeypatch)
    assert "live within 15 minutes' walk" in text and "街道 behind the target" in text
    assert "90 %" in text


@pytest.mark.realdata
def test_siting_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch):
    text = _execute(repo_root, "02_siting.ipynb", tmp_path, monkeypatch)
    assert "new stations lift this to" in text and "Reaching 100 % takes" in text


@pytest.mark.realdata
def test_scenarios_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch):
    text = _execute(repo_root, "03_scenarios.ipynb", tmp_path, monkeypatch)
    assert "In plain words: Today" in text and "淮海中路966号 (position approximate)" in text
    assert "at an older resident's 3 km/h the same plan" in text and "Counting cycling" in text


@pytest.mark.realdata
def test_access_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch):
    text = _execute(repo_root, "04_access.ipynb", tmp_path, monkeypatch)
    assert "GPs per 10,000 residents (2SFCA, 15-min walk) against the 4.5 line" in text
    assert "spreading the census in equal shares per 小区 would say 55.6%" in text
    assert "supply conserved" in text and "Limits: the sample has no GP counts" in text


@pytest.mark.realdata
def test_workbench_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch):
    text = _execute(repo_root, "05_workbench.ipynb", tmp_path, monkeypatch)
    assert "+ a station in 徐家汇" in text and "undo: 湖南 open again" in text and "optimiser's 2 sites" in text
    assert "Limits of this result" in text and "my_station" in text
