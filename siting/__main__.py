"""``python -m siting``: the ``siting`` command line (for environments without the console script on PATH)."""

from __future__ import annotations

from .cli import app

if __name__ == "__main__":  # pragma: no branch
    app(prog_name="siting")
