"""Packed ensembles: the runs of several configs trained as one batched computation.

Configs that differ only in :data:`PACKABLE` fields (the repetition of the data, ``B`` and ``p``)
share every tensor shape, the model, the training settings and the test set, so their runs can
train side by side as members of one ensemble (:func:`~sparse_attention_lab.training.trainer.train`
with one task per member): on a GPU, a sweep of four ``p`` values costs about one run. Each
member's curve is the one it gets alone (up to float rounding; the pack trains until its
slowest member stops, so a curve may run on further), so packed and unpacked sweeps share a
results file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sparse_attention_lab.runs.results import config_key

PACKABLE = ("B", "p")
"""Config fields that may differ inside one packed ensemble (regression and associative recall)."""

TaskT = TypeVar("TaskT")
Build = Callable[[dict], tuple[TaskT, Any, Any]]


def build_members(
    build: Build, config: Mapping[str, Any] | Sequence[Mapping[str, Any]], seeds: Sequence[int]
) -> tuple[TaskT | list[TaskT], Any, Any]:
    """``build`` (an experiment's ``config -> (task, model, training)``) for one config, or for a
    list of configs with one per seed: then ``(tasks, model, training)``, with ``ValueError`` unless
    the members share the model and the training settings and no (config, seed) pair repeats."""
    if isinstance(config, Mapping):
        return build(dict(config))
    configs = [dict(c) for c in config]
    if len(configs) != len(seeds):
        raise ValueError(f"config: {len(configs)} configs for {len(seeds)} seeds (one per seed).")
    built = [build(c) for c in configs]
    _, model, training = built[0]
    for c, (_, other_model, other_training) in zip(configs, built, strict=True):
        if other_model != model or other_training != training:
            differ = sorted(k for k in {*c, *configs[0]} if c.get(k) != configs[0].get(k))
            raise ValueError(f"config: packed configs must share the model and training settings; "
                             f"these differ: {differ}.")
    pairs = {(config_key(c), s) for c, s in zip(configs, seeds, strict=True)}
    if len(pairs) != len(configs):
        raise ValueError("config: a packed ensemble repeats a (config, seed) pair.")
    return [b[0] for b in built], model, training


def pack_key(config: Mapping[str, Any], packable: Sequence[str] = PACKABLE) -> str:
    """What configs must share to train in one packed ensemble: ``config`` without ``packable``."""
    return config_key({k: v for k, v in config.items() if k not in packable})
