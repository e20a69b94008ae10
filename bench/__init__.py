"""Benchmarks: each module ``bench_*.py`` has ``run() -> dict`` of named figures.

``python -m bench`` (or ``make bench``) runs them all and prints one JSON
object. Figures that compare against another implementation are measured in
the same run and reported as ratios, because the machines are shared and noisy.
"""
