"""Grids of runs: the sweep loop, its time estimate, provenance (written and described), JSON-lines
results files, executors."""
