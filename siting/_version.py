"""The package version (a leaf module: outputs record which siting wrote them)."""

__version__ = "0.1.0"
