"""The README's Python API section runs as written (its paths pointed at the sample wherever it is)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import SAMPLE, expected_warnings

SAMPLE_PREFIX = '"../shared/data/shanghai/"'  # the README's sample folder, relative to the checkout
SCENARIOS = '"data/scenarios/xuhui_2025.yaml"'
SCENARIO_PREFIX = "../../../shared/data/shanghai"  # the scenario file's inputs, relative to the file


def api_blocks(repo_root: Path) -> list[str]:
    """The ```python blocks of the README's "## Python API" section, in order."""
    text = (repo_root / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_section_has_the_two_blocks(repo_root):
    blocks = api_blocks(repo_root)
    assert len(blocks) == 2
    assert blocks[0].count(SAMPLE_PREFIX) == 1 and blocks[0].count(SCENARIOS) == 1
    assert "from_sparse(reach, weights" in blocks[1]


@pytest.mark.realdata
def test_coverage_block_runs_on_the_sample(repo_root, shanghai, tmp_path, monkeypatch):
    """Every line of the first block, on the sample; files it writes land in a temporary folder."""
    scenarios = tmp_path / "xuhui_2025.yaml"
    text = (repo_root / "data/scenarios/xuhui_2025.yaml").read_text(encoding="utf-8")
    scenarios.write_text(text.replace(SCENARIO_PREFIX, str(shanghai)), encoding="utf-8")
    code = api_blocks(repo_root)[0].replace(SAMPLE_PREFIX, repr(f"{shanghai}/"))
    code = code.replace(SCENARIOS, repr(str(scenarios)))
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    with expected_warnings(*SAMPLE):
        exec(compile(code, "README.md (Python API)", "exec"), ns)
    res, plan, cmp, acc = ns["res"], ns["plan"], ns["cmp"], ns["acc"]
    s = res.summary
    assert s.unit == "residents" and 0 < s.coverage_rate < 0.9  # 徐汇 is behind its target (the README's question)
    assert set(res.by_subdistrict["district"]) == {"徐汇区"}
    assert plan.summary["sites"] >= 1 and plan.summary["rate_after"] >= 0.9 - 1e-9
    assert plan.summary["rate_before"] == pytest.approx(s.coverage_rate, rel=1e-9)
    assert "baseline" in set(cmp.table["scenario"]) and (tmp_path / "comparison.xlsx").is_file()
    # the access measures route facility → homes on their own (reach sets), yet count the same 15-minute residents
    assert acc.summary["population"] == pytest.approx(s.population_total, rel=1e-9)
    assert acc.summary["coverage_rate"] == pytest.approx(s.coverage_rate, rel=1e-9)


def test_model_block_runs_on_a_plain_instance(repo_root):
    """The second block: the models on any reach matrix (here 80 sites × 1,000 homes, 1 % reached: solved at once)."""
    rng = np.random.default_rng(3)
    reach = sp.random(80, 1000, density=0.01, format="csr", random_state=rng, data_rvs=np.ones)
    weights = rng.integers(1, 50, 1000).astype(float)
    ns = {"reach": reach, "weights": weights}
    exec(compile(api_blocks(repo_root)[1], "README.md (models)", "exec"), ns)
    m = ns["m"]
    assert m.solution.k == 50 and m.objective <= m.bound + 1e-6
    assert m.status in {"optimal", "gap_limit", "time_limit", "feasible"}
    assert m.bound_source in {"lagrangian", "highs", "submodular"}  # as the README's comment lists them
