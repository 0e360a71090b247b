"""The package version (a leaf module: outputs record which siting wrote them), from the installed metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("siting")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"
