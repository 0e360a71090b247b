"""Start-up: reading an OSM file does not import osmnx (its filters are packaged, and agree with osmnx's own);
the targets table is read once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from siting.engine import targets
from siting.errors import NetworkError
from siting.io import _osmnet


def test_network_types_other_than_walk_and_bike_are_refused():
    """The filters are siting's own (compared with osmnx's in tests/test_input_formats.py), for walk and bike."""
    with pytest.raises(NetworkError, match="unknown network type 'drive'; choose one of walk, bike"):
        _osmnet.network_filter("drive")


def test_reading_an_osm_file_does_not_import_osmnx(test_data, repo_root):
    code = ("import sys; from siting.engine.network import Network; "
            f"Network.from_osm({str(test_data / 'walk_tiny.osm')!r}, cache=False); "
            "print('osmnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_targets_file_is_read_once():
    targets._project_targets.cache_clear()
    for district in ["徐汇区", "浦东新区", "黄浦区", "徐汇区"]:
        targets.target_for(district)
    assert targets._project_targets.cache_info().misses == 1
    assert targets.target_for("徐汇区")[0] == 0.9
    table = targets.load_targets()
    table.loc[0, "target"] = 0.01  # callers get a copy: the cached table is not changed
    assert targets.target_for("徐汇区")[0] == 0.9


def test_lazy_module_runs_on_first_use(tmp_path, monkeypatch):
    from siting._lazy import lazy_module

    (tmp_path / "slowmod.py").write_text("import builtins\nbuiltins._slowmod_ran = True\nVALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slowmod", raising=False)
    mod = lazy_module("slowmod")
    import builtins

    assert not hasattr(builtins, "_slowmod_ran")
    assert mod.VALUE == 3 and builtins._slowmod_ran
    del builtins._slowmod_ran


def test_stub_names(tmp_path):
    from siting._lazy import stub_names

    stub = tmp_path / "__init__.pyi"
    stub.write_text("from . import a, b\nfrom .c import f, g as h\nfrom typing import Any\n")
    assert stub_names(stub) == {"a": ("", "a"), "b": ("", "b"), "f": ("c", "f"), "h": ("c", "g")}


HEAVY = ("geopandas", "pandas", "folium", "matplotlib", "scipy", "shapely", "osmnx", "dask")


@pytest.mark.parametrize("code", ["import siting", "from siting.cli.commands import app"])
def test_import_and_help_load_no_heavy_module(code, repo_root):
    """`import siting` and `siting --help` stay light: every public name is imported on first use."""
    probe = f"import sys; {code}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve():
    """Every name of the stub resolves to the same object as its module's; `siting.engine.coverage` etc. stay the
    exported objects even after their namesake submodules are imported."""
    import importlib

    import siting
    from siting._lazy import stub_names

    for name, (source, original) in stub_names(siting.__file__ + "i").items():
        value = getattr(siting, name)
        if not source:
            expected = importlib.import_module(f"siting.{original}")
        else:  # a name of a module, or a module of a stage (``from .engine import coverage``)
            module = importlib.import_module(f"siting.{source}")
            if not hasattr(module, original):
                importlib.import_module(f"siting.{source}.{original}")
            expected = getattr(module, original)
        assert value is expected, name
    assert set(siting.__all__) <= set(dir(siting))


def test_coverage_command_does_not_import_scipy_spatial(tmp_path, repo_root):
    """~0.05 s of start-up: the cut-off residents check runs here (2 nodes dropped) without scipy.spatial."""
    from test_input_checks import _cut_off

    (tmp_path / "fac.csv").write_text("name,type,lon,lat\nA,center,121.4100,31.2000\n", encoding="utf-8")
    (tmp_path / "pop.csv").write_text("lon,lat,population\n121.4020,31.2022,10\n121.4100,31.2002,90\n",
                                      encoding="utf-8")
    args = ["coverage", "--osm", str(_cut_off(tmp_path, sides=1)), "--facilities", str(tmp_path / "fac.csv"),
            "--population", str(tmp_path / "pop.csv"), "--no-report", "--no-map", "--out", str(tmp_path / "out"),
            "--cache-dir", str(tmp_path / "cache"), "-q"]
    probe = ("import sys; import siting.pipeline as p; calls = []; check = p.residents_cut_off; "
             "p.residents_cut_off = lambda *a: calls.append(check(*a)) or calls[-1]; "
             f"from siting.cli.commands import app; app({args!r}, standalone_mode=False); "
             "print(calls, 'scipy.spatial' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=repo_root, capture_output=True, text=True, check=True,
                         env={**os.environ, "SITING_FORK": "0"})
    assert out.stdout.strip().splitlines()[-1] == "[(10.0, 100.0)] False"


def test_a_warm_run_on_tables_does_not_import_osmium(tiny_job, repo_root):
    """The network comes from the cache, the other inputs are tables: pyosmium (~8 ms) is not loaded."""
    folder, args = tiny_job
    ring = [[121.39, 31.19], [121.41, 31.19], [121.41, 31.21], [121.39, 31.21], [121.39, 31.19]]
    (folder / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"街道": "西街道", "区": "甲区"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    more = ["--boundaries", str(folder / "areas.geojson"), "--no-report", "--overwrite", "--out", str(folder / "out")]
    probe = ("import sys; from siting.cli.commands import app; "
             f"app({[*args, *more]!r}, standalone_mode=False); "
             "print('osmium._osmium' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", probe], cwd=repo_root, capture_output=True, text=True, check=True,
                           env={**os.environ, "SITING_FORK": "0"}).stdout.strip().splitlines()[-1] for _ in range(2)]
    assert runs == ["True", "False"]  # cold: the .osm file is read; warm: the cache
