"""The notebooks run top to bottom on the real sample (outputs are stripped in git, executed here)."""

from __future__ import annotations

import html
import json
import re
import shlex

import pytest
from click.testing import CliRunner
from conftest import readme_commands

#: A script or stylesheet loaded from the network (a CDN).
CDN = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)
_RUNS: dict[str, object] = {}


def _html_outputs(name: str) -> list[str]:
    """The text/html outputs of the last run of notebooks/<name> (maps, tables)."""
    nb = _RUNS[name]
    return [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"  # type: ignore[attr-defined]
            for o in c.get("outputs", []) if "text/html" in o.get("data", {})]


def _loads_cdn(cell_html: str) -> bool:
    """Whether an output, or the page of its ``<iframe srcdoc>`` (a map), loads a script or stylesheet from a CDN."""
    pages = [html.unescape(p) for p in re.findall(r'srcdoc="([^"]*)"', cell_html)]
    return any(CDN.search(page) for page in [cell_html, *pages])


def _readme_args(repo_root, shanghai) -> list[str]:
    """The README main job's `siting coverage` arguments (real paths), without `siting coverage` and --out."""
    args = [a.replace("../shared/data/shanghai", str(shanghai))
            for a in shlex.split(readme_commands(repo_root)[0].partition(" && ")[2])][2:]
    i = args.index("--out")
    return args[:i] + args[i + 2:]


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
    _RUNS[name] = nb
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")


@pytest.mark.realdata
def test_coverage_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch, main_job):
    text = _execute(repo_root, "01_coverage.ipynb", tmp_path, monkeypatch)
    assert "live within 15 minutes' walk" in text and "街道 behind the target" in text
    assert "90 %" in text
    cli = json.loads((main_job[0] / "summary.json").read_text(encoding="utf-8"))  # the README job: one answer
    assert f"Within the street extract, {cli['coverage_rate']:.1%} of 徐汇's residents" in text
    assert f"({cli['population_covered']:,.0f} of {cli['population_total']:,.0f})" in text
    assert "Population method sensitivity" in text and "equal shares per 小区" in text
    assert "Population method: spreading the census in equal shares per 小区" in text
    maps = [h for h in _html_outputs("01_coverage.ipynb") if "<iframe srcdoc=" in h]
    assert maps and not any(_loads_cdn(h) for h in maps)  # the inline map is the self-contained page


@pytest.mark.realdata
def test_siting_notebook_runs_and_concludes(repo_root, shanghai, tmp_path, monkeypatch):
    from siting.cli.commands import app

    text = _execute(repo_root, "02_siting.ipynb", tmp_path, monkeypatch)
    assert "new stations lift this to" in text and "Reaching 100 % takes" in text
    out = tmp_path / "site"  # `siting site --target 0.9` on the README job's inputs: the same answer
    run = CliRunner().invoke(app, ["site", *_readme_args(repo_root, shanghai), "--target", "0.9", "--out", str(out),
                                   "--cache-dir", str(tmp_path / "cache"), "--no-map", "--no-report", "-q"])
    assert run.exit_code == 0, run.output
    cli = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert f"today: {cli['rate_before']:.1%} of {cli['population_total']:,.0f} residents" in text
    assert f"Sites for 90 %, in order of choice: {', '.join(cli['chosen'])}" in text
    assert "Population method sensitivity" in text and "With equal shares per 小区 instead of the 街道 totals" in text
    maps = [h for h in _html_outputs("02_siting.ipynb") if "<iframe srcdoc=" in h]
    assert maps and not any(_loads_cdn(h) for h in maps)


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
