"""Benchmarks of siting against its peers, side by side: ``python -m benchmarks`` (see __main__.py)."""
