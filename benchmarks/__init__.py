"""Benchmarks: run with make (`make bench-matching`), never part of `make test`."""
