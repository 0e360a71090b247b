"""The package version (a leaf module: outputs record which siting wrote them).

pyproject.toml reads it from here (``[tool.setuptools.dynamic]``): one place, and no
``importlib.metadata`` at every run (it parses the installed metadata: ~0.01 s of the start-up).
"""

__version__ = "0.1.0"
