"""乡村治理目标监测 — plan targets, township returns, progress against deadlines."""

__version__ = "0.1.0"
