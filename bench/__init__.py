"""Benchmarks of sessionwatch: recorder cost, end-to-end load, exporter, Redis memory, flush.

Run them all with ``python -m bench`` (add ``--quick`` for a shorter, rougher pass); each one
prints its figures and the machine it ran on, and a full run rewrites docs/benchmarks.md.
"""
