"""Benchmarks. Figures are ratios against a baseline measured in the same run, because
the machine is shared and noisy. `python -m bench [name]` runs them."""
