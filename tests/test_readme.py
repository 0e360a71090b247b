"""The README: its Python API section runs as written (its paths pointed at the sample wherever it is), it stays
short, every command has a complete example, and the pages of docs/ it sends readers to exist and link up."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import SAMPLE, expected_warnings, readme_commands

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


# -- the README for users, the rest in docs/ ---------------------------------------------------------------------------
MAX_README_LINES = 250
DOCS = ("performance.md", "design.md", "scenarios.md", "batch.md")  # the pages the README must send readers to


def _markdown(repo_root: Path) -> dict[Path, str]:
    """README.md and every docs/*.md, by path."""
    paths = [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]
    return {p: p.read_text(encoding="utf-8") for p in paths}


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (but - and _), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_readme_is_short(repo_root):
    lines = (repo_root / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines: move detail to docs/"


def test_docs_exist_and_the_readme_links_every_page(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    pages = {p.name for p in (repo_root / "docs").glob("*.md")}
    assert set(DOCS) <= pages
    for name in sorted(pages):
        assert f"](docs/{name}" in readme, f"docs/{name} is not linked from README.md"


def test_every_link_between_readme_and_docs_resolves(repo_root):
    """Relative links (and their #anchors) of README.md and docs/*.md point at files and headings that exist."""
    texts = _markdown(repo_root)
    broken = []
    for path, text in texts.items():
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text(encoding="utf-8")):
                broken.append(f"{path.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_module_paths_in_the_docs_exist(repo_root):
    """Every ``siting/….py`` path README.md and docs/ name is a file of the package (none left from before)."""
    named = {m for text in _markdown(repo_root).values() for m in re.findall(r"siting/[\w/]+\.pyi?\b", text)}
    assert named
    assert not sorted(m for m in named if not (repo_root / m).is_file())


def test_performance_page_weighs_every_trick(repo_root):
    text = (repo_root / "docs" / "performance.md").read_text(encoding="utf-8")
    section = text.split("\n## Does each trick earn its keep?\n", 1)[1]
    for module in ("siting/outputs/_sidejob.py", "siting/outputs/_writers.py", "gc.freeze", "siting/_lazy.py",
                   "lazy_module", "tie rule", "siting/io/_inputcache.py", "uncompressed network cache",
                   "Threaded dissolves"):
        assert module in section, module
    assert "candidate for removal" in section


def _examples(repo_root: Path) -> dict[str, list[str]]:
    """The `siting COMMAND ...` lines of the README's ```bash blocks, split as a shell would, by command."""
    found: dict[str, list[str]] = {}
    for block in readme_commands(repo_root):
        for line in block.splitlines():
            line = line.partition(" && ")[2] if line.startswith("pip install") else line
            if line.startswith("siting "):
                args = shlex.split(line, comments=True)
                found.setdefault(args[1], args[2:])
    return found


def test_every_command_has_one_complete_example(repo_root):
    """Each command of `siting --help` has a README example that parses (no elision), with files that exist."""
    from siting.cli.commands import app

    examples = _examples(repo_root)
    assert set(app.commands) <= set(examples), sorted(set(app.commands) - set(examples))
    for block in readme_commands(repo_root):
        assert "..." not in block and "…" not in block, block
    for name, args in examples.items():
        app.commands[name].make_context(name, list(args))  # unknown flags or bad values raise a UsageError
        for arg in args:
            if arg.startswith("data/"):
                assert (repo_root / arg).exists(), arg


@pytest.mark.realdata
def test_the_examples_name_sample_files_that_exist(repo_root, shanghai):
    for args in _examples(repo_root).values():
        for arg in args:
            if arg.startswith("../shared/data/shanghai/"):
                assert (shanghai / arg.removeprefix("../shared/data/shanghai/")).is_file(), arg


def test_dotted_names_in_the_docs_resolve(repo_root):
    """Every `siting.x.y` name README.md and docs/ give in backticks imports (a module) or is an attribute of one."""
    import importlib

    names = {m for text in _markdown(repo_root).values()
             for m in re.findall(r"`(siting(?:\.\w+)+)", text)}
    assert names
    stale = []
    for name in sorted(names):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                stale.append(name)
            break
    assert not stale, stale


def test_layout_names_every_stage(repo_root):
    """The README's Layout section and docs/design.md name every subpackage of siting/ (the stages)."""
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    layout = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    design = (repo_root / "docs" / "design.md").read_text(encoding="utf-8")
    stages = sorted(p.parent.name for p in (repo_root / "siting").glob("*/__init__.py"))
    assert stages
    assert not [s for s in stages if f"`{s}/`" not in layout or f"`{s}/`" not in design]
    assert "`pipeline.py`" in layout
