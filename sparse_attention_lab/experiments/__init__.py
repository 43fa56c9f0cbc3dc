"""Experiments: plain JSON-able configs -> trained runs, and the named grids behind the figures.

Each module exposes ``run(config, seeds) -> list[dict]`` and ``SWEEPS`` (sweep name ->
function of a :class:`~sparse_attention_lab.profiles.Profile` returning config dicts), the
contract used by :mod:`sparse_attention_lab.runs.sweep`.
"""
