"""Tooling apart from the product: the benchmarks behind `rural-targets bench …`, each against a baseline in the same run."""
