"""The version siting records in its outputs is the installed package's."""

from __future__ import annotations

from importlib.metadata import version

import siting
from siting.outputs._outdir import generator


def test_the_recorded_version_is_the_installed_one() -> None:
    assert siting.__version__ == version("siting")
    assert generator() == f"siting {version('siting')}"
