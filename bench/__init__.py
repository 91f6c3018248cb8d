"""Benchmarks: speed goals live here, not in timed tests. `make bench` runs every bench_*.py."""
