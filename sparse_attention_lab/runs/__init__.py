"""Grids of runs: the sweep loop with provenance and resume, JSON-lines results files, executors."""
